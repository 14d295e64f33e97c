package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// Row is one attempt as stored, with the attempts-topic position it came
// from (the effectively-once key of the ClickHouse sink).
type Row struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempt   *event.Attempt
	// Send is what the attempt changes in the count of ended sends, from
	// the recipient's state: the outcomes table and its rollups count
	// sends, not attempts (SPEC §6).
	Send streak.SendDelta
}

// Change is a suppression record to store; Record nil is a tombstone.
// Version grows with every change of one address (it is the attempts-topic
// offset that caused it, and an address lives on one partition).
type Change struct {
	Address string
	Record  *event.Suppression
	Version uint64
}

// Store is where stage 2 writes attempts and suppressions for analytics
// (ClickHouse). WriteAttempts gets one partition's rows in offset order and
// must skip rows it already holds, so a replay after a crash is harmless.
// Assign is called when a worker takes a partition, before any write (the
// store reads back what it holds, since another member may have written the
// partition in between); Revoke when the worker lets it go.
type Store interface {
	Assign(ctx context.Context, topic string, partition int32) error
	Revoke(topic string, partition int32)
	WriteAttempts(ctx context.Context, rows []Row) error
	WriteSuppressions(ctx context.Context, changes []Change) error
	// WriteAlerts stores alert state changes; a replay writes them again
	// identically.
	WriteAlerts(ctx context.Context, as []event.Alert) error
}

// ControlHeader marks an operator command on the attempts topic; its value
// is the streak.Op and the record value a streak.Control.
const ControlHeader = "bounced-control"

// Deps are the pipeline's collaborators.
type Deps struct {
	Conn     *broker.Clients
	Ingester *ingest.Ingester
	Store    Store
	Metrics  *Metrics
	Log      *slog.Logger
	// StateDir keeps stage 1's adapter state (Postfix queue-id correlation,
	// Exim arrivals, PowerMTA headers) per input partition across
	// restarts; empty keeps it in memory only.
	StateDir string
}

// Pipeline runs stage 1, stage 2 or both.
type Pipeline struct {
	cfg     Config
	topics  topics.Config
	policy  streak.Policy
	deps    Deps
	log     *slog.Logger
	m       *Metrics
	out     *kafka.Writer // keyed outputs: attempts, DLQ, suppressions
	changes *kafka.Writer // state changelog, partition chosen explicitly
	hard    context.Context
	// stopping ends when Run's context does: a worker that returns after
	// it ended is shutting down, not being rebalanced.
	stopping context.Context
	kept     *keeper
	// leader is true while this member's stage 2 owns attempts partition
	// 0: one member at a time does group-wide chores (rate alerts).
	leader atomic.Bool
}

// Leader reports whether this member owns attempts partition 0 in stage 2,
// which makes it the one member that evaluates the rate alerts.
func (p *Pipeline) Leader() bool { return p.leader.Load() }

// New builds a pipeline; nothing connects until Run.
func New(cfg Config, tc topics.Config, policy streak.Policy, deps Deps) (*Pipeline, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tc = tc.WithDefaults()
	if err := tc.Validate(); err != nil {
		return nil, err
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if deps.Conn == nil || deps.Ingester == nil || deps.Store == nil {
		return nil, errors.New("processor: Conn, Ingester and Store are required")
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	p := &Pipeline{cfg: cfg, topics: tc, policy: policy.WithDefaults(), deps: deps, log: deps.Log, m: deps.Metrics}
	p.kept = &keeper{p: p, parts: map[int]*partState{}}
	p.out = newWriter(deps.Conn, &kafka.Murmur2Balancer{})
	p.changes = newWriter(deps.Conn, kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }))
	return p, nil
}

// NewWriter returns the synchronous, acks=all writer bounced produces with.
// Keys are partitioned with murmur2, as Java clients do, so anyone can
// compute which attempts partition owns an address.
func NewWriter(conn *broker.Clients) *kafka.Writer { return newWriter(conn, &kafka.Murmur2Balancer{}) }

func newWriter(conn *broker.Clients, b kafka.Balancer) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(conn.Brokers...),
		Transport:    conn.Transport,
		Balancer:     b,
		RequiredAcks: kafka.RequireAll,
		BatchSize:    10000,
		BatchBytes:   16 << 20,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		WriteTimeout: 30 * time.Second,
	}
}

