package alerts

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// stepSource returns the counts of the current step.
type stepSource struct {
	mu     sync.Mutex
	counts []Counts
}

func (s *stepSource) set(c []Counts) { s.mu.Lock(); s.counts = c; s.mu.Unlock() }

func (s *stepSource) AlertCounts(context.Context, time.Time, time.Time) ([]Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts, nil
}

// TestRunnerLeadership: only the leader publishes; a member that becomes
// leader restores what its predecessor published and does not fire it
// again, and resolves it when the rate falls.
func TestRunnerLeadership(t *testing.T) {
	src := &stepSource{}
	var mu sync.Mutex
	var published []event.Alert
	var leader atomic.Bool
	r := &Runner{
		Config: Config{Interval: 10 * time.Millisecond},
		Source: src,
		Leader: leader.Load,
		History: func(context.Context) ([]event.Alert, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]event.Alert(nil), published...), nil
		},
		Publish: func(_ context.Context, as []event.Alert) error {
			mu.Lock()
			defer mu.Unlock()
			published = append(published, as...)
			return nil
		},
		Log:     slog.New(slog.DiscardHandler),
		Metrics: NewMetrics(nil),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(published) }
	wait := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if count() == n {
				return
			}
		}
		t.Fatalf("published %d alerts, want %d", count(), n)
	}
	high := []Counts{{Scope: "domain", Subject: "x.example", Delivered: 900, Bounced: 100, Hard: 5}}
	src.set(high)
	time.Sleep(50 * time.Millisecond)
	if count() != 0 {
		t.Fatal("a member that is not the leader published")
	}
	leader.Store(true)
	wait(2) // bounce_rate_warning and _critical
	leader.Store(false)
	time.Sleep(50 * time.Millisecond)
	leader.Store(true) // leadership comes back: restore, no refire
	time.Sleep(50 * time.Millisecond)
	if count() != 2 {
		t.Fatalf("a new leader fired again: %+v", published)
	}
	src.set([]Counts{{Scope: "domain", Subject: "x.example", Delivered: 995, Bounced: 5}})
	wait(4)
	mu.Lock()
	defer mu.Unlock()
	for _, a := range published[2:] {
		if a.State != event.AlertResolved {
			t.Errorf("%+v", a)
		}
	}
}
