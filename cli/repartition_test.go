package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/topics"
)

// repartitionMain runs `bounced repartition` against brokers and returns
// its exit code, standard output and standard error.
func repartitionMain(ctx context.Context, brokers []string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	args = append([]string{"repartition", "--kafka.brokers", strings.Join(brokers, ","), "--set", "log.level=warn"}, args...)
	code := Main(ctx, args, IO{Out: &out, Err: &errb, Environ: []string{}})
	return code, out.String(), errb.String()
}

// assertPlaced fails the test unless every recipient's state sits in
// exactly one partition of the n the state topic has, the one murmur2 puts
// it in, and every partition carries the finished layout and the same
// input positions. It returns how many recipients there are.
func assertPlaced(ctx context.Context, t *testing.T, brokers []string, topic string, n int) int {
	t.Helper()
	// Fresh clients: a transport's cached metadata may predate the growth.
	conn, err := broker.Config{}.Connect(brokers)
	if err != nil {
		t.Fatal(err)
	}
	got, err := conn.Partitions(ctx, topic)
	if err != nil || got != n {
		t.Fatalf("%s has %d partitions (%v), want %d", topic, got, err, n)
	}
	owner := map[string]int{}
	var sources string
	for p := range n {
		cp, err := readChangelog(ctx, conn, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Layout != (topics.Layout{Partitions: n, Complete: true}) {
			t.Errorf("partition %d: layout %+v", p, cp.Layout)
		}
		src, _ := json.Marshal(cp.Sources)
		if p == 0 {
			sources = string(src)
		} else if string(src) != sources {
			t.Errorf("partition %d has input positions %s, partition 0 %s", p, src, sources)
		}
		for k := range cp.States {
			if q, dup := owner[k]; dup {
				t.Errorf("%s is in partitions %d and %d", k, q, p)
			}
			owner[k] = p
			if want := topics.PartitionOf([]byte(k), n); want != p {
				t.Errorf("%s is in partition %d, murmur2 %% %d puts it in %d", k, p, n, want)
			}
		}
	}
	return len(owner)
}

// TestRepartitionMovesStates moves a changelog of 6 partitions, left half
// moved by a run that stopped (the state topic grown, some states written
// at their new partition and not yet removed from the old one), to 12:
// afterwards every key is in one partition, the one murmur2 % 12 names,
// holds and input positions are on every partition, and a second run has
// nothing left to do.
func TestRepartitionMovesStates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	cfg := testConfig(t, t.TempDir(), "", "")
	cfg.Kafka.Conn.Brokers = emb.Addrs()
	cfg.Kafka.Topics.Partitions = 6
	e, err := newEnv(ctx, cfg, testIO(), dialEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if _, err := topics.Ensure(ctx, e.adm, cfg.Kafka.Topics, true); err != nil {
		t.Fatal(err)
	}
	const topic = "bounced.state"
	recipients := 3000
	if v := os.Getenv("BOUNCED_REPARTITION_KEYS"); v != "" {
		recipients, _ = strconv.Atoi(v)
	}
	w := e.conn.NewPartitionWriter()
	defer w.Close()
	var msgs []kafka.Message
	for i := range recipients {
		addr := fmt.Sprintf("user%d@mail%d.example.com", i, i%40)
		st := streak.State{LastOff: int64(i)}
		m, err := topics.StateMessage(topic, topics.PartitionOf([]byte(addr), 6), addr, &st)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	held := []string{"user1@mail1.example.com", "user41@mail1.example.com"}
	for p := range 6 {
		sm, _ := topics.SourcesMessage(topic, p, map[string]topics.SourcePos{"bounced.input/0": {Off: int64(100 + p)}})
		hm, _ := topics.HoldsMessage(topic, p, &guard.Holds{Off: int64(p), Domains: map[string]*guard.Hold{"mail1.example.com": {Rule: "r", Held: held}}})
		msgs = append(msgs, sm, hm)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	// A deleted recipient stays deleted.
	gone := msgs[7]
	if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Partition: gone.Partition, Key: gone.Key}); err != nil {
		t.Fatal(err)
	}

	// The dry run reports and changes nothing; shrinking is refused.
	code, out, errs := repartitionMain(ctx, emb.Addrs(), "--partitions", "12", "--dry-run")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("dry run: %d recipients", recipients-1)) || !strings.Contains(out, "0 -> ") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if n, _ := e.conn.Partitions(ctx, topic); n != 6 {
		t.Fatalf("the dry run changed %s to %d partitions", topic, n)
	}
	code, _, errs = repartitionMain(ctx, emb.Addrs(), "--partitions", "4")
	if code != 1 || !strings.Contains(errs, "would shrink it") {
		t.Fatalf("shrinking: exit %d, %s", code, errs)
	}
	code, _, errs = repartitionMain(ctx, emb.Addrs())
	if code != 2 || !strings.Contains(errs, "--partitions 0") {
		t.Fatalf("without --partitions: exit %d, %s", code, errs)
	}

	// A run that stopped half-way: the state topic grown, its unfinished
	// layout written, a hundred states written at their new partition but
	// still in the old one. Stage 2 refuses such a partition.
	if _, err := e.adm.UpdatePartitions(ctx, 12, topic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var half []kafka.Message
	for p := range 12 {
		m, _ := topics.LayoutMessage(topic, p, topics.Layout{Partitions: 12})
		half = append(half, m)
	}
	for _, m := range msgs[:recipients] {
		if to := topics.PartitionOf(m.Key, 12); to != m.Partition && len(half) < 112 && !bytes.Equal(m.Key, gone.Key) {
			v, err := topics.MovedState(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			m.Partition, m.Value = to, v
			half = append(half, m)
		}
	}
	// A new writer: the first one's metadata predates the growth.
	conn, err := broker.Config{}.Connect(emb.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	w2 := conn.NewPartitionWriter()
	defer w2.Close()
	if err := w2.WriteMessages(ctx, half...); err != nil {
		t.Fatal(err)
	}
	if _, err := statestore.NewPartition().CatchUp(ctx, conn, topic, 3); err == nil || !strings.Contains(err.Error(), "bounced repartition --partitions 12") {
		t.Fatalf("stage 2 restored a partition in the middle of a move: %v", err)
	}

	t0 := time.Now()
	code, out, errs = repartitionMain(ctx, emb.Addrs(), "--partitions", "12")
	if code != 0 {
		t.Fatalf("repartition: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("moved %d recipients in %s:\n%s", recipients, time.Since(t0).Round(time.Millisecond), out)
	if !strings.Contains(out, "grew bounced.attempts to 12") || !strings.Contains(out, "of ") {
		t.Errorf("output lacks the growth or the progress:\n%s", out)
	}
	if got := assertPlaced(ctx, t, emb.Addrs(), topic, 12); got != recipients-1 {
		t.Errorf("%d recipients after the move, want %d", got, recipients-1)
	}
	for p := range 12 {
		ps := statestore.NewPartition()
		if _, err := ps.CatchUp(ctx, conn, topic, p); err != nil {
			t.Fatal(err)
		}
		if ps.Sources["bounced.input/0"].Off != 105 {
			t.Errorf("partition %d: input positions %v, want the highest (105)", p, ps.Sources)
		}
		h := ps.Holds.Domains["mail1.example.com"]
		if h == nil {
			t.Fatalf("partition %d does not hold mail1.example.com", p)
		}
		for _, k := range h.Held {
			if topics.PartitionOf([]byte(k), 12) != p {
				t.Errorf("partition %d lists %s as held; it lives on %d", p, k, topics.PartitionOf([]byte(k), 12))
			}
		}
		if wantOff := int64(p); p >= 6 && ps.Holds.Off != -1 || p < 6 && ps.Holds.Off != wantOff {
			t.Errorf("partition %d: holds applied up to %d", p, ps.Holds.Off)
		}
	}

	// An attempt stage 2 has not committed: refused.
	aw := conn.NewPartitionWriter()
	defer aw.Close()
	if err := aw.WriteMessages(ctx, kafka.Message{Topic: "bounced.attempts", Partition: 0, Key: []byte("x@example.org"), Value: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	code, _, errs = repartitionMain(ctx, emb.Addrs(), "--partitions", "12")
	if code != 1 || !strings.Contains(errs, "has not committed 1 attempts") {
		t.Fatalf("with an attempt left: exit %d, %s", code, errs)
	}

	// Again (the check skipped): nothing to move.
	code, out, errs = repartitionMain(ctx, emb.Addrs(), "--partitions", "12", "--force")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d recipients, 0 to move", recipients-1)) {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errs)
	}
	assertPlaced(ctx, t, emb.Addrs(), topic, 12)
}

// TestRepartition grows the attempts topic from 6 to 12 partitions in the
// middle of a stream: the first half (by event time, so recipients' events
// fall on both sides of the cut) through a member, the member stopped, the
// move, the second half through a member that runs with 12 partitions; the
// result is exactly the stream's ground truth, suppressions and ClickHouse
// counts.
func TestRepartition(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stream, err := demo.Generate(demo.Tiny(31))
	if err != nil {
		t.Fatal(err)
	}
	// Good records are in event-time order: cut in the middle.
	half := len(stream.Records) / 2
	if straddle := straddling(stream.Records, half); straddle < 20 {
		t.Fatalf("only %d recipients have events on both sides of the cut", straddle)
	}
	cfg := testConfig(t, dir, chAddr, db)
	cfg.Kafka.Topics.Partitions = 6
	n, err := startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.run(rctx) }()
	if err := produce(ctx, n, stream.Records[:half]); err != nil {
		t.Fatal(err)
	}
	if err := waitDrained(ctx, n.e, nil); err != nil {
		t.Fatal(err)
	}
	// While the member runs, the move is refused.
	code, _, errs := repartitionMain(ctx, n.e.conn.Brokers, "--partitions", "12")
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(errs, "active members") || !strings.Contains(errs, "stop every `bounced run` first") {
		n.close()
		t.Fatalf("with a member running: exit %d, %s", code, errs)
	}
	// The member stopped; its broker still runs.
	code, out, errs := repartitionMain(ctx, n.e.conn.Brokers, "--partitions", "12")
	if code != 0 {
		n.close()
		t.Fatalf("repartition: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("%s", out)
	moved := assertPlaced(ctx, t, n.e.conn.Brokers, "bounced.state", 12)
	n.close()
	if moved == 0 || !strings.Contains(out, "moved ") {
		t.Fatalf("nothing moved:\n%s", out)
	}

	cfg = testConfig(t, dir, chAddr, db)
	cfg.Kafka.Topics.Partitions = 12
	n, err = startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	if err := produce(ctx, n, stream.Records[half:]); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	assertTruth(ctx, t, n, stream)
	// The checkpoints the first member wrote predate the move: each was
	// dropped for the whole changelog, whose states all came back.
	if got := counterWith(n, "bounced_state_restored_total", "from", "changelog"); got < float64(moved) {
		t.Errorf("restored %v states from the changelog, the changelog holds %d", got, moved)
	}
}

// straddling counts the recipients of JSON records with events both before
// and after index cut.
func straddling(recs []demo.Record, cut int) int {
	side := map[string]int{}
	for i, r := range recs {
		var a struct {
			Recipient string `json:"recipient"`
		}
		if r.Bad != "" || json.Unmarshal(r.Value, &a) != nil || a.Recipient == "" {
			continue
		}
		bit := 1
		if i >= cut {
			bit = 2
		}
		side[strings.ToLower(a.Recipient)] |= bit
	}
	n := 0
	for _, s := range side {
		if s == 3 {
			n++
		}
	}
	return n
}