// Run runs the configured stages until ctx is cancelled, then drains: each
// partition worker flushes what it read, commits and leaves the group.
// Drains are bounded by pipeline.drain_timeout.
func (p *Pipeline) Run(ctx context.Context) error {
	p.hard = context.WithoutCancel(ctx)
	p.stopping = ctx
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if p.cfg.Stage == "all" || p.cfg.Stage == "ingest" {
		start("ingest", func(ctx context.Context) error {
			return runGroup(ctx, p.deps.Conn, p.cfg.IngestGroup, p.topics.Input, p.cfg.SessionTimeout, p.log,
				func(parts []int) { p.m.Owned.WithLabelValues("ingest").Set(float64(len(parts))) }, p.ingestPartition)
		})
	}
	if p.cfg.Stage == "all" || p.cfg.Stage == "decide" {
		start("decide", func(ctx context.Context) error {
			return runGroup(ctx, p.deps.Conn, p.cfg.DecideGroup, []string{p.topics.Attempts}, p.cfg.SessionTimeout, p.log,
				func(parts []int) {
					p.m.Owned.WithLabelValues("decide").Set(float64(len(parts)))
					p.leader.Store(slices.Contains(parts, 0))
					p.kept.release(parts)
				}, p.decidePartition)
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(func() []error {
		var all []error
		for e := range errs {
			all = append(all, e)
		}
		return all
	}()...)
}

// Close releases the writers.
func (p *Pipeline) Close() error {
	return errors.Join(p.out.Close(), p.changes.Close())
}

// loop drives one partition: read a batch, hand it to flush, repeat, until
// the generation ends. It never returns early on errors, because a worker
// that returns ends the generation for the whole group.
//
// after, when not nil, runs between batches (stage 2 writes its checkpoints
// there). loop returns the error that abandoned a flush, nil otherwise.
func (p *Pipeline) loop(gctx context.Context, stage string, o *owner, offset int64, after func(), flush func(context.Context, []kafka.Message) error) error {
	topic, partition := o.topic, o.partition
	log := p.log.With("stage", stage, "topic", topic, "partition", partition)
	var b *batcher
	for b == nil {
		var err error
		if b, err = newBatcher(p.deps.Conn, topic, partition, offset, p.cfg.BatchSize, p.cfg.FlushInterval); err != nil {
			log.Warn("cannot open partition; retrying", "err", err)
			select {
			case <-gctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
	defer b.close()
	lag := p.m.Lag.WithLabelValues(topic, strconv.Itoa(partition))
	consumed := p.m.Consumed.WithLabelValues(stage)
	var buf []kafka.Message
	for {
		msgs, err := b.next(gctx, buf)
		if len(msgs) > 0 {
			consumed.Add(float64(len(msgs)))
			fctx, cancel := flushContext(p.hard, gctx, p.cfg.DrainTimeout)
			t0 := time.Now()
			o.pos = msgs[0].Offset
			ferr := flush(fctx, msgs)
			cancel()
			if ferr != nil {
				// Nothing was committed: whoever owns the partition next
				// replays the batch, and the outputs absorb the replay.
				log.Error("flush abandoned; the batch will be replayed", "err", ferr)
				if errors.Is(ferr, errFenced) {
					p.m.Fenced.WithLabelValues(stage).Inc()
				}
				return ferr
			}
			p.m.BatchTime.WithLabelValues(stage).Observe(time.Since(t0).Seconds())
			lag.Set(float64(b.lag()))
		}
		buf = msgs
		if gctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Warn("fetch failed; retrying", "err", err)
			select {
			case <-gctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
		if after != nil {
			after()
		}
	}
}

// stepTimer returns a function that records the time since its previous
// call (or since stepTimer) under the given step name.
func (p *Pipeline) stepTimer(stage string) func(step string) {
	last := time.Now()
	return func(step string) {
		now := time.Now()
		p.m.StepTime.WithLabelValues(stage, step).Observe(now.Sub(last).Seconds())
		last = now
	}
}

func (p *Pipeline) commit(ctx context.Context, stage string, o *owner, next int64) error {
	return retry(ctx, p.log, func() { p.m.Retries.WithLabelValues(stage, "commit").Inc() }, "commit", func(context.Context) error {
		return o.commit(next)
	})
}

// guarded runs one ClickHouse step under the member's lease (see lease),
// retrying it with backoff until it succeeds, the member is fenced, or ctx
// ends.
func (p *Pipeline) guarded(ctx context.Context, o *owner, stage, step string, fn func(context.Context) error) error {
	return p.leased(ctx, o, stage, step, false, fn)
}

func (p *Pipeline) leased(ctx context.Context, o *owner, stage, step string, bounded bool, fn func(context.Context) error) error {
	return retry(ctx, p.log, func() { p.m.Retries.WithLabelValues(stage, step).Inc() }, step, func(ctx context.Context) error {
		wctx, cancel, err := o.hold(ctx, bounded)
		if err != nil {
			return err
		}
		defer cancel()
		return fn(wctx)
	})
}

func (p *Pipeline) write(ctx context.Context, o *owner, stage, step string, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return p.leased(ctx, o, stage, step, true, func(ctx context.Context) error { return w.WriteMessages(ctx, msgs...) })
}

// ingestPartition is stage 1 for one input partition. Its session holds the
// partition's adapter state (Postfix correlates lines by queue id), so every
// record of the partition goes through it in order.
func (p *Pipeline) ingestPartition(gctx context.Context, o *owner, offset int64) {
	topic, partition := o.topic, o.partition
	sess := p.deps.Ingester.NewSession(topic)
	save := p.sessionStore(sess, topic, partition)
	defer save(true)
	p.loop(gctx, "ingest", o, offset, nil, func(ctx context.Context, msgs []kafka.Message) error {
		defer save(false)
		step := p.stepTimer("ingest")
		out := make([]kafka.Message, 0, len(msgs))
		var dlq []kafka.Message
		for i := range msgs {
			m := &msgs[i]
			atts, skip, err := sess.Decode(m.Value, m.Time)
			if skip != "" {
				p.m.Skipped.WithLabelValues(skip).Inc()
			}
			if err != nil {
				dlq = append(dlq, p.dead("ingest", m, err))
			}
			for j := range atts {
				a := &atts[j]
				v, err := json.Marshal(a)
				if err != nil {
					dlq = append(dlq, p.dead("ingest", m, fmt.Errorf("encode attempt: %w", err)))
					continue
				}
				if a.Verdict != nil {
					p.m.Classified.WithLabelValues(string(a.Verdict.Class), string(a.Verdict.Label)).Inc()
				}
				out = append(out, kafka.Message{Topic: p.topics.Attempts, Key: []byte(a.RecipientNorm), Value: v,
					Headers: []kafka.Header{{Key: HeaderSource, Value: []byte(sourceValue(topic, partition, m.Offset, j))}}})
			}
		}
		step("process")
		if err := p.write(ctx, o, "ingest", "attempts", p.out, out); err != nil {
			return err
		}
		if err := p.write(ctx, o, "ingest", "dlq", p.out, dlq); err != nil {
			return err
		}
		step("produce")
		p.m.Attempts.Add(float64(len(out)))
		err := p.commit(ctx, "ingest", o, msgs[len(msgs)-1].Offset+1)
		step("commit")
		return err
	})
}

// sessionStore restores a session's adapter state from StateDir and
// returns the function that saves it: at most every 10 seconds while the
// partition is being processed, and when the worker lets it go. Losing the
// last seconds (a crash) costs correlation, never attempts: status lines are
// decoded without it.
func (p *Pipeline) sessionStore(sess *ingest.Session, topic string, partition int) func(final bool) {
	if p.deps.StateDir == "" {
		return func(bool) {}
	}
	log := p.log.With("stage", "ingest", "topic", topic, "partition", partition)
	dir := filepath.Join(p.deps.StateDir, "ingest-state")
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", topic, partition))
	if b, err := os.ReadFile(path); err == nil {
		if err := sess.Restore(b); err != nil {
			log.Warn("adapter state not restored; correlation starts afresh", "file", path, "err", err)
		} else {
			log.Info("adapter state restored", "file", path, "bytes", len(b))
		}
	}
	last := time.Now()
	return func(final bool) {
		if !final && time.Since(last) < 10*time.Second {
			return
		}
		last = time.Now()
		b, err := sess.Snapshot()
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			tmp := path + ".tmp"
			if err = os.WriteFile(tmp, b, 0o644); err == nil {
				err = os.Rename(tmp, path)
			}
		}
		if err != nil {
			log.Warn("adapter state not saved", "file", path, "err", err)
		}
	}
}

// DLQ headers; the value is the original record (cut at dlqMaxBytes).
const (
	HeaderError     = "bounced.error"
	HeaderReason    = "bounced.reason"
	HeaderStage     = "bounced.stage"
	HeaderTopic     = "bounced.source.topic"
	HeaderPartition = "bounced.source.partition"
	HeaderOffset    = "bounced.source.offset"
	HeaderSize      = "bounced.original.size"
	HeaderTruncated = "bounced.truncated"
	dlqMaxBytes     = 256 << 10
)

func (p *Pipeline) dead(stage string, m *kafka.Message, err error) kafka.Message {
	reason := "invalid"
	var re *ingest.RecordError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	p.m.DLQ.WithLabelValues(stage, reason).Inc()
	val := m.Value
	h := []kafka.Header{
		{Key: HeaderError, Value: []byte(err.Error())},
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderStage, Value: []byte(stage)},
		{Key: HeaderTopic, Value: []byte(m.Topic)},
		{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		{Key: HeaderSize, Value: []byte(strconv.Itoa(len(m.Value)))},
	}
	if len(val) > dlqMaxBytes {
		val = val[:dlqMaxBytes]
		h = append(h, kafka.Header{Key: HeaderTruncated, Value: []byte("true")})
	}
	p.log.Debug("record sent to the DLQ", "stage", stage, "reason", reason, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	return kafka.Message{Topic: p.topics.DLQ, Key: m.Key, Value: val, Headers: h}
}
