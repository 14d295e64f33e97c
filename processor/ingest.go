package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/topics"
)

// ingestStage is stage 1: input records to canonical attempts.
type ingestStage struct {
	*base
	topics   topics.Config
	ingester *ingest.Ingester
	// stateDir keeps the adapters' correlation state per input partition
	// across restarts; empty keeps it in memory only.
	stateDir string
	topicID  func(ctx context.Context, topic string) (string, error) // may be nil
}

// ingestWorker is stage 1 on one input partition for one generation. Its
// session holds the partition's adapter state (Postfix correlates lines by
// queue id), so every record of the partition goes through it in order.
type ingestWorker struct {
	*ingestStage
	o    *owner
	sess *ingest.Session
	src  string // the partition's key in source positions (topics.SourceKey)
	// keeper saves the session's adapter state with the offsets it covers.
	keeper *sessionKeeper
}

// work is stage 1's partitionWorker.
func (s *ingestStage) work(gctx context.Context, o *owner, offset int64) {
	w := &ingestWorker{ingestStage: s, o: o, sess: s.ingester.NewSession(o.topic),
		src: topics.SourceKey(o.topic, s.incarnation(gctx, o.topic), o.partition)}
	w.keeper = restoreSession(gctx, s.base, o, w.sess, w.src, s.topics.IngestState, s.stateDir)
	defer w.saveFinal(gctx)
	w.loop(gctx, "ingest", o, offset, nil, w.announceRestart, func(ctx context.Context, msgs []kafka.Message) error {
		step := w.stepTimer("ingest")
		out := w.fold(msgs)
		step("process")
		return w.flush(ctx, msgs, out, msgs[len(msgs)-1].Offset+1, step)
	})
}

// announceRestart tells every stage-2 owner, before any attempt from the
// restarted partition, to forget the positions it applied from its
// previous life (topics.SourceResetMessages).
func (w *ingestWorker) announceRestart(ctx context.Context) error {
	n, err := w.conn.Partitions(ctx, w.topics.Attempts)
	if err != nil {
		return err
	}
	fctx, cancel := flushContext(w.hard, ctx, w.cfg.DrainTimeout)
	defer cancel()
	return w.write(fctx, w.o, "ingest", "source_reset", w.parts, topics.SourceResetMessages(w.topics.Attempts, n, w.src))
}

// incarnation is topic's incarnation, "" when there is none or it cannot
// be had: then positions compare across a recreation, which the
// past-the-end check and stage 2's replay window still catch.
func (s *ingestStage) incarnation(ctx context.Context, topic string) string {
	if s.topicID == nil {
		return ""
	}
	for attempt := 1; ; attempt++ {
		id, err := s.topicID(ctx, topic)
		if err == nil {
			return id
		}
		if attempt == 3 || !sleep(ctx, time.Second) {
			s.log.Warn("topic id unknown; source positions go without it", "topic", topic, "err", err)
			return ""
		}
	}
}

// ingested is what one batch of input records produces: attempts[i] came
// from the input record at from[i].
type ingested struct {
	attempts []kafka.Message
	from     []int
	dead     []kafka.Message
}

