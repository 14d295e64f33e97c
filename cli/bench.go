package cli

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/schemas"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// benchCmd measures the whole pipeline and, in the same run against the
// same broker and server, its two ceilings: how fast kafka-go alone reads
// the input, and how fast ClickHouse alone takes the rows. The ratios are
// the point; absolute numbers depend on the machine and its neighbours.
func benchCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("bench", io)
	recipients := fs.Int("recipients", 20000, "distinct recipients in the generated stream (≈7 attempts each)")
	seed := fs.Int64("seed", 1, "seed of the generated stream")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the end-to-end run to this file")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
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

	n, err := startFresh(ctx, cfg, io)
	if err != nil {
		return err
	}
	defer n.close()
	t0 := time.Now()
	if err := produce(ctx, n, stream.Records); err != nil {
		return err
	}
	produceTook := time.Since(t0)

	// 1. End to end: input → stage 1 → attempts → stage 2 → suppressions,
	// changelog, ClickHouse, commits.
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	e2eTook, err := runUntilDrained(ctx, n, nil)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	e2e := float64(records) / e2eTook.Seconds()

	// 2. Raw kafka-go consume of the same input from the same broker.
	consumeTook, consumed, err := rawConsume(ctx, n, records)
	if err != nil {
		return err
	}
	consume := float64(consumed) / consumeTook.Seconds()

	// 3. Raw ClickHouse inserts of the same attempts, same batch size.
	insertTook, inserted, err := rawInsert(ctx, cfg, stream)
	if err != nil {
		return err
	}
	insert := float64(inserted) / insertTook.Seconds()

	fmt.Fprintf(out, "\n%-52s %12s %10s\n", "measure", "records/s", "seconds")
	fmt.Fprintf(out, "%-52s %12.0f %10.2f\n", "produce (kafka-go writer, acks=all)", float64(records)/produceTook.Seconds(), produceTook.Seconds())
	fmt.Fprintf(out, "%-52s %12.0f %10.2f\n", "end to end (both stages, Kafka + ClickHouse outputs)", e2e, e2eTook.Seconds())
	fmt.Fprintf(out, "%-52s %12.0f %10.2f\n", "raw kafka-go consume of the input", consume, consumeTook.Seconds())
	fmt.Fprintf(out, "%-52s %12.0f %10.2f\n", fmt.Sprintf("raw ClickHouse insert (%d-row batches, with MVs)", cfg.Pipeline.BatchSize), insert, insertTook.Seconds())
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
	fmt.Fprintf(out, "\nratios: end-to-end / raw consume = %.3f; end-to-end / raw insert = %.3f\n", e2e/consume, e2e/insert)
	return nil
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

// rawInsert writes the stream's attempts straight into a scratch database.
func rawInsert(ctx context.Context, cfg *config.Config, stream *demo.Stream) (time.Duration, int, error) {
	ing, err := ingest.New(cfg.Ingest, nil, schemas.Attempt)
	if err != nil {
		return 0, 0, err
	}
	rows := make([]clickhouse.AttemptRow, 0, len(stream.Records))
	for i, r := range stream.Records {
		a, err := ing.Decode(r.Value)
		if err != nil {
			continue
		}
		rows = append(rows, clickhouse.AttemptRow{Topic: "bench", Partition: 0, Offset: int64(i), Attempt: &a})
	}
	chc := cfg.ClickHouse
	chc.Database += "_raw"
	if err := clickhouse.DropDatabase(ctx, chc); err != nil {
		return 0, 0, err
	}
	c, err := clickhouse.Open(ctx, chc, cfg.Logger(os.Stderr))
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		return 0, 0, err
	}
	batch := cfg.Pipeline.BatchSize
	t0 := time.Now()
	for i := 0; i < len(rows); i += batch {
		if err := c.InsertAttempts(ctx, rows[i:min(i+batch, len(rows))]); err != nil {
			return 0, 0, err
		}
	}
	return time.Since(t0), len(rows), nil
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
