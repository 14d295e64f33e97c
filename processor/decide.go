package processor

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// decideStage is stage 2: attempts to decisions. Its workers share the
// states kept across generations and the local checkpoints.
type decideStage struct {
	*flusher
	policy streak.Policy
	keeper statestore.Keeper
	ckpt   statestore.Checkpoints
	// leader is true while this member owns attempts partition 0: one
	// member at a time does group-wide chores (rate alerts).
	leader atomic.Bool
	// now is the wall clock; it decides only when an expire command is
	// written, never what it does.
	now func() time.Time
}

// assigned is called with every new assignment of the stage.
func (s *decideStage) assigned(parts []int) {
	s.m.Owned.WithLabelValues("decide").Set(float64(len(parts)))
	s.leader.Store(slices.Contains(parts, 0))
	s.keeper.Release(parts, func(part int, ps *statestore.Partition) { go s.checkpoint(part, ps) })
}

// decideWorker is stage 2 on one attempts partition for one generation.
type decideWorker struct {
	*decideStage
	o    *owner
	log  *slog.Logger
	fold decide.Folder
	ps   *statestore.Partition
	recs []decide.Record
	keys int // recipients counted in the state-size gauge
	// exp holds the partition's suppressions that expire, by time.
	exp *expiries
}

// work is stage 2's partitionWorker: restore the partition's state, then
// fold and flush batches until the generation ends, then hand the state
// over.
func (s *decideStage) work(gctx context.Context, o *owner, offset int64) {
	w := &decideWorker{decideStage: s, o: o, log: s.log.With("stage", "decide", "partition", o.partition),
		fold: decide.Folder{Policy: s.policy, Guard: s.cfg.Guard, Topic: o.topic, Partition: o.partition,
			ReplayWindow: replayWindow(s.cfg)}}
	if w.ps = w.restore(gctx, offset); w.ps == nil {
		return // the generation ended first
	}
	w.exp = newExpiries()
	w.exp.rebuild(w.ps.Table)
	w.keys = w.ps.Table.Len()
	s.m.StateKeys.Add(float64(w.keys))
	defer func() { s.m.StateKeys.Sub(float64(w.keys)) }()
	if err := retry(gctx, w.log, func() { s.m.Retries.WithLabelValues("decide", "assign").Inc() }, "read back the store's watermark",
		func(ctx context.Context) error { return s.store.Assign(ctx, o.topic, int32(o.partition)) }); err != nil {
		s.keeper.Put(o.partition, w.ps) // nothing was applied: the state is still whole
		return
	}
	defer s.store.Revoke(o.topic, int32(o.partition))
	between := func() {
		w.checkpointDue(gctx)
		w.expireDue(gctx)
	}
	if err := s.loopIdle(gctx, "decide", o, offset, expireIdle, between, nil, w.batch); err != nil {
		// The table now holds events that were never committed; it must
		// not outlive this worker. The next owner restores from the
		// changelog and replays.
		return
	}
	w.handOver()
}

// batch folds one batch and flushes what it produced.
func (w *decideWorker) batch(ctx context.Context, msgs []kafka.Message) error {
	timer := w.stepTimer("decide")
	w.recs = records(w.recs[:0], msgs)
	out := w.fold.Fold(w.ps, w.recs)
	for i := range out.States {
		w.exp.set(out.States[i].Key, out.States[i].State)
	}
	w.count(&out)
	timer("process")
	err := w.flush(ctx, w.o, &out, msgs, timer)
	w.m.StateKeys.Add(float64(w.ps.Table.Len() - w.keys))
	w.keys = w.ps.Table.Len()
	return err
}

// records turns attempts-topic messages into the fold's records.
func records(buf []decide.Record, msgs []kafka.Message) []decide.Record {
	for i := range msgs {
		m := &msgs[i]
		buf = append(buf, decide.Record{Offset: m.Offset, Key: m.Key, Value: m.Value,
			Control: topics.Header(m, topics.HeaderControl), Source: topics.Header(m, topics.HeaderSource)})
	}
	return buf
}

// count adds what a fold did to the metrics.
func (w *decideWorker) count(out *decide.Outputs) {
	w.m.Duplicates.Add(float64(out.Stats.Duplicates))
	if out.Stats.SourceResets > 0 {
		w.m.Resets.WithLabelValues("decide", "source").Add(float64(out.Stats.SourceResets))
		w.log.Error("an input partition restarted (its topic recreated or truncated): attempts from its new records are applied, not taken for replays",
			"resets", out.Stats.SourceResets)
	}
	w.m.Replays.Add(float64(out.Stats.Replays))
	w.m.Held.Add(float64(out.Stats.Held))
	w.m.Expiries.WithLabelValues("expired").Add(float64(out.Stats.Expired))
	w.m.Expiries.WithLabelValues("stale").Add(float64(out.Stats.Stale))
	w.m.Holds.Add(float64(out.Stats.Holds))
	for _, c := range out.Commands {
		w.log.Warn("incident guard: holding the domain's new suppressions", "domain", c.Domain, "rule", c.Rule, "why", c.Reason)
	}
}