// fold decodes a batch through the partition's session. An input record
// with any refusal (its own, or an attempt that would not fit in the
// attempts topic) goes to the DLQ once, with every reason; its other
// attempts still go on.
func (w *ingestWorker) fold(msgs []kafka.Message) ingested {
	out := ingested{attempts: make([]kafka.Message, 0, len(msgs)), from: make([]int, 0, len(msgs))}
	limit := w.topics.MaxMessageBytes
	for i := range msgs {
		m := &msgs[i]
		atts, skip, err := w.sess.Decode(m.Value, m.Time)
		if skip != "" {
			w.m.Skipped.WithLabelValues(skip).Inc()
		}
		errs := []error{err}
		for j := range atts {
			a := &atts[j]
			msg, err := topics.AttemptMessage(w.topics.Attempts, a, topics.FormatSourceIn(w.src, m.Offset, j), w.cfg.AttemptsEncoding)
			if err == nil && !topics.Fits(msg, limit) {
				err = &ingest.RecordError{Reason: ingest.ReasonAttemptTooLarge, Err: fmt.Errorf(
					"attempt %d for %s encodes to %d bytes, more than the attempts topic takes (kafka.max_message_bytes %d)", j, a.RecipientNorm, topics.Size(msg), limit)}
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if a.Verdict != nil {
				w.m.Classified.WithLabelValues(string(a.Verdict.Class), string(a.Verdict.Label)).Inc()
			}
			out.attempts = append(out.attempts, msg)
			out.from = append(out.from, i)
		}
		if err := errors.Join(errs...); err != nil {
			out.dead = append(out.dead, w.dead(w.topics.DLQ, "ingest", m, firstReason(errs, err)))
		}
	}
	return out
}

// firstReason is joined with the reason of the first refusal in errs, so
// that a record refused for several reasons is counted under one.
func firstReason(errs []error, joined error) error {
	for _, e := range errs {
		var re *ingest.RecordError
		if errors.As(e, &re) {
			return &ingest.RecordError{Reason: re.Reason, Err: joined}
		}
	}
	return joined
}

// unwritable moves the attempts a broker refused for good (bad holds their
// indexes) out of the batch, and their input records to the DLQ.
func (out *ingested) unwritable(w *ingestWorker, msgs []kafka.Message, bad map[int]error) {
	keep, from := out.attempts[:0], out.from[:0]
	deadFrom := map[int]bool{}
	for i, a := range out.attempts {
		err, refused := bad[i]
		if !refused {
			keep, from = append(keep, a), append(from, out.from[i])
			continue
		}
		if src := out.from[i]; !deadFrom[src] {
			deadFrom[src] = true
			re := &ingest.RecordError{Reason: ingest.ReasonUnwritable, Err: fmt.Errorf("the broker refused its attempt: %w", err)}
			out.dead = append(out.dead, w.dead(w.topics.DLQ, "ingest", &msgs[src], re))
		}
	}
	out.attempts, out.from = keep, from
}

// flush makes a batch durable: the attempts, then the records refused, then
// the offset. A crash in between replays the batch; stage 2 recognises the
// attempts produced again by their source position.
func (w *ingestWorker) flush(ctx context.Context, msgs []kafka.Message, out ingested, next int64, step func(string)) error {
	for {
		err := w.writeOrRefuse(ctx, w.o, "ingest", "attempts", w.out, out.attempts)
		var uw *unwritableError
		if !errors.As(err, &uw) {
			if err != nil {
				return err
			}
			break
		}
		w.log.Error("the broker refused attempts for good; their input records go to the DLQ", "topic", w.o.topic, "partition", w.o.partition, "records", len(uw.bad), "err", uw)
		out.unwritable(w, msgs, uw.bad)
	}
	if err := w.writeDead(ctx, w.o, "ingest", &msgs[0], out.dead); err != nil {
		return err
	}
	if err := w.keeper.save(ctx, next, false); err != nil {
		return err
	}
	step("produce")
	w.m.Attempts.Add(float64(len(out.attempts)))
	err := w.commit(ctx, "ingest", w.o, next)
	step("commit")
	return err
}

// saveFinal saves the adapter state as of the last commit when the worker
// lets the partition go, if the lease still allows a write.
func (w *ingestWorker) saveFinal(gctx context.Context) {
	if w.o.pos < 0 {
		return
	}
	ctx, cancel := flushContext(w.hard, gctx, w.cfg.DrainTimeout)
	defer cancel()
	if err := w.keeper.save(ctx, w.o.pos, true); err != nil {
		w.log.Warn("adapter state not saved on hand-over; the next owner starts from the last save", "topic", w.o.topic, "partition", w.o.partition, "err", err)
	}
}
