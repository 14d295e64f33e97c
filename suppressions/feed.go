package suppressions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
)

// Change is one change to the list as read from the topic: an address's
// new record, or its lift.
type Change struct {
	Partition int
	Offset    int64
	Address   string
	// Record is the address's new record; nil when it was lifted (a
	// tombstone).
	Record *event.Suppression
	// At is when the change was written to the topic; zero when the read
	// did not carry it (the catch-up scan).
	At time.Time
}

// Enforced reports whether the change leaves the address suppressed. A
// held record (the incident guard's) is not enforced yet.
func (c Change) Enforced() bool {
	return c.Record != nil && c.Record.Status == event.StatusSuppressed
}

// Handler receives a Feed's changes. Calls for one partition are
// sequential and in offset order (so in order per address, the topic's
// key); partitions call concurrently. An error from a Handler stops the
// feed and is what Run returns.
type Handler interface {
	// Change handles one change.
	Change(ctx context.Context, c Change) error
	// Reached says partition has been handled up to offset (exclusive):
	// records before it that were not passed to Change were superseded by
	// later ones that were.
	Reached(partition int, offset int64)
	// CaughtUp is called once, when every partition has been read to the
	// end it had when Run started.
	CaughtUp(ctx context.Context) error
}

// Start says where a Feed begins on each partition.
type Start struct {
	// From holds, per partition, the offset to resume from (the one after
	// the last record handled). A resumed partition passes every change
	// since, lifts included, newest per address only.
	From map[int]int64
	// FromNow starts the partitions missing from From at their end.
	// Otherwise they start with a snapshot: the current record of every
	// address, lifted addresses left out.
	FromNow bool
	// Follow keeps reading new records after the catch-up until the
	// context ends; without it Run returns once caught up.
	Follow bool
}

// Feed reads the compacted suppressions topic as a stream of changes: a
// catch-up (a snapshot or a resume) and then, optionally, live.
type Feed struct {
	conn  *broker.Clients
	topic string
	log   *slog.Logger
}

// NewFeed returns a feed of topic.
func NewFeed(conn *broker.Clients, topic string, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{conn: conn, topic: topic, log: log}
}

// Run feeds h from start until it is caught up (and, with Follow, until ctx
// ends). It returns nil when ctx ends and the first error of h otherwise.
func (f *Feed) Run(ctx context.Context, start Start, h Handler) error {
	n, err := f.conn.Partitions(ctx, f.topic)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("suppressions feed: %w", err)
	}
	var mu sync.Mutex
	pending := n
	g, gctx := errgroup.WithContext(ctx)
	for p := range n {
		g.Go(func() error {
			end, err := f.catchUp(gctx, p, start, h)
			if err != nil {
				return err
			}
			h.Reached(p, end)
			mu.Lock()
			pending--
			last := pending == 0
			mu.Unlock()
			if last {
				if err := h.CaughtUp(gctx); err != nil {
					return err
				}
			}
			if !start.Follow {
				return nil
			}
			return f.follow(gctx, p, end, h)
		})
	}
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// catchUp reads partition p from its start position to its current end and
// passes the newest record of each address to h, in offset order. It
// returns the offset to follow from.
func (f *Feed) catchUp(ctx context.Context, p int, start Start, h Handler) (int64, error) {
	first, end, err := f.conn.Bounds(ctx, f.topic, p)
	if err != nil {
		return 0, fmt.Errorf("suppressions feed: %w", err)
	}
	from, resumed := start.From[p]
	switch {
	case !resumed && start.FromNow:
		return end, nil
	case resumed && from > end:
		// The topic is younger than the position: it was recreated.
		f.log.Warn("suppressions feed: saved position is past the end of the topic (recreated?); sending a snapshot",
			"partition", p, "saved", from, "end", end)
		from, resumed = -1, false
	case resumed && from < first:
		f.log.Warn("suppressions feed: saved position was deleted from the topic; resuming at its first offset",
			"partition", p, "saved", from, "first", first)
		from = first
	case !resumed:
		from = -1
	}
	type latest struct {
		off int64
		val []byte
	}
	byKey := map[string]latest{}
	next, err := f.conn.ScanFrom(ctx, f.topic, p, from, func(off int64, key, val []byte) error {
		byKey[string(key)] = latest{off, val}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("suppressions feed: %w", err)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return byKey[keys[i]].off < byKey[keys[j]].off })
	for _, k := range keys {
		l := byKey[k]
		if len(l.val) == 0 && !resumed {
			continue // a snapshot leaves lifted addresses out
		}
		c, ok := f.decode(p, l.off, []byte(k), l.val, time.Time{})
		if !ok {
			continue
		}
		if err := h.Change(ctx, c); err != nil {
			return 0, err
		}
	}
	if from >= 0 && next < from {
		next = from
	}
	return next, nil
}

// follow passes every record from offset on, as it is written, until ctx
// ends.
func (f *Feed) follow(ctx context.Context, p int, offset int64, h Handler) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: f.conn.Brokers, Dialer: f.conn.Dialer, Topic: f.topic, Partition: p,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return fmt.Errorf("suppressions feed: seek %s/%d to %d: %w", f.topic, p, offset, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.log.Warn("suppressions feed: fetch failed; retrying", "partition", p, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		c, ok := f.decode(p, m.Offset, m.Key, m.Value, m.Time)
		if !ok {
			continue
		}
		if err := h.Change(ctx, c); err != nil {
			return err
		}
	}
}

// decode turns a record into a Change. An unreadable record is logged and
// skipped, as the View does: it is not a change anyone could act on.
func (f *Feed) decode(p int, off int64, key, val []byte, at time.Time) (Change, bool) {
	c := Change{Partition: p, Offset: off, Address: string(key), At: at}
	if len(val) == 0 {
		return c, true
	}
	var s event.Suppression
	if err := json.Unmarshal(val, &s); err != nil {
		f.log.Warn("unreadable suppression record skipped", "partition", p, "offset", off, "key", string(key), "err", err)
		return c, false
	}
	c.Record = &s
	return c, true
}
