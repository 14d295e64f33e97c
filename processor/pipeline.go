package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// Deps are the pipeline's collaborators.
type Deps struct {
	Conn     *broker.Clients
	Ingester *ingest.Ingester
	Store    Store
	Metrics  *Metrics
	Log      *slog.Logger
	// StateDir keeps local state across restarts: stage 1's adapter state
	// (Postfix queue-id correlation, Exim arrivals, PowerMTA headers) per
	// input partition, and stage 2's checkpoints. Empty keeps both in
	// memory only.
	StateDir string
	// TopicID returns the incarnation of a topic (topics.Incarnation), ""
	// when the cluster has none: stage 1 puts it in every attempt's source
	// position, so that a recreated input topic, whose offsets begin again,
	// is never taken for the old one. Nil: no incarnations.
	TopicID func(ctx context.Context, topic string) (string, error)
}

// Pipeline runs stage 1, stage 2 or both.
type Pipeline struct {
	cfg    Config
	topics topics.Config
	base   *base
	ingest *ingestStage
	decide *decideStage
}

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
	b := &base{cfg: cfg, conn: deps.Conn, m: deps.Metrics, log: deps.Log,
		out: deps.Conn.NewWriter(), parts: deps.Conn.NewPartitionWriter(), dlqTopic: tc.DLQ}
	return &Pipeline{
		cfg: cfg, topics: tc, base: b,
		ingest: &ingestStage{base: b, topics: tc, ingester: deps.Ingester, stateDir: deps.StateDir, topicID: deps.TopicID},
		decide: &decideStage{flusher: &flusher{base: b, topics: tc, store: deps.Store}, policy: policy.WithDefaults(),
			ckpt: statestore.Checkpoints{Dir: deps.StateDir, Topic: tc.State}, now: time.Now},
	}, nil
}

// Leader reports whether this member owns attempts partition 0 in stage 2,
// which makes it the one member that evaluates the rate alerts.
func (p *Pipeline) Leader() bool { return p.decide.leader.Load() }

// Run runs the configured stages until ctx is cancelled, then drains: each
// partition worker flushes what it read, commits and leaves the group.
// Drains are bounded by pipeline.drain_timeout.
func (p *Pipeline) Run(ctx context.Context) error {
	p.base.hard = context.WithoutCancel(ctx)
	p.base.stopping = ctx
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	start := func(name string, fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	b := p.base
	if p.cfg.Stage == "all" || p.cfg.Stage == "ingest" {
		start("ingest", func(ctx context.Context) error {
			return runGroup(ctx, b.conn, p.cfg.IngestGroup, p.topics.Input, p.cfg.SessionTimeout, b.log,
				func(parts []int) { b.m.Owned.WithLabelValues("ingest").Set(float64(len(parts))) }, p.ingest.work)
		})
	}
	if p.cfg.Stage == "all" || p.cfg.Stage == "decide" {
		start("decide", func(ctx context.Context) error {
			return runGroup(ctx, b.conn, p.cfg.DecideGroup, []string{p.topics.Attempts}, p.cfg.SessionTimeout, b.log,
				p.decide.assigned, p.decide.work)
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return errors.Join(all...)
}

// Close releases the writers.
func (p *Pipeline) Close() error {
	return errors.Join(p.base.out.Close(), p.base.parts.Close())
}