// expireDue writes an expire command for each suppression of the partition
// whose expires_at the wall clock has passed, keyed by its address: it
// comes back through this partition and the fold, in order with the
// address's events, and its tombstone takes the ordered path of every
// change. A command written twice (a crash before its fold) is stale the
// second time and does nothing.
func (w *decideWorker) expireDue(ctx context.Context) {
	cs := w.exp.due(w.now(), expireBatch)
	if len(cs) == 0 {
		return
	}
	msgs := make([]kafka.Message, 0, len(cs))
	for _, c := range cs {
		m, err := topics.ControlMessage(w.topics.Attempts, c)
		if err != nil {
			w.exp.requeue(cs)
			w.log.Error("expire commands not written", "err", err)
			return
		}
		msgs = append(msgs, m)
	}
	if err := w.write(ctx, w.o, "decide", "expire", w.out, msgs); err != nil {
		// The next sweep tries again; a new owner rebuilds them from the
		// state.
		w.exp.requeue(cs)
		w.log.Warn("expire commands not written; retrying on the next sweep", "due", len(cs), "err", err)
		return
	}
	w.m.Expiries.WithLabelValues("sent").Add(float64(len(cs)))
	w.log.Info("suppressions due to expire: commands written", "count", len(cs), "oldest", cs[0].Expires, "pending", w.exp.len())
}

// handOver keeps the state of a partition given up cleanly for the next
// generation, or writes it to disk when bounced is stopping.
func (w *decideWorker) handOver() {
	if err := w.settle(w.hard, w.ps); err != nil {
		w.log.Warn("state not kept; the next owner restores it from the changelog", "err", err)
		return
	}
	if w.stopping.Err() != nil {
		w.checkpoint(w.o.partition, w.ps)
		return
	}
	w.keeper.Put(w.o.partition, w.ps)
}

// checkpointDue writes the partition's checkpoint when the interval has
// passed since the last one.
func (w *decideWorker) checkpointDue(gctx context.Context) {
	if w.ckpt.Dir == "" || time.Since(w.ps.Saved) < w.cfg.CheckpointInterval {
		return
	}
	if err := w.settle(gctx, w.ps); err != nil {
		w.log.Warn("state checkpoint skipped", "err", err)
		w.ps.Saved = time.Now() // try again an interval later, not every batch
		return
	}
	w.checkpoint(w.o.partition, w.ps)
}

// settle records in ps the changelog offset its state is complete up to:
// the partition's end, as this worker is its only writer.
func (w *decideWorker) settle(ctx context.Context, ps *statestore.Partition) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	end, err := w.conn.EndOffset(ctx, w.topics.State, w.o.partition)
	if err != nil {
		return err
	}
	ps.Next = end
	return nil
}

// checkpoint writes ps to the partition's local checkpoint.
func (s *decideStage) checkpoint(partition int, ps *statestore.Partition) {
	if s.ckpt.Dir == "" || ps.Next < 0 {
		return
	}
	if err := s.ckpt.Save(partition, ps); err != nil {
		s.m.Checkpoints.WithLabelValues("error").Inc()
		s.log.Warn("state checkpoint not written; a restart reads more of the changelog", "partition", partition, "err", err)
		return
	}
	s.m.Checkpoints.WithLabelValues("ok").Inc()
}

// restore brings the partition's state up to date before any event is
// applied: from the state this member kept since the last generation, else
// from its local checkpoint, else from nothing; then it reads the changelog
// from where that state ends. It returns nil when gctx ends first.
func (w *decideWorker) restore(gctx context.Context, offset int64) *statestore.Partition {
	t0 := time.Now()
	from, ps := "memory", w.keeper.Take(w.o.partition)
	if ps == nil {
		from, ps = "checkpoint", w.loadCheckpoint()
	}
	if ps == nil {
		from, ps = "changelog", statestore.NewPartition()
	}
	base := ps.Table.Len()
	for {
		n, err := ps.CatchUp(gctx, w.conn, w.topics.State, w.o.partition)
		if err == nil {
			w.m.Restored.WithLabelValues(from).Add(float64(base))
			w.m.Restored.WithLabelValues("changelog").Add(float64(n))
			w.m.RestoreTime.Observe(time.Since(t0).Seconds())
			w.log.Info("state restored", "from", from, "recipients", ps.Table.Len(), "kept", base, "changelog_records", n,
				"took", time.Since(t0).Round(time.Millisecond), "input_offset", offset)
			return ps
		}
		if gctx.Err() != nil {
			return nil
		}
		if errors.Is(err, broker.ErrOutOfRange) {
			// The kept state belongs to another life of the topic.
			w.log.Warn("kept state does not match the changelog; restoring from the whole changelog", "err", err)
			from, ps, base = "changelog", statestore.NewPartition(), 0
			continue
		}
		w.log.Error("state restore failed; retrying", "err", err)
		if !sleep(gctx, 2*time.Second) {
			return nil
		}
	}
}

func (w *decideWorker) loadCheckpoint() *statestore.Partition {
	ps, err := w.ckpt.Load(w.o.partition)
	if err != nil {
		w.log.Warn("state checkpoint unusable; restoring from the changelog alone", "err", err)
		return nil
	}
	return ps
}

// replayWindow bounds a stage-1 replay in input records: what one batch
// holds, ten times over for records that make several attempts, and never
// less than 100,000.
func replayWindow(cfg Config) int64 {
	return max(10*int64(cfg.BatchSize), 100_000)
}
