package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/topics"
)

// repartitionChunk is how many states move between progress lines; each
// chunk's new records are acknowledged before its tombstones are written.
const repartitionChunk = 20000

// repartitionCmd grows the attempts topic and its co-partitioned state
// changelog to --partitions and moves every recipient's state to the
// partition stage 1 will write its attempts to. See "Growing the attempts
// topic" in docs/operations.md for the procedure around it.
//
// The order makes a stop anywhere safe to finish by running the command
// again:
//  1. grow both topics (nothing to do when they already have the count);
//  2. write an unfinished layout record (topics.KeyLayout) to every state
//     partition: from then on stage 2 refuses to restore any of them, so no
//     member runs on half-moved states;
//  3. read every state partition to its end and plan the move from what is
//     there (topics.PlanRepartition): a state already moved is in place, a
//     state written at its new partition but not yet tombstoned at its old
//     one gets only the tombstone;
//  4. per chunk, write the states at their new partitions, then (once those
//     writes are acknowledged) the tombstones at the old ones, so at no
//     point is a recipient in no partition;
//  5. write every partition's input positions and holds;
//  6. write the finished layout record to every partition.
func repartitionCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("repartition", io)
	n := fs.Int("partitions", 0, "the partition count to grow the attempts and state topics to (more than they have)")
	dry := fs.Bool("dry-run", false, "check and report what would move; change nothing")
	force := fs.Bool("force", false, "skip the check that the pipeline is stopped and drained (the move is then only as right as the pipeline was idle)")
	e, err := connect(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer e.close()
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	if *n < 1 || *n > 10000 {
		return fmt.Errorf("%w: --partitions %d: give the new partition count, 1..10000", ErrUsage, *n)
	}
	r := &repartition{e: e, out: io.Out, n: *n, tc: e.cfg.Kafka.Topics.WithDefaults()}
	return r.run(ctx, *dry, *force)
}

// repartition is one run of the command.
type repartition struct {
	e   *env
	out io.Writer
	n   int
	tc  topics.Config
}

// run checks, then either reports the plan (dry) or carries it out in the
// order repartitionCmd describes.
func (r *repartition) run(ctx context.Context, dry, force bool) error {
	t0 := time.Now()
	counts, err := r.counts(ctx)
	if err != nil {
		return err
	}
	cur := counts[r.tc.State]
	for _, t := range []string{r.tc.Attempts, r.tc.State} {
		if counts[t] > r.n {
			return fmt.Errorf("%s has %d partitions: --partitions %d would shrink it, and Kafka cannot remove partitions; give a count of at least %d",
				t, counts[t], r.n, counts[t])
		}
	}
	fmt.Fprintf(r.out, "%s: %d partitions, %s: %d partitions; target %d\n", r.tc.Attempts, counts[r.tc.Attempts], r.tc.State, cur, r.n)
	if force {
		fmt.Fprintln(r.out, "check skipped (--force): the pipeline is assumed stopped and drained")
	} else if err := checkStopped(ctx, r.e); err != nil {
		if !dry {
			return err
		}
		fmt.Fprintf(r.out, "would refuse: %v\n", err)
	} else {
		fmt.Fprintln(r.out, "check: no member in either consumer group, stage 2 committed every attempt")
	}
	if dry {
		parts, err := r.read(ctx, cur)
		if err != nil {
			return err
		}
		plan, err := topics.PlanRepartition(parts, r.n)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.out, "dry run: %s\n", plan)
		return nil
	}

	if err := r.grow(ctx, counts); err != nil {
		return err
	}
	w := r.e.conn.NewPartitionWriter()
	defer w.Close()
	if err := r.writeLayout(ctx, w, false); err != nil {
		return err
	}
	parts, err := r.read(ctx, r.n)
	if err != nil {
		return err
	}
	plan, err := topics.PlanRepartition(parts, r.n)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.out, "%s\n", plan)
	if plan.Conflicts > 0 {
		fmt.Fprintf(r.out, "warning: %d recipients had different states in two partitions (was a member running?); kept the copy in the partition each belongs to\n", plan.Conflicts)
	}
	if err := r.move(ctx, w, plan); err != nil {
		return err
	}
	var msgs []kafka.Message
	for p := range r.n {
		sm, err := topics.SourcesMessage(r.tc.State, p, plan.Sources)
		if err != nil {
			return err
		}
		hm, err := topics.HoldsMessage(r.tc.State, p, plan.Holds[p])
		if err != nil {
			return err
		}
		msgs = append(msgs, sm, hm)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write input positions and holds to %s: %w", r.tc.State, err)
	}
	if err := r.writeLayout(ctx, w, true); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "done in %s: %s and %s have %d partitions, %d states moved. Set kafka.partitions: %d in every member's configuration, then start them.\n",
		time.Now().Sub(t0).Round(time.Millisecond), r.tc.Attempts, r.tc.State, r.n, len(plan.Moves), r.n)
	return nil
}

