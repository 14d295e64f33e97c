package cli

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

// testConfig is a member on an embedded broker under dir and a fresh
// ClickHouse database.
func testConfig(t *testing.T, dir, chAddr, db string) *config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs)
	err := fs.Parse([]string{
		"--data_dir", dir, "--http.addr", "", "--clickhouse.addr", chAddr, "--clickhouse.database", db,
		"--set", "kafka.embedded_addr=127.0.0.1:0", "--set", "kafka.partitions=3",
		"--set", "pipeline.flush_interval=100ms", "--set", "log.level=warn",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testIO() IO { return IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}} }

// TestEndToEnd produces a generated stream with a known answer, malformed
// records mixed in, through both stages on the embedded broker and the real
// ClickHouse, and compares the compacted suppression topic and the
// ClickHouse counts with the answer exactly.
func TestEndToEnd(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, t.TempDir(), chAddr, db)
	stream, err := demo.Generate(demo.Tiny(7))
	if err != nil {
		t.Fatal(err)
	}
	if stream.Truth.Bad == 0 || len(stream.Truth.Suppressed) == 0 {
		t.Fatalf("the stream must hold bad records and suppressions: %+v", stream.Truth)
	}
	n, err := startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if err := produce(ctx, n, stream.Records); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	// Read the list back as sending platforms do: a compacted topic.
	n.e.embedded.Compact()
	view := assertTruth(ctx, t, n, stream)

	// Every suppression explains itself.
	for _, s := range view.All() {
		if s.Reason == "" || s.Rule == "" || len(s.Evidence) == 0 || s.Since.IsZero() {
			t.Errorf("unexplained suppression: %+v", s)
		}
	}

	// The DLQ holds each bad record once, with its reason and position, and
	// the original bytes.
	dlq := readTopic(ctx, t, n, "bounced.dlq")
	if len(dlq) != stream.Truth.Bad {
		t.Errorf("DLQ holds %d records, want %d", len(dlq), stream.Truth.Bad)
	}
	for _, m := range dlq {
		h := headers(m)
		if h[topics.HeaderReason] == "" || h[topics.HeaderError] == "" || h[topics.HeaderTopic] != "bounced.input" || h[topics.HeaderOffset] == "" {
			t.Errorf("DLQ record without its reason or position: %v", h)
		}
		if h[topics.HeaderTruncated] != "true" && h[topics.HeaderSize] != strconv.Itoa(len(m.Value)) {
			t.Errorf("DLQ record is not the original: size header %s, value %d bytes", h[topics.HeaderSize], len(m.Value))
		}
	}

	// An operator lifts one suppression: a tombstone on the topic, the
	// address deleted in ClickHouse, and its state starts over.
	var lifted string
	for addr := range stream.Truth.Suppressed {
		lifted = addr
		break
	}
	w := n.e.conn.NewWriter()
	if _, err := sendControl(ctx, w, "bounced.attempts", streak.OpLift, lifted, "test", "tester", time.Now()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	n.e.embedded.Compact()
	view2 := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := view2.Get(lifted); ok || view2.Len() != len(stream.Truth.Suppressed)-1 {
		t.Errorf("after lifting %s: still there %v, %d addresses", lifted, ok, view2.Len())
	}
	if _, ok, err := n.e.ch.Suppression(ctx, lifted); err != nil || ok {
		t.Errorf("ClickHouse still holds the lifted %s (%v)", lifted, err)
	}
}

// TestRestart stops the member half-way (a graceful stop) and starts a new
// one on the same broker data and database: state comes back from the
// changelog, the broker from disk, and the result is exactly the same.
func TestRestart(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stream, err := demo.Generate(demo.Tiny(11))
	if err != nil {
		t.Fatal(err)
	}
	half := len(stream.Records) / 2
	var n *node
	for i, part := range [][]demo.Record{stream.Records[:half], stream.Records[half:]} {
		n, err = startNode(ctx, testConfig(t, dir, chAddr, db), testIO(), startEmbedded)
		if err != nil {
			t.Fatal(err)
		}
		if err := produce(ctx, n, part); err != nil {
			t.Fatal(err)
		}
		if _, err := runUntilDrained(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			n.close()
		}
	}
	defer n.close()
	assertTruth(ctx, t, n, stream)
	// The graceful stop wrote local checkpoints; the new member started
	// from them, not from the whole changelog.
	if got := counterWith(n, "bounced_state_restored_total", "from", "checkpoint"); got == 0 {
		t.Error("the restarted member restored nothing from its local checkpoints")
	}
}

