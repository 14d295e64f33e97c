package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/processor"
	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/schemas"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

func runCmd(ctx context.Context, io IO, args []string) error {
	cfg, err := load(flags("run", io), args, io)
	if err != nil {
		return err
	}
	n, err := startNode(ctx, cfg, io, startEmbedded)
	if err != nil {
		return err
	}
	defer n.close()
	if n.e.ch != nil && cfg.ClickHouse.Retention > 0 { // daily partition drop (18.16 has no TTL)
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go n.e.ch.Retain(rctx, cfg.ClickHouse.Retention, n.e.log)
	}
	return n.run(ctx)
}

// node is one running bounced: the pipeline, the suppression view and the
// HTTP server, over an env. `run`, `demo` and `bench` share it.
type node struct {
	e         *env
	rules     *classify.Live
	rulesPoll time.Duration // how often the rules file is checked; default 2s
	p         *processor.Pipeline
	view      *suppressions.View
	reg       *prometheus.Registry
	metrics   *processor.Metrics
	srv       *http.Server
	ln        net.Listener
	dash      *clickhouse.Client // the dashboard's own pool; nil without ClickHouse or HTTP
	alerts    *alerts.Runner     // nil for ingest-only members
	intakeW   *kafka.Writer      // the webhook intake's writer; nil unless intake.enabled
}

func loadClassifier(cfg *config.Config) (*classify.Classifier, error) {
	rules, err := classify.DefaultRules()
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	if cfg.Classify.RulesFile != "" {
		user, err := classify.LoadFile(cfg.Classify.RulesFile)
		if err != nil {
			return nil, fmt.Errorf("classify.rules_file: %w", err)
		}
		rules = classify.Merge(rules, user)
	}
	return classify.New(rules)
}

// startNode connects everything a member needs and verifies the topology,
// but processes nothing until run.
func startNode(ctx context.Context, cfg *config.Config, io IO, mode kafkaMode) (_ *node, err error) {
	clientID := memberClientID(cfg)
	cfg.Kafka.Conn.ClientID = clientID
	e, err := newEnv(ctx, cfg, io, mode)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.embedded != nil {
		// The embedded broker is ours: create what is missing.
		created, err := topics.Ensure(ctx, e.adm, cfg.Kafka.Topics, true)
		if err != nil {
			return nil, err
		}
		if len(created) > 0 {
			e.log.Info("topics created", "topics", created)
		}
	} else if err := topics.Verify(ctx, e.adm, cfg.Kafka.Topics); err != nil {
		return nil, err
	}
	pc := cfg.Pipeline.WithDefaults()
	if err := e.evictPrevious(ctx, clientID, pc.IngestGroup, pc.DecideGroup); err != nil {
		e.log.Warn("could not check the consumer groups for a previous run's members; a restart after a crash may wait for the session timeout", "err", err)
	}
	if cfg.Pipeline.Stage != "ingest" {
		if err := e.openClickHouse(ctx); err != nil {
			return nil, err
		}
	}
	cls, err := loadClassifier(cfg)
	if err != nil {
		return nil, err
	}
	live := classify.NewLive(cls)
	ing, err := ingest.New(cfg.Ingest, live, schemas.Attempt)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := processor.NewMetrics(reg)
	var st processor.Store = noStore{}
	if e.ch != nil {
		st = store{e.ch}
	}
	p, err := processor.New(cfg.Pipeline, cfg.Kafka.Topics, cfg.Policy, processor.Deps{
		Conn: e.conn, Ingester: ing, Store: st, Metrics: m, Log: e.log, StateDir: cfg.DataDir,
		TopicID: func(ctx context.Context, topic string) (string, error) { return topics.Incarnation(ctx, e.kgo, topic) },
	})
	if err != nil {
		return nil, err
	}
	n := &node{e: e, rules: live, p: p, reg: reg, metrics: m, view: suppressions.NewView(e.conn, cfg.Kafka.Topics.Suppressions, e.log)}
	if e.ch != nil && cfg.Pipeline.Stage != "ingest" {
		n.alerts = n.alertRunner(reg)
	}
	if cfg.HTTP.Addr != "" {
		if err := n.listen(ctx); err != nil {
			p.Close()
			return nil, err
		}
	}
	return n, nil
}

