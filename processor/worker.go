package processor

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/topics"
)

// base is what the partition workers of both stages share: the
// connections and writers, the metrics, and the contexts of a shutdown.
type base struct {
	cfg  Config
	conn *broker.Clients
	m    *Metrics
	log  *slog.Logger
	// out writes keyed records (attempts, DLQ, suppressions, alerts);
	// parts writes records to the partition they name (the changelog,
	// domain commands).
	out, parts *kafka.Writer
	// dlqTopic is where both stages' dead letters go (dlq.go).
	dlqTopic string
	// hard ends only on a hard stop: flushes run under it, bounded by the
	// drain timeout once their generation ends (flushContext).
	hard context.Context
	// stopping ends when Run's context does: a worker that returns after
	// it ended is shutting down, not being rebalanced.
	stopping context.Context
}

// loop drives one partition: read a batch, hand it to flush, repeat, until
// the generation ends. It never returns early on errors, because a worker
// that returns ends the generation for the whole group.
//
// after, when not nil, runs between batches (stage 2 writes its checkpoints
// there). loop returns the error that abandoned a flush, nil otherwise.
//
// restarted, when not nil, runs before the first batch when the partition
// turned out to begin again below the committed offset (position).
func (b *base) loop(gctx context.Context, stage string, o *owner, offset int64, after func(), restarted func(context.Context) error, flush func(context.Context, []kafka.Message) error) error {
	return b.loopIdle(gctx, stage, o, offset, 0, after, restarted, flush)
}

// loopIdle is loop whose after also runs once idle passes without a record
// (0: only between batches).
func (b *base) loopIdle(gctx context.Context, stage string, o *owner, offset int64, idle time.Duration, after func(), restarted func(context.Context) error, flush func(context.Context, []kafka.Message) error) error {
	log := b.log.With("stage", stage, "topic", o.topic, "partition", o.partition)
	offset, restart := b.position(gctx, log, stage, o, offset)
	if restart && restarted != nil {
		if err := restarted(gctx); err != nil {
			log.Error("partition restart not announced; the worker stops", "err", err)
			return err
		}
	}
	r := b.open(gctx, log, stage, o, offset)
	if r == nil {
		return nil
	}
	r.idle = idle
	defer r.close()
	lag := b.m.Lag.WithLabelValues(o.topic, strconv.Itoa(o.partition))
	consumed := b.m.Consumed.WithLabelValues(stage)
	var buf []kafka.Message
	for {
		msgs, err := r.next(gctx, buf)
		if len(msgs) > 0 {
			consumed.Add(float64(len(msgs)))
			fctx, cancel := flushContext(b.hard, gctx, b.cfg.DrainTimeout)
			t0 := time.Now()
			o.pos = msgs[0].Offset
			ferr := flush(fctx, msgs)
			cancel()
			if ferr != nil {
				// Nothing was committed: whoever owns the partition next
				// replays the batch, and the outputs absorb the replay.
				log.Error("flush abandoned; the batch will be replayed", "err", ferr)
				if errors.Is(ferr, errFenced) {
					b.m.Fenced.WithLabelValues(stage).Inc()
				}
				return ferr
			}
			b.m.BatchTime.WithLabelValues(stage).Observe(time.Since(t0).Seconds())
			lag.Set(float64(r.lag()))
		}
		buf = msgs
		if gctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Warn("fetch failed; retrying", "err", err)
			if !sleep(gctx, 500*time.Millisecond) {
				return nil
			}
		}
		if after != nil {
			after()
		}
	}
}

// open starts reading the partition at offset, retrying until it can or
// the generation ends (nil).
func (b *base) open(gctx context.Context, log *slog.Logger, stage string, o *owner, offset int64) *batcher {
	// kafka-go skips ahead when retention deleted records it had yet to
	// read, and only tells its error logger.
	skipped := func(text string) {
		b.m.Resets.WithLabelValues(stage, "retention").Inc()
		log.Error("records deleted by retention before they were read; they are lost to bounced", "kafka", text)
	}
	for {
		r, err := newBatcher(b.conn, o.topic, o.partition, offset, b.cfg, skipped)
		if err == nil {
			return r
		}
		log.Warn("cannot open partition; retrying", "err", err)
		if !sleep(gctx, time.Second) {
			return nil
		}
	}
}

