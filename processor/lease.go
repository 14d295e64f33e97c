package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// errFenced means the group coordinator no longer counts this member as
// the owner of its partitions: the worker must stop writing at once and
// throw its in-memory state away.
var errFenced = errors.New("fenced: this member lost its group membership")

// lease is how a member fences itself. The coordinator keeps a member for
// session_timeout after the last request that proved it alive (a heartbeat
// or an offset commit, which both name the member and its generation); only
// after that can it hand the member's partitions to someone else. kafka-go
// hides its heartbeats, so the lease counts from the commits this member
// makes itself: a write may start only while sent+ttl lies ahead, with ttl
// shorter than the session timeout, and carries that deadline with it. A
// member cut off from the coordinator (a network partition, a long pause)
// therefore stops writing before a new owner can start, even if it never
// learns it was evicted.
type lease struct {
	ttl   time.Duration
	mu    sync.Mutex
	until time.Time
}

// newLease returns a lease for a generation of a group with the given
// session timeout. It starts expired: the first write proves membership.
func newLease(session time.Duration) *lease {
	margin := max(time.Second, session/5)
	return &lease{ttl: max(session-margin, session/2)}
}

// renew extends the lease after a request sent at sent succeeded.
func (l *lease) renew(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := sent.Add(l.ttl); t.After(l.until) {
		l.until = t
	}
}

func (l *lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// owner is a worker's claim on one partition in one generation.
type owner struct {
	gen       *kafka.Generation
	lease     *lease
	topic     string
	partition int
	// pos is where the partition is processed up to: committing it again
	// changes nothing, so it is what a membership probe commits.
	pos int64
	// dead is what the DLQ already holds of this partition's records past
	// the offset the claim started at (see dlq.go).
	dead deadSeen
}

// deadSeen is the positions of a partition, at or past the offset its
// claim started at, that the DLQ already holds: a claim that replays a
// batch after its previous owner crashed must not dead-letter them twice.
// loaded turns true once the DLQ has been read for them.
type deadSeen struct {
	loaded bool
	at     map[int64]bool
}

// hold returns a context for one write: it ends when the lease does (when
// bounded). With less than half the lease left it first renews it by
// committing pos again, which the coordinator accepts only from a current
// member. Kafka writes are bounded: nothing else stops a late one. ClickHouse
// inserts are not cut off (an INSERT cancelled by its client may still land);
// the store instead waits, before it reads a partition's watermark, until no
// INSERT for that partition is running on the server, whoever sent it.
func (o *owner) hold(ctx context.Context, bounded bool) (context.Context, context.CancelFunc, error) {
	until := o.lease.deadline()
	if time.Until(until) < o.lease.ttl/2 {
		if o.pos < 0 {
			return nil, nil, errors.New("no position to confirm membership with")
		}
		sent := time.Now()
		if err := o.gen.CommitOffsets(map[string]map[int]int64{o.topic: {o.partition: o.pos}}); err != nil {
			if isFenced(err) {
				return nil, nil, fmt.Errorf("%w (%v)", errFenced, err)
			}
			return nil, nil, fmt.Errorf("confirm group membership: %w", err)
		}
		o.lease.renew(sent)
		until = o.lease.deadline()
	}
	if !bounded {
		return ctx, func() {}, nil
	}
	wctx, cancel := context.WithDeadline(ctx, until)
	return wctx, cancel, nil
}

// commit commits next (the first offset not processed) and renews the
// lease with it.
func (o *owner) commit(next int64) error {
	sent := time.Now()
	err := o.gen.CommitOffsets(map[string]map[int]int64{o.topic: {o.partition: next}})
	if err != nil {
		if isFenced(err) {
			return fmt.Errorf("%w (%v)", errFenced, err)
		}
		return err
	}
	o.lease.renew(sent)
	o.pos = next
	return nil
}

// isFenced reports the errors that mean the generation this member works
// in is over for it: the coordinator's answers, and a broken coordinator
// connection (kafka-go binds a generation to one connection and never
// redials it, so no commit of this generation can succeed any more).
func isFenced(err error) bool {
	return errors.Is(err, kafka.UnknownMemberId) || errors.Is(err, kafka.IllegalGeneration) ||
		errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.FencedInstanceID) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
