// Package suppressions reads and writes the suppression list: the compacted
// topic keyed by address that every sending platform syncs. View turns the
// topic back into a table (for the HTTP API and `bounced suppress`), and
// Commands sends operator commands that the owning stage-2 worker applies in
// order with the address's events.
package suppressions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
)

// View is an in-memory table of the suppression topic: the newest record
// per address, tombstones removed. It is safe for concurrent use.
type View struct {
	conn  *broker.Clients
	topic string
	log   *slog.Logger

	mu    sync.RWMutex
	recs  map[string]event.Suppression
	ready atomic.Bool
}

// NewView returns an empty view of topic.
func NewView(conn *broker.Clients, topic string, log *slog.Logger) *View {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &View{conn: conn, topic: topic, log: log, recs: map[string]event.Suppression{}}
}

func (v *View) apply(key, val []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if val == nil {
		delete(v.recs, string(key))
		return nil
	}
	var s event.Suppression
	if err := json.Unmarshal(val, &s); err != nil {
		return fmt.Errorf("suppression record for %q: %w", key, err)
	}
	v.recs[string(key)] = s
	return nil
}

// Load reads every partition to its current end: after it returns, the view
// holds the whole list as of the call.
func (v *View) Load(ctx context.Context) error {
	_, err := v.load(ctx)
	return err
}

func (v *View) load(ctx context.Context) ([]int64, error) {
	n, err := v.conn.Partitions(ctx, v.topic)
	if err != nil {
		return nil, err
	}
	ends := make([]int64, n)
	g, gctx := errgroup.WithContext(ctx)
	for p := range n {
		g.Go(func() error {
			end, err := v.conn.Scan(gctx, v.topic, p, func(_ int64, key, val []byte) error {
				if err := v.apply(key, val); err != nil {
					v.log.Warn("unreadable suppression record skipped", "err", err)
				}
				return nil
			})
			ends[p] = end
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	v.ready.Store(true)
	return ends, nil
}

// Follow loads the view and then keeps it current until ctx ends.
func (v *View) Follow(ctx context.Context) error {
	var ends []int64
	for {
		var err error
		if ends, err = v.load(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		v.log.Warn("suppression view: load failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	var wg sync.WaitGroup
	for p, end := range ends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: v.conn.Brokers, Dialer: v.conn.Dialer, Topic: v.topic, Partition: p,
				MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffset(end); err != nil {
				v.log.Error("suppression view: seek failed", "partition", p, "err", err)
				return
			}
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					v.log.Warn("suppression view: fetch failed", "partition", p, "err", err)
					time.Sleep(time.Second)
					continue
				}
				if err := v.apply(m.Key, m.Value); err != nil {
					v.log.Warn("unreadable suppression record skipped", "err", err)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// Ready reports whether the view has caught up with the topic once.
func (v *View) Ready() bool { return v.ready.Load() }

// Get returns the record of a normalised address.
func (v *View) Get(address string) (event.Suppression, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s, ok := v.recs[address]
	return s, ok
}

// Len is the number of addresses in the list.
func (v *View) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.recs)
}

// All returns the list sorted by address.
func (v *View) All() []event.Suppression {
	v.mu.RLock()
	out := make([]event.Suppression, 0, len(v.recs))
	for _, s := range v.recs {
		out = append(out, s)
	}
	v.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}