// counts returns the partition counts of the attempts and state topics.
func (r *repartition) counts(ctx context.Context) (map[string]int, error) {
	details, err := r.e.adm.ListTopics(ctx, r.tc.Attempts, r.tc.State)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := map[string]int{}
	for _, t := range []string{r.tc.Attempts, r.tc.State} {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("%s does not exist: there is nothing to repartition (run `bounced topics` to create the topology with kafka.partitions: %d)", t, r.n)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("describe %s: %w", t, d.Err)
		}
		out[t] = len(d.Partitions)
	}
	return out, nil
}

// checkStopped refuses a move while the pipeline could write: every
// member of both consumer groups must be gone (a running stage 1 would
// keep writing attempts by the old count; a running stage 2 would write
// states the move does not see), and stage 2 must have committed every
// attempt (an attempt left behind would be applied by the partition its
// recipient no longer lives in). Stage 1 may be behind: it resumes after
// the move and writes by the new count.
func checkStopped(ctx context.Context, e *env) error {
	tc := e.cfg.Kafka.Topics.WithDefaults()
	pc := e.cfg.Pipeline.WithDefaults()
	groups, err := e.adm.DescribeGroups(ctx, pc.IngestGroup, pc.DecideGroup)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("describe consumer groups: %w", err)
	}
	for _, g := range []string{pc.IngestGroup, pc.DecideGroup} {
		d, ok := groups[g]
		if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) {
			continue
		}
		if d.Err != nil {
			return fmt.Errorf("describe consumer group %s: %w", g, d.Err)
		}
		if len(d.Members) > 0 {
			hosts := make([]string, 0, len(d.Members))
			for _, m := range d.Members {
				hosts = append(hosts, m.ClientID+"@"+m.ClientHost)
			}
			slices.Sort(hosts)
			return fmt.Errorf("consumer group %s has %d active members (%s): stop every `bounced run` first (the move needs the pipeline stopped), then run this again",
				g, len(d.Members), strings.Join(hosts, ", "))
		}
	}
	behind, err := lag(ctx, e.adm, pc.DecideGroup, tc.Attempts)
	if err != nil {
		return err
	}
	if behind > 0 {
		return fmt.Errorf("stage 2 (group %s) has not committed %d attempts of %s: run the pipeline with the shippers paused until it drains (bounced_consumer_lag at 0), stop it, then run this again",
			pc.DecideGroup, behind, tc.Attempts)
	}
	return nil
}

