package processor

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/topics"
)

// Store is where stage 2 writes attempts, suppressions and alerts for
// analytics (ClickHouse; sinks/memory in tests).
//
// WriteAttempts gets one partition's rows in offset order and must skip the
// rows it already holds, so a replay after a crash is harmless. Assign is
// called when a worker takes a partition, before any write (the store reads
// back what it holds, since another member may have written the partition
// in between); Revoke when the worker lets it go. WriteSuppressions and
// WriteAlerts may be called again with the same records after a crash and
// must end in the same content.
type Store interface {
	Assign(ctx context.Context, topic string, partition int32) error
	Revoke(topic string, partition int32)
	WriteAttempts(ctx context.Context, rows []decide.Row) error
	WriteSuppressions(ctx context.Context, changes []decide.Change) error
	WriteAlerts(ctx context.Context, as []event.Alert) error
}

// flusher writes stage 2's outputs.
type flusher struct {
	*base
	topics topics.Config
	store  Store
}

// step is one write of a flush.
type step struct {
	name string
	run  func(context.Context) error
}

// steps is the write order of stage 2, the one place it is written down.
// Within a partition a flush makes a batch's outputs durable in this order,
// and only then commits the offset:
//
//  1. clickhouse: the attempt rows to the store, which skips offsets at or
//     below the partition's watermark (read back from the store on
//     assignment);
//  2. dlq: the records the fold refused, to the dead-letter topic;
//  3. guard: holds this partition detected, to every partition of the
//     attempts topic (each owner applies them in order with its events);
//  4. alerts: to the alerts topic, then the store;
//  5. suppressions: to the compacted topic, then the store (versioned by
//     offset);
//  6. changelog: each changed recipient's absolute state (with LastOff, the
//     last input offset applied to it), then the guard's holds;
//  7. sources: the partition's input positions, in a write of their own: a
//     position must never be durable before the states it covers;
//  8. commit: the consumer offset (flush does it after the steps).
//
// A crash anywhere replays the batch from the last committed offset, and
// every output absorbs the replay: rows below the watermark are skipped,
// events at or below a recipient's LastOff are skipped, attempts at or below
// an input position are skipped, and suppression, alert and hold records are
// rewritten with identical content, which compacted topics and versioned
// tables absorb. Empty outputs have no step.
func (f *flusher) steps(o *owner, out *decide.Outputs, msgs []kafka.Message) []step {
	var s []step
	add := func(name string, n int, run func(context.Context) error) {
		if n > 0 {
			s = append(s, step{name, run})
		}
	}
	add("clickhouse", len(out.Rows), func(ctx context.Context) error {
		return f.guarded(ctx, o, "decide", "clickhouse_attempts", func(ctx context.Context) error { return f.store.WriteAttempts(ctx, out.Rows) })
	})
	add("dlq", len(out.Dead), func(ctx context.Context) error { return f.writeRefused(ctx, o, out, msgs) })
	add("guard", len(out.Commands), func(ctx context.Context) error { return f.writeCommands(ctx, o, out) })
	add("alerts", len(out.Alerts), func(ctx context.Context) error { return f.writeAlerts(ctx, o, out) })
	add("suppressions", len(out.Changes), func(ctx context.Context) error { return f.writeChanges(ctx, o, out) })
	holds := 0
	if out.Holds != nil {
		holds = 1
	}
	add("changelog", len(out.States)+holds, func(ctx context.Context) error { return f.writeStates(ctx, o, out) })
	add("sources", len(out.Sources), func(ctx context.Context) error {
		msg, err := topics.SourcesMessage(f.topics.State, o.partition, out.Sources)
		if err != nil {
			return err
		}
		return f.write(ctx, o, "decide", "changelog", f.parts, []kafka.Message{msg})
	})
	return s
}

// flush writes out in the order of steps, then commits the offset after
// msgs. It returns the first error that abandoned the batch.
func (f *flusher) flush(ctx context.Context, o *owner, out *decide.Outputs, msgs []kafka.Message, timer func(string)) error {
	for _, s := range f.steps(o, out, msgs) {
		if err := s.run(ctx); err != nil {
			return err
		}
		timer(s.name)
	}
	err := f.commit(ctx, "decide", o, msgs[len(msgs)-1].Offset+1)
	timer("commit")
	return err
}

func (f *flusher) writeRefused(ctx context.Context, o *owner, out *decide.Outputs, msgs []kafka.Message) error {
	dlq := make([]kafka.Message, len(out.Dead))
	for i, d := range out.Dead {
		dlq[i] = f.dead(f.topics.DLQ, "decide", &msgs[d.Index], d.Err)
	}
	return f.writeDead(ctx, o, "decide", &msgs[0], dlq)
}

func (f *flusher) writeCommands(ctx context.Context, o *owner, out *decide.Outputs) error {
	n, err := f.conn.Partitions(ctx, f.topics.Attempts)
	if err != nil {
		return err
	}
	msgs, err := topics.DomainMessages(f.topics.Attempts, n, out.Commands...)
	if err != nil {
		return err
	}
	return f.write(ctx, o, "decide", "guard", f.parts, msgs)
}

func (f *flusher) writeAlerts(ctx context.Context, o *owner, out *decide.Outputs) error {
	msgs, err := topics.AlertMessages(f.topics.Alerts, out.Alerts)
	if err != nil {
		return err
	}
	if err := f.write(ctx, o, "decide", "alerts", f.out, msgs); err != nil {
		return err
	}
	return f.guarded(ctx, o, "decide", "clickhouse_alerts", func(ctx context.Context) error { return f.store.WriteAlerts(ctx, out.Alerts) })
}

func (f *flusher) writeChanges(ctx context.Context, o *owner, out *decide.Outputs) error {
	msgs := make([]kafka.Message, len(out.Changes))
	for i, c := range out.Changes {
		m, err := topics.SuppressionMessage(f.topics.Suppressions, c.Address, c.Record)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	if err := f.write(ctx, o, "decide", "suppressions", f.out, msgs); err != nil {
		return err
	}
	if err := f.guarded(ctx, o, "decide", "clickhouse_suppressions",
		func(ctx context.Context) error { return f.store.WriteSuppressions(ctx, out.Changes) }); err != nil {
		return err
	}
	for _, c := range out.Changes {
		status, class := "lifted", ""
		if c.Record != nil {
			status, class = string(c.Record.Status), string(c.Record.Class)
		}
		if c.Why != "" {
			f.log.Info("suppression ended", "stage", "decide", "partition", o.partition, "address", c.Address, "why", c.Why)
		}
		f.m.Decisions.WithLabelValues(status, class).Inc()
	}
	return nil
}

func (f *flusher) writeStates(ctx context.Context, o *owner, out *decide.Outputs) error {
	cl := make([]kafka.Message, 0, len(out.States)+1)
	for i := range out.States {
		m, err := topics.StateMessage(f.topics.State, o.partition, out.States[i].Key, &out.States[i].State)
		if err != nil {
			return err
		}
		cl = append(cl, m)
	}
	if err := f.write(ctx, o, "decide", "changelog", f.parts, cl[:len(out.States)]); err != nil {
		return err
	}
	if out.Holds == nil {
		return nil
	}
	m, err := topics.HoldsMessage(f.topics.State, o.partition, out.Holds)
	if err != nil {
		return fmt.Errorf("partition %d: %w", o.partition, err)
	}
	return f.write(ctx, o, "decide", "changelog", f.parts, []kafka.Message{m})
}
