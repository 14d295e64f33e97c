package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor"
	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/schemas"
	"github.com/bounced-dev/bounced/sinks/memory"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

// These tests run the whole engine, both stages, on the embedded broker (a
// real Kafka protocol in process) with the in-memory store in place of
// ClickHouse: they need no server and run with -short.

// rig is one embedded broker with bounced's topics and one shared store
// (the analytics store outlives members, as ClickHouse does).
type rig struct {
	conn  *broker.Clients
	adm   *kadm.Client
	kgo   *kgo.Client
	tc    topics.Config
	store *memory.Store
	ing   *ingest.Ingester
}

func newRig(t *testing.T) *rig {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	conn, err := broker.Config{}.Connect(e.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r := &rig{conn: conn, adm: kadm.NewClient(cl), kgo: cl, tc: topics.Config{}.WithDefaults(), store: &memory.Store{}}
	if _, err := topics.Ensure(t.Context(), r.adm, r.tc, true); err != nil {
		t.Fatal(err)
	}
	rules, err := classify.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	cls, err := classify.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	if r.ing, err = ingest.New(ingest.Config{}, classify.NewLive(cls), schemas.Attempt); err != nil {
		t.Fatal(err)
	}
	return r
}

// member is one running pipeline.
type member struct {
	p    *processor.Pipeline
	stop context.CancelFunc
	done chan error
}

func testConfig() processor.Config {
	return processor.Config{BatchSize: 400, FlushInterval: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, DrainTimeout: 2 * time.Second}
}

func (r *rig) start(t *testing.T, cfg processor.Config, stateDir string) *member {
	t.Helper()
	p, err := processor.New(cfg, r.tc, streak.Policy{}, processor.Deps{Conn: r.conn, Ingester: r.ing, Store: r.store, StateDir: stateDir,
		TopicID: func(ctx context.Context, topic string) (string, error) { return topics.Incarnation(ctx, r.kgo, topic) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m := &member{p: p, stop: cancel, done: make(chan error, 1)}
	go func() { m.done <- p.Run(ctx) }()
	return m
}

// halt stops the member (a graceful shutdown) and waits for it.
func (m *member) halt(t *testing.T) {
	t.Helper()
	m.stop()
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("member stopped with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("member did not stop")
	}
	m.p.Close()
}

func (r *rig) produce(t *testing.T, recs []demo.Record) {
	t.Helper()
	w := r.conn.NewInputWriter()
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, rec := range recs {
		msgs[i] = kafka.Message{Topic: r.tc.Input[0], Key: []byte(rec.Host), Value: rec.Value}
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// committed returns the decide group's committed offset per attempts
// partition, and the attempts topic's end offsets.
func (r *rig) committed(t *testing.T, group, topic string) (committed, ends map[int32]int64) {
	t.Helper()
	lo, err := r.adm.ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends = map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	committed = map[int32]int64{}
	offs, err := r.adm.FetchOffsets(t.Context(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return committed, ends
	}
	if err != nil {
		t.Fatal(err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			committed[o.Partition] = o.At
		}
	})
	return committed, ends
}

// drained waits until both stages have committed everything.
func (r *rig) drained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ci, ei := r.committed(t, "bounced-ingest", r.tc.Input[0])
		cd, ed := r.committed(t, "bounced-decide", r.tc.Attempts)
		if caughtUp(ci, ei) && caughtUp(cd, ed) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the pipeline did not drain in 2 minutes")
}

func caughtUp(committed, ends map[int32]int64) bool {
	for p, end := range ends {
		if end > 0 && committed[p] < end {
			return false
		}
	}
	return true
}

// assertTruth checks everything the pipeline wrote against the stream's
// ground truth: the suppressions topic and the store hold exactly the
// expected suppressions, the store holds every good attempt once, and every
// malformed record is in the DLQ once.
func (r *rig) assertTruth(t *testing.T, stream *demo.Stream) {
	t.Helper()
	view := suppressions.NewView(r.conn, r.tc.Suppressions, nil)
	if err := view.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored := r.store.Suppressions()
	for addr, want := range stream.Truth.Suppressed {
		got, ok := view.Get(addr)
		if !ok || got.Class != want.Class || got.Label != want.Label || got.Status != event.StatusSuppressed {
			t.Errorf("%s: topic has %+v (found %v), want %s/%s", addr, got, ok, want.Class, want.Label)
		}
		if s, ok := stored[addr]; !ok || s.Class != want.Class || s.Label != want.Label {
			t.Errorf("%s: store has %+v (found %v), want %s/%s", addr, s, ok, want.Class, want.Label)
		}
	}
	if view.Len() != len(stream.Truth.Suppressed) || len(stored) != len(stream.Truth.Suppressed) {
		t.Errorf("%d suppressions on the topic, %d in the store, want %d", view.Len(), len(stored), len(stream.Truth.Suppressed))
	}
	rows := r.store.Rows()
	ids := map[string]int{}
	perCampaign := map[string]int{}
	for _, row := range rows {
		ids[row.Attempt.EventID]++
		perCampaign[row.Attempt.CampaignID]++
	}
	// A complaint is stored as a row too (it counts only as a complaint).
	if n := stream.Truth.Attempts + stream.Truth.Complaints; len(rows) != n || len(ids) != n {
		t.Errorf("store holds %d rows with %d event ids, want %d attempts and %d complaints once each", len(rows), len(ids), stream.Truth.Attempts, stream.Truth.Complaints)
	}
	for c, tally := range stream.Truth.PerCampaign {
		if perCampaign[c] != tally.Attempts+tally.Complaints {
			t.Errorf("campaign %s: %d rows stored, want %d attempts and %d complaints", c, perCampaign[c], tally.Attempts, tally.Complaints)
		}
	}
	dlq := map[string]int{}
	r.scan(t, r.tc.DLQ, func(m kafka.Message) {
		dlq[topics.Header(&m, topics.HeaderTopic)+"/"+topics.Header(&m, topics.HeaderPartition)+"/"+topics.Header(&m, topics.HeaderOffset)]++
	})
	if len(dlq) != stream.Truth.Bad {
		t.Errorf("%d input positions in the DLQ, want %d", len(dlq), stream.Truth.Bad)
	}
	for pos, n := range dlq {
		if n != 1 {
			t.Errorf("input position %s is in the DLQ %d times, want once", pos, n)
		}
	}
}

// scan reads a whole topic.
func (r *rig) scan(t *testing.T, topic string, fn func(kafka.Message)) {
	t.Helper()
	n, err := r.conn.Partitions(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range n {
		end, err := r.conn.EndOffset(t.Context(), topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.conn.Brokers, Dialer: r.conn.Dialer, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := rd.FetchMessage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			fn(m)
			if m.Offset+1 >= end {
				break
			}
		}
		rd.Close()
	}
}

func tinyStream(t *testing.T, seed int64) *demo.Stream {
	t.Helper()
	s, err := demo.Generate(demo.Tiny(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEngine runs both stages over a generated stream into the memory
// store: the result is exactly the ground truth.
func TestEngine(t *testing.T) {
	r := newRig(t)
	stream := tinyStream(t, 7)
	m := r.start(t, testConfig(), t.TempDir())
	r.produce(t, stream.Records)
	r.drained(t)
	m.halt(t)
	r.assertTruth(t, stream)
}

// TestEngineCrashMidFlush crashes a member in the middle of a flush, after
// some of the batch's outputs are durable and before the offset is
// committed; a new member replays the batch and the result is still exactly
// the ground truth. The store fails from its k-th write of one kind on (a
// store gone away), so the member's flush can neither finish nor commit;
// stopping it abandons the flush after the drain timeout.
func TestEngineCrashMidFlush(t *testing.T) {
	for _, tc := range []struct {
		op     string
		k      int
		landed bool // the failed write itself is durable (an INSERT whose answer was lost)
	}{
		{"attempts", 3, true},
		{"attempts", 4, false},
		{"suppressions", 2, false},
		{"suppressions", 3, true},
	} {
		t.Run(fmt.Sprintf("%s-%d-landed=%v", tc.op, tc.k, tc.landed), func(t *testing.T) {
			r := newRig(t)
			stream := tinyStream(t, 11)
			var calls atomic.Int32
			crashed := make(chan struct{})
			var once sync.Once
			r.store.Fail = func(op string, n int) (error, bool) {
				if op != tc.op || calls.Add(1) < int32(tc.k) {
					return nil, false
				}
				once.Do(func() { close(crashed) })
				return memory.ErrInjected, tc.landed
			}
			dir := t.TempDir()
			a := r.start(t, testConfig(), dir)
			r.produce(t, stream.Records)
			select {
			case <-crashed:
			case <-time.After(time.Minute):
				t.Fatal("the store never failed")
			}
			time.Sleep(300 * time.Millisecond) // let the other partitions move on
			a.stop()
			<-a.done // the abandoned flush is an error; that is the point
			a.p.Close()
			if tc.op == "suppressions" {
				r.assertUncommittedRows(t)
			}

			r.store.Fail = nil
			b := r.start(t, testConfig(), dir)
			r.drained(t)
			b.halt(t)
			r.assertTruth(t, stream)
		})
	}
}

// assertUncommittedRows checks the write order at a crash between the
// store's attempt rows and the offset commit: some partition has rows
// stored at or past its committed offset.
func (r *rig) assertUncommittedRows(t *testing.T) {
	t.Helper()
	committed, _ := r.committed(t, "bounced-decide", r.tc.Attempts)
	maxRow := map[int32]int64{}
	for _, row := range r.store.Rows() {
		maxRow[row.Partition] = max(maxRow[row.Partition], row.Offset)
	}
	for p, off := range maxRow {
		if committed[p] <= off {
			return
		}
	}
	t.Errorf("every stored row is below its committed offset (%v, rows up to %v): the crashed batch was committed", committed, maxRow)
}

// TestEngineRebalance adds a second member mid-stream and takes it away
// again: partitions move twice, each new owner restores state from the
// changelog, and the result is exactly the ground truth.
func TestEngineRebalance(t *testing.T) {
	r := newRig(t)
	stream := tinyStream(t, 23)
	a := r.start(t, testConfig(), t.TempDir())
	third := len(stream.Records) / 3
	r.produce(t, stream.Records[:third])
	b := r.start(t, testConfig(), t.TempDir())
	r.produce(t, stream.Records[third:2*third])
	time.Sleep(2 * time.Second) // b joins and works on some partitions
	b.halt(t)
	r.produce(t, stream.Records[2*third:])
	r.drained(t)
	a.halt(t)
	r.assertTruth(t, stream)
}

// attempt is one canonical attempt record.
func attempt(id, rcpt, outcome string, at time.Time, code int, enhanced, text string) demo.Record {
	ev := map[string]any{
		"event_id": id, "occurred_at": at.Format(time.RFC3339Nano), "sent_at": at.Add(-time.Minute).Format(time.RFC3339Nano),
		"recipient": rcpt, "outcome": outcome, "campaign_id": "spring", "message_id": "<" + id + "@mta.example>",
		"source": map[string]any{"kind": "test", "host": "mta1"},
		"smtp":   map[string]any{"code": code, "enhanced": enhanced, "text": text},
	}
	b, _ := json.Marshal(ev)
	return demo.Record{Host: "mta1", Value: b}
}

// TestEngineGuard: a provider outage at one domain is held on every
// partition, with one alert; healthy domains' dead addresses are still
// suppressed; an operator's release enforces the held suppressions.
func TestEngineGuard(t *testing.T) {
	r := newRig(t)
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var recs []demo.Record
	var gone []string
	for i := range 600 {
		at := t0.Add(time.Duration(i) * 200 * time.Millisecond)
		recs = append(recs, attempt(fmt.Sprintf("o%d", i), fmt.Sprintf("user%d@outage.example", i), "bounced", at, 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."))
		recs = append(recs, attempt(fmt.Sprintf("d%d", i), fmt.Sprintf("user%d@ok%d.example", i, i%5), "delivered", at, 250, "2.0.0", "250 2.0.0 OK"))
		if i%60 == 0 {
			addr := fmt.Sprintf("gone%d@ok%d.example", i, i%5)
			gone = append(gone, addr)
			recs = append(recs, attempt(fmt.Sprintf("g%d", i), addr, "bounced", at, 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."))
		}
	}
	m := r.start(t, testConfig(), t.TempDir())
	defer m.halt(t)
	r.produce(t, recs)
	r.drained(t)

	status := func() (held, suppressed int, view *suppressions.View) {
		view = suppressions.NewView(r.conn, r.tc.Suppressions, nil)
		if err := view.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, s := range view.All() {
			if !strings.HasSuffix(s.Address, "@outage.example") {
				continue
			}
			switch s.Status {
			case event.StatusHeld:
				held++
			case event.StatusSuppressed:
				suppressed++
			}
		}
		return held, suppressed, view
	}
	held, suppressed, view := status()
	if held != 600 || suppressed != 0 {
		t.Fatalf("outage.example: %d held, %d suppressed; want 600 held", held, suppressed)
	}
	for _, addr := range gone {
		if s, ok := view.Get(addr); !ok || s.Status != event.StatusSuppressed {
			t.Errorf("%s at a healthy domain: %+v, want suppressed", addr, s)
		}
	}
	firing := 0
	for _, a := range r.store.Alerts() {
		if a.Rule == "incident_guard" && a.Subject == "outage.example" && a.State == event.AlertFiring {
			firing++
		}
	}
	if firing != 1 {
		t.Errorf("%d firing guard alerts for outage.example, want 1", firing)
	}

	n, err := r.conn.Partitions(t.Context(), r.tc.Attempts)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := topics.DomainMessages(r.tc.Attempts, n, streak.Control{Op: streak.OpRelease, Domain: "outage.example", At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	w := r.conn.NewPartitionWriter()
	defer w.Close()
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	r.drained(t)
	if held, suppressed, _ = status(); held != 0 || suppressed != 600 {
		t.Fatalf("after release: %d held, %d suppressed; want 600 suppressed", held, suppressed)
	}
}

// TestEnginePoisonRecord: a record well under ingest.max_record_bytes whose
// attempt grows past the attempts topic's 1 MiB max.message.bytes (JSON
// escapes each '<' as six bytes) goes to the DLQ with its reason, and the
// records around it, in the same input partition, are processed: nothing
// stalls.
func TestEnginePoisonRecord(t *testing.T) {
	r := newRig(t)
	stream := tinyStream(t, 11)
	meta := map[string]string{}
	for i := range 64 {
		meta[fmt.Sprintf("k%02d", i)] = strings.Repeat("<", 4096)
	}
	ev := map[string]any{
		"event_id": "poison-1", "occurred_at": "2026-10-01T10:00:00Z", "recipient": "poison@example.com",
		"outcome": "bounced", "source": map[string]any{"kind": "test", "host": "mta1"},
		"smtp":     map[string]any{"code": 550, "enhanced": "5.1.1", "text": "550 5.1.1 user unknown"},
		"metadata": meta,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as a shipper writes it: '<' is one byte here
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	poison := bytes.TrimSpace(buf.Bytes())
	if len(poison) >= ingest.DefaultMaxRecordBytes || len(poison) < 200<<10 {
		t.Fatalf("poison record is %d bytes; want it large but under ingest.max_record_bytes", len(poison))
	}
	mid := len(stream.Records) / 2
	recs := slices.Concat(stream.Records[:mid], []demo.Record{{Host: stream.Records[mid].Host, Value: poison}}, stream.Records[mid:])
	stream.Truth.Bad++

	cfg := testConfig()
	cfg.AttemptsEncoding = topics.EncodingJSON
	m := r.start(t, cfg, t.TempDir())
	r.produce(t, recs)
	r.drained(t)
	m.halt(t)
	r.assertTruth(t, stream)

	var reasons []string
	r.scan(t, r.tc.DLQ, func(m kafka.Message) {
		// The DLQ keeps the first DLQMaxBytes of a record.
		if len(m.Value) > 0 && bytes.HasPrefix(poison, m.Value) && topics.Header(&m, topics.HeaderSize) == strconv.Itoa(len(poison)) {
			reasons = append(reasons, topics.Header(&m, topics.HeaderReason))
		}
	})
	if len(reasons) != 1 || reasons[0] != ingest.ReasonAttemptTooLarge {
		t.Errorf("poison record in the DLQ with reasons %q, want once with %q", reasons, ingest.ReasonAttemptTooLarge)
	}
}

// TestEngineDeadLettersOnce: stage 1 replays its input after its previous
// owner wrote the dead letters but never committed (here: the whole input,
// as if the first member died just before every commit). Each refused
// position is still in the DLQ once, and the replayed attempts change
// nothing (stage 2 knows their source positions).
func TestEngineDeadLettersOnce(t *testing.T) {
	r := newRig(t)
	stream := tinyStream(t, 5)
	dir := t.TempDir()
	a := r.start(t, testConfig(), dir)
	r.produce(t, stream.Records)
	r.drained(t)
	a.halt(t)

	// Rewind stage 1 to the start of its input.
	_, ends := r.committed(t, "bounced-ingest", r.tc.Input[0])
	rewind := kadm.Offsets{}
	for p := range ends {
		rewind.Add(kadm.Offset{Topic: r.tc.Input[0], Partition: p, At: 0, LeaderEpoch: -1})
	}
	resp, err := r.adm.CommitOffsets(t.Context(), "bounced-ingest", rewind)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	b := r.start(t, testConfig(), dir)
	r.drained(t)
	b.halt(t)
	r.assertTruth(t, stream)
}

// TestEngineInputRecreated: the input topic is deleted and created again
// while bounced is down, so its offsets begin again at 0. Every attempt of
// the new topic's records is stored; none is taken for a replay of the old
// topic's positions.
func TestEngineInputRecreated(t *testing.T) {
	r := newRig(t)
	first := tinyStream(t, 21)
	dir := t.TempDir()
	a := r.start(t, testConfig(), dir)
	r.produce(t, first.Records)
	r.drained(t)
	a.halt(t)

	in := r.tc.Input[0]
	parts, err := r.conn.Partitions(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.adm.DeleteTopics(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := r.adm.CreateTopic(t.Context(), int32(parts), -1, nil, in)
		if err == nil && resp.Err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreate %s: %v %v", in, err, resp.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Fewer records than the old topic had: its offsets stay below the
	// ones stage 1 committed and stage 2 applied.
	second, err := demo.Generate(demo.Config{Recipients: 40, Seed: 22})
	if err != nil {
		t.Fatal(err)
	}
	r.produce(t, second.Records)
	b := r.start(t, testConfig(), dir)
	want := first.Truth.Attempts + first.Truth.Complaints + second.Truth.Attempts + second.Truth.Complaints
	deadline = time.Now().Add(time.Minute)
	for len(r.store.Rows()) < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // nothing more may come
	b.halt(t)
	if got := len(r.store.Rows()); got != want {
		t.Errorf("store holds %d rows, want %d (%d before the topic was recreated)", got, want, first.Truth.Attempts+first.Truth.Complaints)
	}
}

// TestEngineAdapterStateMoves: the Postfix lines that name a message's
// campaign are read by one member; the status line, after a hand-over, by
// another with a data_dir of its own. The campaign still reaches the
// attempt: the adapter state follows the partition through the
// ingest-state topic.
func TestEngineAdapterStateMoves(t *testing.T) {
	r := newRig(t)
	line := func(s string) demo.Record { return demo.Record{Host: "mx1", Value: []byte(s)} }
	a := r.start(t, testConfig(), t.TempDir())
	r.produce(t, []demo.Record{
		line("Nov 20 10:00:00 mx1 postfix/cleanup[101]: 4ABC1234: message-id=<a1@sender.example>"),
		line("Nov 20 10:00:01 mx1 postfix/qmgr[102]: 4ABC1234: from=<news@sender.example>, size=2048, nrcpt=1 (queue active)"),
		line("Nov 20 10:00:02 mx1 postfix/cleanup[101]: 4ABC1234: info: header X-Campaign-ID: nov-news from local; from=<news@sender.example> to=<a@example.org>"),
	})
	r.drained(t)
	a.halt(t)

	b := r.start(t, testConfig(), t.TempDir())
	r.produce(t, []demo.Record{
		line("Nov 20 10:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<a@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=5, delays=0.1/0/0.2/4.7, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(r.store.Rows()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	b.halt(t)
	rows := r.store.Rows()
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	if at := rows[0].Attempt; at.CampaignID != "nov-news" || at.MessageID != "<a1@sender.example>" || at.Sender != "news@sender.example" {
		t.Errorf("correlation lost across the hand-over: campaign %q, message id %q, sender %q", at.CampaignID, at.MessageID, at.Sender)
	}
}
