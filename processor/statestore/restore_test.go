package statestore_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

// changelog starts an embedded broker and writes n recipients' states to
// partition 0 of a changelog topic, as stage 2 writes them.
func changelog(tb testing.TB, n int) (*broker.Clients, string) {
	tb.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	conn, err := broker.Config{}.Connect(e.Addrs())
	if err != nil {
		tb.Fatal(err)
	}
	const topic = "bounced.state"
	ctx := context.Background()
	client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		tb.Fatal(err)
	}
	w := conn.NewPartitionWriter()
	defer w.Close()
	batch := make([]kafka.Message, 0, 10000)
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range n {
		s := streak.State{LastOff: int64(i), Seen: []streak.Seen{streak.SeenOf(strconv.Itoa(i), time.Unix(0, at)), streak.SeenOf(strconv.Itoa(i)+"b", time.Unix(0, at))}, LastDelivery: at}
		v, err := s.AppendBinary(nil)
		if err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, kafka.Message{Topic: topic, Key: []byte("user" + strconv.Itoa(i) + "@mail" + strconv.Itoa(i%100) + ".example.com"), Value: v})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return conn, topic
}

// BenchmarkRestore reads a changelog partition of a million recipients
// into a fresh table, the way a member without a checkpoint restores.
// BOUNCED_RESTORE_KEYS changes the count.
func BenchmarkRestore(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("BOUNCED_RESTORE_KEYS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	conn, topic := changelog(b, n)
	ctx := context.Background()
	var heap uint64
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ps := statestore.NewPartition()
		got, err := ps.CatchUp(ctx, conn, topic, 0)
		if err != nil {
			b.Fatal(err)
		}
		if got != n || ps.Table.Len() != n {
			b.Fatalf("restored %d records, %d recipients; want %d", got, ps.Table.Len(), n)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(ps)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(heap)/float64(n), "B/recipient")
}

func TestCatchUpTail(t *testing.T) {
	conn, topic := changelog(t, 5000)
	ctx := context.Background()
	full := statestore.NewPartition()
	if _, err := full.CatchUp(ctx, conn, topic, 0); err != nil {
		t.Fatal(err)
	}
	if full.Next != 5000 || full.Table.Len() != 5000 {
		t.Fatalf("full restore: next %d, %d recipients", full.Next, full.Table.Len())
	}
	// A state that ends at 5000 reads nothing more.
	if n, err := full.CatchUp(ctx, conn, topic, 0); err != nil || n != 0 {
		t.Fatalf("caught-up state read %d records (%v)", n, err)
	}
	// A state that claims more than the changelog holds belongs to another
	// life of the topic: refused, so the caller restores from scratch.
	stale := statestore.NewPartition()
	stale.Table, stale.Next = full.Table, 9000
	if _, err := stale.CatchUp(ctx, conn, topic, 0); err == nil {
		t.Fatal("a state beyond the changelog's end was accepted")
	}
}
