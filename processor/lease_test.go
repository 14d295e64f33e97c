package processor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/bounced-dev/bounced/internal/netcut"
)

// TestSelfFencing cuts a member off from the broker while it owns a
// partition. The coordinator evicts it and gives the partition to a second
// member; the lease of the first must have ended before the second could
// start, and once the network heals the first learns it is fenced instead
// of writing.
func TestSelfFencing(t *testing.T) {
	const session = 2 * time.Second
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	group := func(dialer *kafka.Dialer) *kafka.ConsumerGroup {
		g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: "fence", Brokers: c.ListenAddrs(), Dialer: dialer, Topics: []string{"t"},
			SessionTimeout: session, HeartbeatInterval: session / 5, RebalanceTimeout: session,
			JoinGroupBackoff: 100 * time.Millisecond, Timeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}

	cut := &netcut.Net{}
	ga := group(&kafka.Dialer{DialFunc: cut.Dial, Timeout: time.Second})
	genA, err := ga.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &owner{gen: genA, lease: newLease(session), topic: "t", partition: 0, pos: 0}
	if err := a.commit(0); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	wctx, done, err := a.hold(ctx, true)
	if err != nil {
		t.Fatalf("a member in good standing may write: %v", err)
	}
	if dl, ok := wctx.Deadline(); !ok || time.Until(dl) > session {
		t.Errorf("a write's deadline %v is not bounded by the lease", dl)
	}
	done()

	cut.Set(true)
	gb := group(&kafka.Dialer{Timeout: time.Second})
	genB, err := gb.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Now()
	if got := genB.Assignments["t"]; len(got) != 1 {
		t.Fatalf("second member got %v", got)
	}
	if dl := a.lease.deadline(); !dl.Before(took) {
		t.Fatalf("the cut-off member's lease runs to %v, after the new owner started at %v", dl.Format(time.StampMilli), took.Format(time.StampMilli))
	}
	if _, _, err := a.hold(ctx, true); err == nil {
		t.Fatal("the cut-off member was allowed to write after its lease ended")
	}
	cut.Set(false)
	_, _, err = a.hold(ctx, true)
	if !errors.Is(err, errFenced) {
		t.Fatalf("after the network healed: %v, want errFenced", err)
	}
	if err := a.commit(5); !errors.Is(err, errFenced) {
		t.Fatalf("commit after eviction: %v, want errFenced", err)
	}
}
