package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

// decidePartition is stage 2 for one attempts partition: restore the
// partition's recipients, then fold and flush batches until revoked.
func (p *Pipeline) decidePartition(gctx context.Context, o *owner, offset int64) {
	partition := o.partition
	log := p.log.With("stage", "decide", "partition", partition)
	ps := p.restoreState(gctx, log, partition, offset)
	if ps == nil {
		return // the generation ended first
	}
	if ps.guard == nil || ps.guard.holds != ps.holds {
		ps.guard = newGuard(p.cfg.Guard, ps.holds)
	}
	keys := ps.table.Len()
	p.m.StateKeys.Add(float64(keys))
	defer func() { p.m.StateKeys.Sub(float64(keys)) }()
	if err := retry(gctx, log, func() { p.m.Retries.WithLabelValues("decide", "assign").Inc() }, "read back the store's watermark",
		func(ctx context.Context) error { return p.deps.Store.Assign(ctx, o.topic, int32(partition)) }); err != nil {
		p.kept.put(partition, ps) // nothing was applied: the state is still whole
		return
	}
	defer p.deps.Store.Revoke(o.topic, int32(partition))

	checkpoint := func() {
		if p.deps.StateDir == "" || time.Since(ps.saved) < p.cfg.CheckpointInterval {
			return
		}
		if err := p.settle(gctx, partition, ps); err != nil {
			log.Warn("state checkpoint skipped", "err", err)
			ps.saved = time.Now() // try again an interval later, not every batch
			return
		}
		p.checkpoint(partition, ps)
	}
	err := p.loop(gctx, "decide", o, offset, checkpoint, func(ctx context.Context, msgs []kafka.Message) error {
		err := p.decideBatch(ctx, o, ps, msgs)
		p.m.StateKeys.Add(float64(ps.table.Len() - keys))
		keys = ps.table.Len()
		return err
	})
	if err != nil {
		// The table now holds events that were never committed; it must
		// not outlive this worker. The next owner restores from the
		// changelog and replays.
		return
	}
	// A clean hand-over: keep the state for the next generation, or write
	// it to disk when bounced is stopping.
	if err := p.settle(p.hard, partition, ps); err != nil {
		log.Warn("state not kept; the next owner restores it from the changelog", "err", err)
		return
	}
	if p.stopping.Err() != nil {
		p.checkpoint(partition, ps)
		return
	}
	p.kept.put(partition, ps)
}

// settle records in ps the changelog offset its state is complete up to:
// the partition's end, as this worker is its only writer.
func (p *Pipeline) settle(ctx context.Context, partition int, ps *partState) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	end, err := p.deps.Conn.EndOffset(ctx, p.topics.State, partition)
	if err != nil {
		return err
	}
	ps.next = end
	return nil
}

