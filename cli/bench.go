package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/schemas"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// largeRecipients makes `bench --large` a stream of about a million records
// (the generator writes ≈6.9 attempts per recipient) for the scaling check.
const largeRecipients = 146_000

// benchCmd measures the whole pipeline and, in the same run against the
// same broker and server, its ceilings and its peer: how fast kafka-go alone
// reads the input, how fast ClickHouse alone takes the rows, and how fast
// ClickHouse's own Kafka engine moves the same attempts from the same
// broker into a MergeTree. It also divides the CPU bounced and the
// ClickHouse server used by the records. The ratios are the point; absolute
// numbers depend on the machine and its neighbours.
func benchCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("bench", io)
	recipients := fs.Int("recipients", 20000, "distinct recipients in the generated stream (≈7 attempts each)")
	large := fs.Bool("large", false, fmt.Sprintf("the scaling check: %d recipients, about 1M records", largeRecipients))
	seed := fs.Int64("seed", 1, "seed of the generated stream")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the end-to-end run to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the end-to-end run to this file")
	withPeer := fs.Bool("peer", true, "measure ClickHouse's Kafka engine too (most of the bench's time); --peer=false for quick comparisons")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if *large {
		if fs.Changed("recipients") {
			return fmt.Errorf("%w: --large and --recipients both set the stream's size; give one", ErrUsage)
		}
		*recipients = largeRecipients
	}
	if err := isolate(cfg, "bench", fs.Changed("clickhouse.database")); err != nil {
		return err
	}
	cfg.HTTP.Addr = ""
	if !fs.Changed("log.level") {
		cfg.Log.Level = "warn"
	}
	out := io.Out
	stream, err := demo.Generate(demo.Config{Recipients: *recipients, Seed: *seed, BadRecords: -1})
	if err != nil {
		return err
	}
	records := len(stream.Records)
	fmt.Fprintf(out, "bounced bench: %d records (%d recipients), %d attempts partitions, batch %d, flush %s\n",
		records, *recipients, cfg.Kafka.Topics.Partitions, cfg.Pipeline.BatchSize, cfg.Pipeline.FlushInterval)
	attempts, err := benchAttempts(cfg, stream)
	if err != nil {
		return err
	}
	meter := newCPUMeter(cfg.ClickHouse.Addr)
	bp, err := startBrokerProcess(ctx, cfg)
	if err != nil {
		return err
	}
	defer bp.close()
	meter.brokerPID = bp.pid()
	fmt.Fprintf(out, "cpu: of this process (the pipeline alone), of the broker (pid %d, `bounced broker` on %s) and of the ClickHouse server: %s\n", bp.pid(), bp.addr, meter.chWhy)
	fmt.Fprintf(out, "machine: %d CPUs, load average %s%s\n", runtime.NumCPU(), loadAverage(), meter.idle(ctx, time.Second))

	n, err := startFresh(ctx, cfg, io)
	if err != nil {
		return err
	}
	defer n.close()
	conn, err := openBenchConn(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	cpu0, t0 := meter.now(), time.Now()
	if err := produce(ctx, n, stream.Records); err != nil {
		return err
	}
	produceTook, produceCPU := time.Since(t0), meter.now().since(cpu0)

	// 1. End to end: input → stage 1 → attempts → stage 2 → suppressions,
	// changelog, ClickHouse, commits.
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 = meter.now()
	e2eTook, err := runUntilDrained(ctx, n, nil)
	e2eCPU := meter.now().since(cpu0)
	runtime.ReadMemStats(&ms1)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		if err := writeAllocs(*memprofile); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	e2e := float64(records) / e2eTook.Seconds()

	// 2. Raw kafka-go consume of the same input from the same broker.
	cpu0 = meter.now()
	consumeTook, consumed, err := rawConsume(ctx, n, records)
	if err != nil {
		return err
	}
	consumeCPU := meter.now().since(cpu0)
	consume := float64(consumed) / consumeTook.Seconds()

	// 3. Raw ClickHouse inserts of the same attempts, same batch size.
	settle(ctx, conn)
	insertTook, inserted, insertCPU, err := rawInsert(ctx, cfg, attempts, meter)
	if err != nil {
		return err
	}
	insert := float64(inserted) / insertTook.Seconds()

	// 4. The peer: ClickHouse's Kafka engine on the same attempts.
	peer, peerErr := peerResult{}, errors.New("not measured (--peer=false)")
	if *withPeer {
		settle(ctx, conn)
		peer, peerErr = benchPeer(ctx, n, cfg, conn, attempts, meter, out)
		if peerErr != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}

	row := func(name string, rate, secs float64, cpu cpuUse, recs int) {
		fmt.Fprintf(out, "%-58s %10.0f %8.2f %10s %10s %10s\n", name, rate, secs,
			perRecord(cpu.self, cpu.selfOK, recs), perRecord(cpu.ch, cpu.chOK, recs), perRecord(cpu.broker, cpu.brokerOK, recs))
	}
	fmt.Fprintf(out, "\n%-58s %10s %8s %32s\n", "", "", "", "cpu us/record")
	fmt.Fprintf(out, "%-58s %10s %8s %10s %10s %10s\n", "measure", "records/s", "seconds", "bounced", "clickhouse", "broker")
	row("produce (kafka-go writer, acks=all)", float64(records)/produceTook.Seconds(), produceTook.Seconds(), produceCPU, records)
	row("end to end (both stages, Kafka + ClickHouse outputs)", e2e, e2eTook.Seconds(), e2eCPU, records)
	row("raw kafka-go consume of the input", consume, consumeTook.Seconds(), consumeCPU, consumed)
	row(fmt.Sprintf("raw ClickHouse insert (%d-row batches, with MVs)", cfg.Pipeline.BatchSize), insert, insertTook.Seconds(), insertCPU, inserted)
	peerRatio := "n/a"
	if peerErr == nil {
		last := peer.runs[len(peer.runs)-1]
		cpu, rows := peer.cpuUsed, peer.cpuRows
		row("clickhouse kafka engine -> MergeTree (JSONEachRow), steady", peer.steady, last.took.Seconds(), cpu, rows)
		fmt.Fprintf(out, "  kafka engine: ClickHouse %s, %d consumers on %d partitions; records/s: the slope over %d sizes (fastest of %d tries each), start-up %.2f s; seconds: the 100%% run\n",
			peer.server, peer.consumers, cfg.Kafka.Topics.Partitions, len(peer.runs), peerTries, peer.startup.Seconds())
		peerRatio = fmt.Sprintf("%.3f", e2e/peer.steady)
	} else {
		fmt.Fprintf(out, "%-58s %10s\n  %v\n", "clickhouse kafka engine -> MergeTree (JSONEachRow)", "n/a", peerErr)
	}
	fmt.Fprintf(out, "end to end: %.0f bytes and %.1f allocations per record on the Go heap, %d GC cycles\n",
		float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(records), float64(ms1.Mallocs-ms0.Mallocs)/float64(records), ms1.NumGC-ms0.NumGC)
	for _, st := range []string{"ingest", "decide"} {
		count, sum := histogram(n, "bounced_flush_seconds", "stage", st)
		if count > 0 {
			fmt.Fprintf(out, "%s flushes: %d, %.1f ms each on average, %.2f s in all:", st, count, 1000*sum/float64(count), sum)
			for _, step := range []string{"process", "produce", "clickhouse", "suppressions", "changelog", "commit"} {
				if c, s := histogram2(n, "bounced_flush_step_seconds", st, step); c > 0 {
					fmt.Fprintf(out, " %s %.2f s", step, s)
				}
			}
			fmt.Fprintln(out)
		}
	}
	fmt.Fprintf(out, "\nratios: end-to-end / raw consume = %.3f; end-to-end / raw insert = %.3f; end-to-end / clickhouse kafka engine = %s; bounced cpu = %s us/record; clickhouse cpu = %s us/record\n",
		e2e/consume, e2e/insert, peerRatio, perRecord(e2eCPU.self, e2eCPU.selfOK, records), perRecord(e2eCPU.ch, e2eCPU.chOK, records))
	return nil
}