// grow raises the attempts and state topics to r.n partitions and waits
// until the brokers' metadata shows them, so that writes to the new
// partitions are routed.
func (r *repartition) grow(ctx context.Context, counts map[string]int) error {
	var grow []string
	for _, t := range []string{r.tc.Attempts, r.tc.State} {
		if counts[t] < r.n {
			grow = append(grow, t)
		}
	}
	if len(grow) > 0 {
		res, err := r.e.adm.UpdatePartitions(ctx, r.n, grow...)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			return fmt.Errorf("grow %v to %d partitions: %w", grow, r.n, err)
		}
		fmt.Fprintf(r.out, "grew %s to %d partitions\n", strings.Join(grow, " and "), r.n)
	}
	deadline := time.Now().Add(time.Minute)
	for _, t := range []string{r.tc.Attempts, r.tc.State} {
		for {
			got, err := r.e.conn.Partitions(ctx, t)
			if err == nil && got == r.n {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still shows %d partitions a minute after growing it to %d (%v)", t, got, r.n, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// writeLayout writes the layout record to every state partition.
func (r *repartition) writeLayout(ctx context.Context, w *kafka.Writer, complete bool) error {
	msgs := make([]kafka.Message, r.n)
	for p := range r.n {
		m, err := topics.LayoutMessage(r.tc.State, p, topics.Layout{Partitions: r.n, Complete: complete})
		if err != nil {
			return err
		}
		msgs[p] = m
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write the layout record to %s: %w", r.tc.State, err)
	}
	return nil
}

// read reads partitions 0..n-1 of the state changelog to their ends, in
// parallel, keeping the latest record of each key.
func (r *repartition) read(ctx context.Context, n int) ([]topics.ChangelogPartition, error) {
	parts := make([]topics.ChangelogPartition, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for p := range n {
		g.Go(func() error {
			cp, err := readChangelog(gctx, r.e.conn, r.tc.State, p)
			parts[p] = cp
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return parts, nil
}

// readChangelog reads one changelog partition as compaction would leave it.
func readChangelog(ctx context.Context, conn *broker.Clients, topic string, p int) (topics.ChangelogPartition, error) {
	cp := topics.ChangelogPartition{States: map[string][]byte{}}
	_, err := conn.ScanFrom(ctx, topic, p, -1, func(off int64, key, val []byte) error {
		switch string(key) {
		case topics.KeyHolds:
			h, err := guard.DecodeHolds(val)
			if err != nil {
				return fmt.Errorf("holds %s/%d@%d: %w", topic, p, off, err)
			}
			cp.Holds = h
		case topics.KeySources:
			s, err := topics.DecodeSources(val)
			if err != nil {
				return fmt.Errorf("input positions %s/%d@%d: %w", topic, p, off, err)
			}
			cp.Sources = s
		case topics.KeyLayout:
			l, err := topics.DecodeLayout(val)
			if err != nil {
				return fmt.Errorf("layout %s/%d@%d: %w", topic, p, off, err)
			}
			cp.Layout = l
		default:
			if val == nil {
				delete(cp.States, string(key))
			} else {
				cp.States[string(key)] = val
			}
		}
		return nil
	})
	if err != nil {
		return cp, fmt.Errorf("read %s/%d: %w", topic, p, err)
	}
	return cp, nil
}

// move writes plan's moves chunk by chunk: the states at their new
// partitions, then, once acknowledged, the tombstones at the old ones.
func (r *repartition) move(ctx context.Context, w *kafka.Writer, plan *topics.Plan) error {
	total := len(plan.Moves)
	for i := 0; i < total; i += repartitionChunk {
		chunk := plan.Moves[i:min(i+repartitionChunk, total)]
		writes := make([]kafka.Message, 0, len(chunk))
		tombs := make([]kafka.Message, 0, len(chunk))
		for _, m := range chunk {
			if m.Write {
				writes = append(writes, kafka.Message{Topic: r.tc.State, Partition: m.To, Key: []byte(m.Key), Value: m.Value})
			}
			tombs = append(tombs, kafka.Message{Topic: r.tc.State, Partition: m.From, Key: []byte(m.Key)})
		}
		if err := writeAll(ctx, w, writes); err != nil {
			return fmt.Errorf("write moved states to %s (%d of %d moved; run the command again to finish): %w", r.tc.State, i, total, err)
		}
		if err := writeAll(ctx, w, tombs); err != nil {
			return fmt.Errorf("write tombstones to %s (%d of %d moved; run the command again to finish): %w", r.tc.State, i, total, err)
		}
		fmt.Fprintf(r.out, "moved %d of %d states\n", i+len(chunk), total)
	}
	return nil
}

// writeAll writes msgs, none being nothing to do.
func writeAll(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return w.WriteMessages(ctx, msgs...)
}