// counterWith sums the counter name over the series whose label is value.
func counterWith(n *node, name, label, value string) float64 {
	mfs, _ := n.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// assertTruth reads the suppression topic back as a table and fails the
// test for every difference from the stream's ground truth.
func assertTruth(ctx context.Context, t *testing.T, n *node, stream *demo.Stream) *suppressions.View {
	t.Helper()
	view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	problems, err := verify(ctx, n, view, stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	return view
}

func readTopic(ctx context.Context, t *testing.T, n *node, topic string) []kafka.Message {
	t.Helper()
	parts, err := n.e.conn.Partitions(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p := range parts {
		end, err := n.e.conn.Scan(ctx, topic, p, func(int64, []byte, []byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: n.e.conn.Brokers, Topic: topic, Partition: p, MaxWait: 200 * time.Millisecond})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	return out
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// TestRebalance adds a second member mid-stream and takes it away again
// (a graceful leave): partitions move twice, each new owner restores state
// from the changelog and ClickHouse's watermark, and the result is still
// exactly the ground truth.
func TestRebalance(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	stream, err := demo.Generate(demo.Tiny(23))
	if err != nil {
		t.Fatal(err)
	}
	a, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	actx, stopA := context.WithCancel(ctx)
	aDone := make(chan error, 1)
	go func() { aDone <- a.run(actx) }()

	third := len(stream.Records) / 3
	if err := produce(ctx, a, stream.Records[:third]); err != nil {
		t.Fatal(err)
	}
	bcfg := testConfig(t, t.TempDir(), chAddr, db)
	bcfg.Kafka.Conn.Brokers = a.e.conn.Brokers
	b, err := startNode(ctx, bcfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	bctx, stopB := context.WithCancel(ctx)
	bDone := make(chan error, 1)
	go func() { bDone <- b.run(bctx) }()
	if err := produce(ctx, a, stream.Records[third:2*third]); err != nil {
		t.Fatal(err)
	}
	// Let b take partitions and work on them before it leaves.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && gaugeSum(b, "bounced_partitions_owned") == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	if gaugeSum(b, "bounced_partitions_owned") == 0 {
		t.Fatal("the second member never got a partition")
	}
	time.Sleep(time.Second)
	stopB()
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	b.close()
	if err := produce(ctx, a, stream.Records[2*third:]); err != nil {
		t.Fatal(err)
	}
	if err := waitDrained(ctx, a.e, nil); err != nil {
		t.Fatal(err)
	}
	stopA()
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	assertTruth(ctx, t, a, stream)
	// Through two rebalances a kept the partitions it did not give away in
	// memory instead of restoring them again.
	if got := counterWith(a, "bounced_state_restored_total", "from", "memory"); got == 0 {
		t.Error("no state was kept across generations")
	}
}

func gaugeSum(n *node, name string) float64 {
	mfs, _ := n.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestIngestReplay makes stage 1 read its whole input a second time, as it
// would after losing its committed offsets, so every attempt reaches the
// attempts topic twice. Stage 2 recognises the copies by their input
// position and the result is still exactly the ground truth.
func TestIngestReplay(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stream, err := demo.Generate(demo.Tiny(31))
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(ctx, testConfig(t, dir, chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	if err := produce(ctx, n, stream.Records); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	n.close()

	n, err = startNode(ctx, testConfig(t, dir, chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if _, err := n.e.adm.DeleteGroups(ctx, "bounced-ingest"); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	if dup := counterSum(n, "bounced_duplicates_total"); dup < float64(stream.Truth.Attempts) {
		t.Errorf("%v duplicates recognised, want every one of the %d attempts", dup, stream.Truth.Attempts)
	}
	assertTruth(ctx, t, n, stream)
}