// settle waits (up to half a minute) until the server merges no parts, so
// that one measure's merges are not counted in the next one's CPU.
func settle(ctx context.Context, conn ch.Conn) {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		var merges uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&merges); err != nil || merges == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rawConsume reads the whole input topic with plain kafka-go readers, one per
// partition, as fast as they go.
func rawConsume(ctx context.Context, n *node, want int) (time.Duration, int, error) {
	topic := n.e.cfg.Kafka.Topics.WithDefaults().Input[0]
	parts, err := n.e.conn.Partitions(ctx, topic)
	if err != nil {
		return 0, 0, err
	}
	ends := make([]int64, parts)
	for p := range parts {
		if ends[p], err = n.e.conn.Scan(ctx, topic, p, func(int64, []byte, []byte) error { return nil }); err != nil {
			return 0, 0, err
		}
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	t0 := time.Now()
	for p := range parts {
		if ends[p] == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: n.e.conn.Brokers, Dialer: n.e.conn.Dialer, Topic: topic,
				Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					errs <- err
					return
				}
				total.Add(1)
				if m.Offset+1 >= ends[p] {
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	close(errs)
	for err := range errs {
		return 0, 0, err
	}
	return took, int(total.Load()), nil
}

// benchAttempts decodes the stream's records into canonical attempts, as
// stage 1 does without the classifier: the rows of the raw insert and of
// the Kafka engine peer.
func benchAttempts(cfg *config.Config, stream *demo.Stream) ([]event.Attempt, error) {
	ing, err := ingest.New(cfg.Ingest, nil, schemas.Attempt)
	if err != nil {
		return nil, err
	}
	out := make([]event.Attempt, 0, len(stream.Records))
	for _, r := range stream.Records {
		if a, err := ing.Decode(r.Value); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// rawInsert writes the attempts straight into a scratch database.
func rawInsert(ctx context.Context, cfg *config.Config, attempts []event.Attempt, meter cpuMeter) (time.Duration, int, cpuUse, error) {
	rows := make([]clickhouse.AttemptRow, len(attempts))
	for i := range attempts {
		rows[i] = clickhouse.AttemptRow{Topic: "bench", Partition: 0, Offset: int64(i), Attempt: &attempts[i]}
	}
	chc := cfg.ClickHouse
	chc.Database += "_raw"
	if err := clickhouse.DropDatabase(ctx, chc); err != nil {
		return 0, 0, cpuUse{}, err
	}
	c, err := clickhouse.Open(ctx, chc, cfg.Logger(os.Stderr))
	if err != nil {
		return 0, 0, cpuUse{}, err
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		return 0, 0, cpuUse{}, err
	}
	batch := cfg.Pipeline.BatchSize
	cpu0, t0 := meter.now(), time.Now()
	for i := 0; i < len(rows); i += batch {
		if err := c.InsertAttempts(ctx, rows[i:min(i+batch, len(rows))]); err != nil {
			return 0, 0, cpuUse{}, err
		}
	}
	return time.Since(t0), len(rows), meter.now().since(cpu0), nil
}

// histogram returns the count and sum of a histogram series from the node's
// registry.
func histogram(n *node, name, label, value string) (uint64, float64) {
	mfs, _ := n.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return 0, 0
}

func histogram2(n *node, name, stage, step string) (uint64, float64) {
	mfs, _ := n.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := 0
			for _, l := range m.GetLabel() {
				if (l.GetName() == "stage" && l.GetValue() == stage) || (l.GetName() == "step" && l.GetValue() == step) {
					ok++
				}
			}
			if ok == 2 {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0, 0
}

// writeAllocs writes the allocations since the start of the process (the
// generated stream's among them; the end-to-end run's dominate).
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