// listen opens the HTTP server's socket and builds the server. The
// dashboard reads through a pool of its own (clickhouse.dashboard_max_conns),
// so its queries never take the connections stage 2 inserts with.
func (n *node) listen(ctx context.Context) error {
	cfg := n.e.cfg
	token, err := cfg.HTTP.BearerToken() // checked by config.Load; read once here
	if err != nil {
		return err
	}
	if n.e.ch != nil {
		if n.dash, err = n.e.ch.ReadPool(ctx); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		if n.dash != nil {
			n.dash.Close()
		}
		return fmt.Errorf("http.addr: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && token == "" {
		n.e.log.Warn("the HTTP server listens beyond this host without a token: anyone who reaches it can read the suppression list and the dashboard; set http.token (or http.token_file) or bind http.addr to 127.0.0.1",
			"addr", ln.Addr().String())
	}
	opts := []api.Option{api.WithDashboard(n.dash), api.WithPprof(cfg.HTTP.Pprof), api.WithToken(token),
		api.WithDashboardLimit(cfg.ClickHouse.DashboardMaxConns, 0)}
	if n.dash != nil {
		// An address's history reads through the dashboard's pool and
		// the node's Kafka connection (the state changelog).
		opts = append(opts, api.WithTimeline(timeline{ch: n.dash, conn: n.e.conn, topic: cfg.Kafka.Topics.WithDefaults().State, log: n.e.log}))
	}
	if cfg.Intake.Enabled {
		h, w, err := newIntake(n.e, n.reg)
		if err != nil {
			ln.Close()
			if n.dash != nil {
				n.dash.Close()
			}
			return err
		}
		n.intakeW = w
		opts = append(opts, api.WithIntake(h))
	}
	n.ln = ln
	n.srv = api.NewServer(api.Handler(n.reg, n.view, n.ready, n.e.log, opts...))
	return nil
}

// ready reports whether the member can do its work: ClickHouse answers.
func (n *node) ready() error {
	if n.e.ch == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.e.ch.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// run processes until ctx is cancelled, then drains and returns.
func (n *node) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.p.Run(gctx) })
	g.Go(func() error { return n.view.Follow(gctx) })
	g.Go(func() error { n.watchRules(gctx); return nil })
	if n.alerts != nil {
		g.Go(func() error { return n.alerts.Run(gctx) })
	}
	if n.srv != nil {
		n.e.log.Info("http server listening", "addr", n.ln.Addr().String())
		g.Go(func() error {
			if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return n.srv.Shutdown(sctx)
		})
	}
	n.e.log.Info("bounced running", "stage", n.e.cfg.Pipeline.Stage, "input_topics", n.e.cfg.Kafka.Topics.WithDefaults().Input)
	err := g.Wait()
	n.e.log.Info("bounced stopped")
	return err
}

// watchRules reloads the classifier rules on SIGHUP and when
// classify.rules_file changes on disk. A file that does not load is logged
// with what is wrong and the rules in use stay.
func (n *node) watchRules(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	path := n.e.cfg.Classify.RulesFile
	modTime := func() time.Time {
		if path == "" {
			return time.Time{}
		}
		st, err := os.Stat(path)
		if err != nil {
			return time.Time{}
		}
		return st.ModTime()
	}
	last := modTime()
	every := n.rulesPoll
	if every == 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-tick.C:
			if m := modTime(); m.Equal(last) {
				continue
			} else {
				last = m
			}
		}
		cls, err := loadClassifier(n.e.cfg)
		if err != nil {
			n.e.log.Error("classifier rules not reloaded; the previous rules stay in use", "err", err)
			continue
		}
		n.rules.Swap(cls)
		n.e.log.Info("classifier rules reloaded", "rules", cls.Rules(), "file", path)
	}
}

func (n *node) close() {
	n.p.Close()
	if n.intakeW != nil {
		n.intakeW.Close()
	}
	if n.dash != nil {
		n.dash.Close()
	}
	n.e.close()
}

// noStore serves ingest-only members, which write nothing to ClickHouse.
type noStore struct{}

func (noStore) Assign(context.Context, string, int32) error      { return nil }
func (noStore) Revoke(string, int32)                             {}
func (noStore) WriteAlerts(context.Context, []event.Alert) error { return nil }
func (noStore) WriteAttempts(context.Context, []decide.Row) error {
	return errors.New("no ClickHouse in an ingest-only member")
}
func (noStore) WriteSuppressions(context.Context, []decide.Change) error {
	return errors.New("no ClickHouse in an ingest-only member")
}

// alertRunner evaluates the rate alerts on whichever member owns attempts
// partition 0, and publishes their changes to the alerts topic and
// ClickHouse.
func (n *node) alertRunner(reg prometheus.Registerer) *alerts.Runner {
	tc := n.e.cfg.Kafka.Topics.WithDefaults()
	w := n.e.conn.NewWriter()
	return &alerts.Runner{
		Config:  n.e.cfg.Alerts,
		Source:  n.e.ch,
		Leader:  n.p.Leader,
		Log:     n.e.log,
		Metrics: alerts.NewMetrics(reg),
		History: func(ctx context.Context) ([]event.Alert, error) { return alertHistory(ctx, n.e, tc.Alerts) },
		Publish: func(ctx context.Context, as []event.Alert) error {
			msgs, err := topics.AlertMessages(tc.Alerts, as)
			if err != nil {
				return err
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("alerts topic: %w", err)
			}
			return n.e.ch.InsertAlerts(ctx, as)
		},
	}
}

// alertHistory reads the alerts topic back, oldest first.
func alertHistory(ctx context.Context, e *env, topic string) ([]event.Alert, error) {
	parts, err := e.conn.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []event.Alert
	for p := range parts {
		if _, err := e.conn.Scan(ctx, topic, p, func(_ int64, _, val []byte) error {
			var a event.Alert
			if json.Unmarshal(val, &a) == nil && a.Rule != "" {
				out = append(out, a)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