// position checks the offset a worker starts at against what the
// partition holds. Past the end, the topic was recreated or truncated: the
// worker reads the new records, and restart says so. Before the
// first offset, retention deleted records bounced never read: they are
// lost, and said so. Either way it is logged and counted, never silent.
func (b *base) position(ctx context.Context, log *slog.Logger, stage string, o *owner, offset int64) (int64, bool) {
	if offset < 0 {
		return offset, false
	}
	first, end, err := b.conn.Bounds(ctx, o.topic, o.partition)
	if err != nil {
		log.Warn("cannot check the committed offset against the partition's bounds", "err", err)
		return offset, false
	}
	switch {
	case offset > end:
		// A recreated topic starts at 0: read it all. A log truncated
		// below the committed offset (an unclean leader election) keeps
		// its older records, which were read: go on from its end.
		start := first
		if first > 0 {
			start = end
		}
		b.m.Resets.WithLabelValues(stage, "past_end").Inc()
		log.Error("the committed offset is past the partition's end: the topic was recreated or truncated",
			"committed", offset, "first", first, "end", end, "reading_from", start)
		return start, true
	case offset < first:
		b.m.Resets.WithLabelValues(stage, "retention").Inc()
		log.Error("records deleted by retention before they were read; they are lost to bounced",
			"committed", offset, "first", first, "lost", first-offset)
		return first, false
	}
	return offset, false
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// stepTimer returns a function that records the time since its previous
// call (or since stepTimer) under the given step name.
func (b *base) stepTimer(stage string) func(step string) {
	last := time.Now()
	return func(step string) {
		now := time.Now()
		b.m.StepTime.WithLabelValues(stage, step).Observe(now.Sub(last).Seconds())
		last = now
	}
}

// commit commits next, the first offset not processed, retrying until the
// member is fenced or ctx ends.
func (b *base) commit(ctx context.Context, stage string, o *owner, next int64) error {
	return retry(ctx, b.log, func() { b.m.Retries.WithLabelValues(stage, "commit").Inc() }, "commit", func(context.Context) error {
		return o.commit(next)
	})
}

// guarded runs one store step under the member's lease (see lease),
// retrying it with backoff until it succeeds, the member is fenced, or ctx
// ends. The step is not cut off when the lease ends (see owner.hold).
func (b *base) guarded(ctx context.Context, o *owner, stage, step string, fn func(context.Context) error) error {
	return b.leased(ctx, o, stage, step, false, fn)
}

func (b *base) leased(ctx context.Context, o *owner, stage, step string, bounded bool, fn func(context.Context) error) error {
	return retry(ctx, b.log, func() { b.m.Retries.WithLabelValues(stage, step).Inc() }, step, func(ctx context.Context) error {
		wctx, cancel, err := o.hold(ctx, bounded)
		if err != nil {
			return err
		}
		defer cancel()
		return fn(wctx)
	})
}

// write produces msgs with w under the member's lease; a write that the
// lease's end would outlive is cut off. It retries until the records are
// written: bounced's own outputs are bounded well below the topics' limits.
func (b *base) write(ctx context.Context, o *owner, stage, step string, w *kafka.Writer, msgs []kafka.Message) error {
	return b.produce(ctx, o, stage, step, w, msgs, false)
}

// writeOrRefuse is write for records that can go to the DLQ instead: a
// record no retry can get written ends it with an *unwritableError.
func (b *base) writeOrRefuse(ctx context.Context, o *owner, stage, step string, w *kafka.Writer, msgs []kafka.Message) error {
	return b.produce(ctx, o, stage, step, w, msgs, true)
}

func (b *base) produce(ctx context.Context, o *owner, stage, step string, w *kafka.Writer, msgs []kafka.Message, refuse bool) error {
	if len(msgs) == 0 {
		return nil
	}
	return b.leased(ctx, o, stage, step, true, func(ctx context.Context) error {
		err := w.WriteMessages(ctx, msgs...)
		if bad := refusedForGood(err, msgs); bad != nil && refuse {
			return &unwritableError{bad: bad, err: err}
		}
		if errors.Is(err, kafka.MessageSizeTooLarge) {
			b.log.Error("a record or batch is too large for its topic: check max.message.bytes against kafka.max_message_bytes (`bounced topics`); retrying",
				"stage", stage, "step", step, "err", err)
		}
		return err
	})
}

// refusedForGood finds the records that err says can never be written:
// kafka-go refuses, before sending anything, a record larger than the
// writer's batch budget. Errors of whole produce batches are not records'
// faults (a topic's limit lowered under a running member can be raised
// again) and are retried.
func refusedForGood(err error, msgs []kafka.Message) map[int]error {
	var tl kafka.MessageTooLargeError
	if !errors.As(err, &tl) {
		return nil
	}
	for i := range msgs {
		if sameMessage(&msgs[i], &tl.Message) {
			return map[int]error{i: err}
		}
	}
	return nil
}

func sameMessage(a, b *kafka.Message) bool {
	return len(a.Value) == len(b.Value) && len(a.Key) == len(b.Key) &&
		(len(a.Value) == 0 || &a.Value[0] == &b.Value[0]) && (len(a.Key) == 0 || &a.Key[0] == &b.Key[0])
}

// dead is the dead-letter record of m, which stage refused with err, and
// counts it.
func (b *base) dead(topic, stage string, m *kafka.Message, err error) kafka.Message {
	reason := "invalid"
	var re *ingest.RecordError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	b.m.DLQ.WithLabelValues(stage, reason).Inc()
	b.log.Debug("record sent to the DLQ", "stage", stage, "reason", reason, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	return topics.DeadLetter(topic, topics.Dead{Stage: stage, Reason: reason, Err: err, Msg: m})
}
