package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

// decidePartition is stage 2 for one attempts partition: restore the
// partition's recipients, then fold and flush batches until revoked.
func (p *Pipeline) decidePartition(gctx context.Context, gen *kafka.Generation, topic string, partition int, offset int64) {
	log := p.log.With("stage", "decide", "partition", partition)
	var states map[string]streak.State
	var sources map[string]srcPos
	for states == nil {
		t0 := time.Now()
		s, src, n, err := restore(gctx, p.deps.Conn, p.topics.State, partition)
		if err != nil {
			if gctx.Err() != nil {
				return
			}
			log.Error("state restore failed; retrying", "err", err)
			select {
			case <-gctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			continue
		}
		states, sources = s, src
		p.m.RestoreTime.Observe(time.Since(t0).Seconds())
		p.m.StateKeys.Add(float64(len(states)))
		log.Info("state restored", "recipients", len(states), "changelog_records", n, "took", time.Since(t0).Round(time.Millisecond), "from_offset", offset)
	}
	defer func() { p.m.StateKeys.Sub(float64(len(states))) }()
	if err := retry(gctx, log, func() { p.m.Retries.WithLabelValues("decide", "assign").Inc() }, "read back the store's watermark",
		func(ctx context.Context) error { return p.deps.Store.Assign(ctx, topic, int32(partition)) }); err != nil {
		return
	}
	defer p.deps.Store.Revoke(topic, int32(partition))

	p.loop(gctx, "decide", topic, partition, offset, func(ctx context.Context, msgs []kafka.Message) error {
		before := len(states)
		err := p.decideBatch(ctx, gen, topic, partition, states, sources, msgs)
		p.m.StateKeys.Add(float64(len(states) - before))
		if err != nil {
			// The in-memory states now hold events that were never
			// committed; they must not outlive this worker. The next
			// owner restores from the changelog and replays.
			clear(states)
			clear(sources)
		}
		return err
	})
}

type pending struct {
	key string
	rec *event.Suppression
	off int64
}

func (p *Pipeline) decideBatch(ctx context.Context, gen *kafka.Generation, topic string, partition int, states map[string]streak.State, sources map[string]srcPos, msgs []kafka.Message) error {
	step := p.stepTimer("decide")
	rows := make([]Row, 0, len(msgs))
	var pubs []pending
	var dlq []kafka.Message
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
		st, ok := states[key]
		if !ok {
			st = streak.New()
		}
		var res streak.Result
		if op := header(m, ControlHeader); op != "" {
			var c streak.Control
			if err := json.Unmarshal(m.Value, &c); err != nil {
				dlq = append(dlq, p.dead("decide", m, fmt.Errorf("control record: %w", err)))
				continue
			}
			var err error
			if st, res, err = streak.ApplyControl(st, c, m.Offset); err != nil {
				dlq = append(dlq, p.dead("decide", m, err))
				continue
			}
		} else {
			a := new(event.Attempt)
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
				rows = append(rows, Row{Topic: topic, Partition: int32(partition), Offset: m.Offset, Attempt: a})
			}
		}
		if res.Replay {
			continue
		}
		states[key] = st
		dirty[key] = struct{}{}
		if res.Publish {
			pubs = append(pubs, pending{key: key, rec: res.Record, off: m.Offset})
		}
	}

	step("process")
	// 1. Outputs: ClickHouse attempts (watermark-guarded), DLQ, suppressions.
	if len(rows) > 0 {
		if err := retry(ctx, p.log, func() { p.m.Retries.WithLabelValues("decide", "clickhouse_attempts").Inc() }, "clickhouse attempts",
			func(ctx context.Context) error { return p.deps.Store.WriteAttempts(ctx, rows) }); err != nil {
			return err
		}
	}
	step("clickhouse")
	if err := p.write(ctx, "decide", "dlq", p.out, dlq); err != nil {
		return err
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
		if err := p.write(ctx, "decide", "suppressions", p.out, msgs); err != nil {
			return err
		}
		if err := retry(ctx, p.log, func() { p.m.Retries.WithLabelValues("decide", "clickhouse_suppressions").Inc() }, "clickhouse suppressions",
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
			st := states[key]
			v, err := json.Marshal(&st)
			if err != nil {
				return fmt.Errorf("encode state of %s: %w", key, err)
			}
			cl = append(cl, kafka.Message{Topic: p.topics.State, Partition: partition, Key: []byte(key), Value: v})
		}
		if err := p.write(ctx, "decide", "changelog", p.changes, cl); err != nil {
			return err
		}
	}
	// The source positions go last, in a write of their own: a position
	// must never be durable before the states it covers.
	if sourcesMoved {
		v, err := json.Marshal(sources)
		if err != nil {
			return fmt.Errorf("encode source positions: %w", err)
		}
		msg := kafka.Message{Topic: p.topics.State, Partition: partition, Key: []byte(sourcesKey), Value: v}
		if err := p.write(ctx, "decide", "changelog", p.changes, []kafka.Message{msg}); err != nil {
			return err
		}
	}

	step("changelog")
	// 3. Only now the offset.
	err := p.commit(ctx, "decide", gen, topic, partition, msgs[len(msgs)-1].Offset+1)
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