// restoreState brings the partition's state up to date before any event is
// applied: from the state this member kept since the last generation, else
// from its local checkpoint, else from nothing; then it reads the changelog
// from where that state ends. It returns nil when gctx ends first.
func (p *Pipeline) restoreState(gctx context.Context, log *slog.Logger, partition int, offset int64) *partState {
	t0 := time.Now()
	from := "memory"
	ps := p.kept.take(partition)
	if ps == nil {
		from = "checkpoint"
		ps = p.loadCheckpoint(partition)
	}
	if ps == nil {
		from = "changelog"
		ps = newPartState()
	}
	base := ps.table.Len()
	for {
		n, err := catchUp(gctx, p.deps.Conn, p.topics.State, partition, ps)
		if err == nil {
			p.m.Restored.WithLabelValues(from).Add(float64(base))
			p.m.Restored.WithLabelValues("changelog").Add(float64(n))
			p.m.RestoreTime.Observe(time.Since(t0).Seconds())
			log.Info("state restored", "from", from, "recipients", ps.table.Len(), "kept", base, "changelog_records", n,
				"took", time.Since(t0).Round(time.Millisecond), "input_offset", offset)
			return ps
		}
		if gctx.Err() != nil {
			return nil
		}
		if errors.Is(err, broker.ErrOutOfRange) {
			// The kept state belongs to another life of the topic.
			log.Warn("kept state does not match the changelog; restoring from the whole changelog", "err", err)
			ps, from, base = newPartState(), "changelog", 0
			continue
		}
		log.Error("state restore failed; retrying", "err", err)
		select {
		case <-gctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

type pending struct {
	key string
	rec *event.Suppression
	off int64
}

func (p *Pipeline) decideBatch(ctx context.Context, o *owner, ps *partState, msgs []kafka.Message) error {
	topic, partition := o.topic, o.partition
	states, sources := ps.table, ps.sources
	step := p.stepTimer("decide")
	rows := make([]Row, 0, len(msgs))
	var pubs []pending
	var dlq []kafka.Message
	var alerts []event.Alert
	var triggers []streak.Control
	dirty := make(map[string]struct{}, len(msgs))
	sourcesMoved := false
	for i := range msgs {
		m := &msgs[i]
		key := string(m.Key)
		if src, pos, ok := parseSource(header(m, HeaderSource)); ok {
			if last, seen := sources[src]; seen && !pos.after(last) {
				// Stage 1 produced this attempt again after a crash.
				p.m.Duplicates.Inc()
				continue
			}
			sources[src] = pos
			sourcesMoved = true
		}
		st, ok := states.Get(key)
		if !ok {
			st = streak.New()
		}
		var res streak.Result
		var a *event.Attempt
		if op := header(m, ControlHeader); op != "" {
			var c streak.Control
			if err := json.Unmarshal(m.Value, &c); err != nil {
				dlq = append(dlq, p.dead("decide", m, fmt.Errorf("control record: %w", err)))
				continue
			}
			if c.Domain != "" {
				pubs, alerts = p.domainControl(ps, partition, c, m.Offset, pubs, alerts, dirty)
				continue
			}
			var err error
			if st, res, err = streak.ApplyControl(st, c, m.Offset); err != nil {
				dlq = append(dlq, p.dead("decide", m, err))
				continue
			}
		} else {
			a = new(event.Attempt)
			if err := json.Unmarshal(m.Value, a); err != nil {
				dlq = append(dlq, p.dead("decide", m, fmt.Errorf("attempt record: %w", err)))
				continue
			}
			if a.RecipientNorm != key {
				dlq = append(dlq, p.dead("decide", m, fmt.Errorf("attempt for %q filed under key %q", a.RecipientNorm, key)))
				continue
			}
			st, res = streak.Apply(p.policy, st, a, m.Offset)
			switch {
			case res.Replay:
				p.m.Replays.Inc()
			case res.Duplicate:
				p.m.Duplicates.Inc()
			default:
				rows = append(rows, Row{Topic: topic, Partition: int32(partition), Offset: m.Offset, Attempt: a, Send: res.Send})
			}
		}
		if res.Replay {
			continue
		}
		if a != nil && !res.Duplicate && a.Verdict != nil && !p.cfg.Guard.Disabled {
			w := ps.guard.observe(a)
			if r := res.Record; res.Publish && r != nil && r.Source == event.OriginAuto && r.Status == event.StatusSuppressed {
				out := ps.guard.suppressed(a, key, &st, r, w)
				if out.held {
					p.m.Held.Inc()
				}
				if out.trigger != nil {
					p.log.Warn("incident guard: holding the domain's new suppressions", "partition", partition, "domain", out.trigger.Domain, "rule", out.trigger.Rule, "why", out.trigger.Reason)
					triggers = append(triggers, *out.trigger)
					pubs = p.holdRetro(ps, out.retro, m.Offset, pubs, dirty)
					alerts = p.guardAlert(alerts, partition, *out.trigger, event.AlertFiring)
				}
			}
		}
		states.Put(key, st)
		dirty[key] = struct{}{}
		if res.Publish {
			pubs = append(pubs, pending{key: key, rec: res.Record, off: m.Offset})
		}
	}

	step("process")
	// 1. Outputs: ClickHouse attempts (watermark-guarded), DLQ, suppressions.
	if len(rows) > 0 {
		if err := p.guarded(ctx, o, "decide", "clickhouse_attempts",
			func(ctx context.Context) error { return p.deps.Store.WriteAttempts(ctx, rows) }); err != nil {
			return err
		}
	}
	step("clickhouse")
	if err := p.write(ctx, o, "decide", "dlq", p.out, dlq); err != nil {
		return err
	}
	if len(triggers) > 0 {
		// A hold this partition detected goes to every partition of the
		// attempts topic, so every owner honours it in order.
		msgs, err := DomainMessages(ctx, p.deps.Conn, p.topics.Attempts, triggers...)
		if err != nil {
			return err
		}
		if err := p.write(ctx, o, "decide", "guard", p.changes, msgs); err != nil {
			return err
		}
	}
	if len(alerts) > 0 {
		msgs, err := AlertMessages(p.topics.Alerts, alerts)
		if err != nil {
			return err
		}
		if err := p.write(ctx, o, "decide", "alerts", p.out, msgs); err != nil {
			return err
		}
		if err := p.guarded(ctx, o, "decide", "clickhouse_alerts",
			func(ctx context.Context) error { return p.deps.Store.WriteAlerts(ctx, alerts) }); err != nil {
			return err
		}
	}
	if len(pubs) > 0 {
		msgs := make([]kafka.Message, len(pubs))
		changes := make([]Change, len(pubs))
		for i, pb := range pubs {
			msgs[i] = kafka.Message{Topic: p.topics.Suppressions, Key: []byte(pb.key)}
			if pb.rec != nil {
				v, err := json.Marshal(pb.rec)
				if err != nil {
					return fmt.Errorf("encode suppression of %s: %w", pb.key, err)
				}
				msgs[i].Value = v
			}
			changes[i] = Change{Address: pb.key, Record: pb.rec, Version: uint64(pb.off) + 1}
		}
		if err := p.write(ctx, o, "decide", "suppressions", p.out, msgs); err != nil {
			return err
		}
		if err := p.guarded(ctx, o, "decide", "clickhouse_suppressions",
			func(ctx context.Context) error { return p.deps.Store.WriteSuppressions(ctx, changes) }); err != nil {
			return err
		}
		for _, pb := range pubs {
			status, class := "lifted", ""
			if pb.rec != nil {
				status, class = string(pb.rec.Status), string(pb.rec.Class)
			}
			p.m.Decisions.WithLabelValues(status, class).Inc()
		}
	}

	step("suppressions")
	// 2. The changelog: absolute state with LastOff, co-partitioned, and
	// the partition's source positions.
	if len(dirty) > 0 {
		cl := make([]kafka.Message, 0, len(dirty))
		for key := range dirty {
			st, _ := states.Get(key)
			v, err := st.AppendBinary(nil)
			if err != nil {
				return fmt.Errorf("encode state of %s: %w", key, err)
			}
			cl = append(cl, kafka.Message{Topic: p.topics.State, Partition: partition, Key: []byte(key), Value: v})
		}
		if err := p.write(ctx, o, "decide", "changelog", p.changes, cl); err != nil {
			return err
		}
	}
	if ps.guard.dirty {
		msg, err := p.holdsRecord(partition, ps.guard.holds)
		if err != nil {
			return err
		}
		if err := p.write(ctx, o, "decide", "changelog", p.changes, []kafka.Message{msg}); err != nil {
			return err
		}
		ps.guard.dirty = false
	}
	// The source positions go last, in a write of their own: a position
	// must never be durable before the states it covers.
	if sourcesMoved {
		v, err := json.Marshal(sources)
		if err != nil {
			return fmt.Errorf("encode source positions: %w", err)
		}
		msg := kafka.Message{Topic: p.topics.State, Partition: partition, Key: []byte(sourcesKey), Value: v}
		if err := p.write(ctx, o, "decide", "changelog", p.changes, []kafka.Message{msg}); err != nil {
			return err
		}
	}

	step("changelog")
	// 3. Only now the offset.
	err := p.commit(ctx, "decide", o, msgs[len(msgs)-1].Offset+1)
	step("commit")
	return err
}

func header(m *kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
