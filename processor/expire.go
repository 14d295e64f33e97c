package processor

import (
	"container/heap"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

// expireIdle is how long a partition worker waits for records before it
// looks at its due expiries anyway: an idle partition still ends its
// suppressions within about a minute of their expires_at.
const expireIdle = time.Minute

// expireBatch bounds the expire commands one sweep writes: a partition
// restored after a long outage may find a great many due at once, and they
// go out over a few sweeps instead of in one huge produce.
const expireBatch = 10_000

// expiries is one partition's due suppressions: every address whose state
// holds an enforced suppression with an expires_at, ordered by it. It is
// rebuilt from the state whenever a worker takes the partition, kept up to
// date with every state a fold changes, and read only by the worker's own
// goroutine. It decides only when an expire command is written; what the
// command does is the fold's decision (streak.ApplyControl).
type expiries struct {
	at map[string]time.Time // address -> the expires_at its state holds
	q  expiryQueue          // the same, by time; entries that no longer match at are dropped when they surface
}

func newExpiries() *expiries { return &expiries{at: map[string]time.Time{}} }

// rebuild indexes every state of t.
func (e *expiries) rebuild(t *statestore.Table) {
	e.at, e.q = map[string]time.Time{}, nil
	t.Range(func(key []byte, s streak.State) bool {
		e.set(string(key), s)
		return true
	})
}

// set records the state of key as it now is.
func (e *expiries) set(key string, s streak.State) {
	m := s.Mark
	if m == nil || m.Status != event.StatusSuppressed || m.ExpiresAt.IsZero() {
		// Not suppressed, held (a release puts it back), or never expiring.
		delete(e.at, key)
		return
	}
	if old, ok := e.at[key]; ok && old.Equal(m.ExpiresAt) {
		return
	}
	e.at[key] = m.ExpiresAt
	heap.Push(&e.q, expiry{key: key, at: m.ExpiresAt})
	if len(e.q) > 2*len(e.at)+1024 {
		// Entries of addresses changed since make up most of the queue.
		e.q = e.q[:0]
		for k, at := range e.at {
			e.q = append(e.q, expiry{key: k, at: at})
		}
		heap.Init(&e.q)
	}
}

// len is how many addresses have an expiry ahead.
func (e *expiries) len() int { return len(e.at) }

// due removes and returns up to limit expire commands whose expires_at is
// at or before now, oldest first, stamped with now. An address whose command
// is not then written must be put back (requeue); one that is comes back
// through the fold, which decides.
func (e *expiries) due(now time.Time, limit int) []streak.Control {
	var out []streak.Control
	for len(e.q) > 0 && len(out) < limit {
		next := e.q[0]
		if next.at.After(now) {
			break
		}
		heap.Pop(&e.q)
		if at, ok := e.at[next.key]; !ok || !at.Equal(next.at) {
			continue // changed since it was queued
		}
		delete(e.at, next.key)
		out = append(out, streak.Control{Op: streak.OpExpire, Address: next.key, Expires: next.at, At: now.UTC()})
	}
	return out
}

// requeue puts back commands due returned that were not written (no fold
// runs in between: both happen on the worker's goroutine).
func (e *expiries) requeue(cs []streak.Control) {
	for _, c := range cs {
		if _, ok := e.at[c.Address]; ok {
			continue
		}
		e.at[c.Address] = c.Expires
		heap.Push(&e.q, expiry{key: c.Address, at: c.Expires})
	}
}

type expiry struct {
	key string
	at  time.Time
}

// expiryQueue is a min-heap of expiries by time (container/heap).
type expiryQueue []expiry

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].key < q[j].key
}
func (q expiryQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)   { *q = append(*q, x.(expiry)) }
func (q *expiryQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
