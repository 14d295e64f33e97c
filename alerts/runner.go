package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/processor/event"
)

// Config is the alerts.* section.
type Config struct {
	// Disabled turns rate alerts off (the incident guard still alerts).
	Disabled bool `koanf:"disabled"`
	// Interval is how often the rules are evaluated. Default 1m.
	Interval time.Duration `koanf:"interval"`
	// Window is the send time span the send rates cover. Default 24h.
	Window time.Duration `koanf:"window"`
	// BlockWindow is the span block spikes are measured over. Default 1h.
	BlockWindow time.Duration `koanf:"block_window"`
	// Rules replace the default rules when set.
	Rules []Rule `koanf:"rules"`
	// Webhook is where the leader posts alert changes (none by default).
	Webhook WebhookConfig `koanf:"webhook"`
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.Window == 0 {
		c.Window = 24 * time.Hour
	}
	if c.BlockWindow == 0 {
		c.BlockWindow = time.Hour
	}
	if len(c.Rules) == 0 {
		c.Rules = DefaultRules()
	}
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Interval < time.Second {
		return fmt.Errorf("alerts.interval: %s is shorter than 1s", c.Interval)
	}
	if c.Window < time.Hour || c.BlockWindow < time.Minute {
		return fmt.Errorf("alerts.window (%s) must be at least 1h and alerts.block_window (%s) at least 1m", c.Window, c.BlockWindow)
	}
	if err := c.Webhook.Validate(); err != nil {
		return err
	}
	return Validate(c.Rules)
}

// Source measures the counts the rules judge.
type Source interface {
	AlertCounts(ctx context.Context, sends, attempts time.Time) ([]Counts, error)
}

// TrendSource is a Source that also measures the baseline rules' trends: each
// subject's last hour before at, and the baseline span before that hour. A
// Source without it leaves the baseline rules out.
type TrendSource interface {
	AlertTrends(ctx context.Context, at time.Time, baseline time.Duration) ([]Trend, error)
}

// Runner evaluates the rules on one member at a time: the one whose Leader
// says so (bounced uses the owner of attempts partition 0, so leadership
// follows the consumer group). A member that becomes leader first restores
// what is firing from History, so it does not fire again what its
// predecessor fired.
type Runner struct {
	Config  Config
	Source  Source
	Leader  func() bool
	History func(ctx context.Context) ([]event.Alert, error)
	// Publish writes state changes (to the alerts topic and ClickHouse);
	// the changes count as made only when it succeeds.
	Publish func(ctx context.Context, changes []event.Alert) error
	Log     *slog.Logger
	Metrics *Metrics
	Now     func() time.Time

	// shown are the bounced_alert_firing series set now, by alert key.
	shown map[string][]string
}

// Metrics are the alerts' Prometheus series.
type Metrics struct {
	Firing  *prometheus.GaugeVec   // alerts firing now, by rule, scope and severity (on the leader)
	Changes *prometheus.CounterVec // state changes emitted, by rule and state
	// Alert is 1 per alert firing now, by rule, scope, subject and
	// severity (on the leader); a resolved alert's series is removed. It
	// is what Prometheus alerting rules (and so Alertmanager) route on.
	Alert *prometheus.GaugeVec
	// Notifications counts webhook deliveries by result (NotifySent, ...).
	Notifications *prometheus.CounterVec
}

// NewMetrics registers the series on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Firing:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bounced_alerts_firing", Help: "Rate alerts firing now, by rule, scope and severity (reported by the member that evaluates them)."}, []string{"rule", "scope", "severity"}),
		Changes:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_alert_changes_total", Help: "Alert state changes emitted, by rule and state."}, []string{"rule", "state"}),
		Alert:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bounced_alert_firing", Help: "1 for each rate alert firing now, by rule, scope, subject and severity; absent once resolved (reported by the member that evaluates them)."}, []string{"rule", "scope", "subject", "severity"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_alert_notifications_total", Help: "Alert webhook deliveries by result: sent, retried, failed (given up), dropped (queue full)."}, []string{"result"}),
	}
	for _, r := range []string{NotifySent, NotifyRetried, NotifyFailed, NotifyDropped} {
		m.Notifications.WithLabelValues(r) // every result shows from the start, at 0
	}
	if reg != nil {
		reg.MustRegister(m.Firing, m.Changes, m.Alert, m.Notifications)
	}
	return m
}

// Run evaluates every Interval until ctx ends, and posts the changes to the
// webhook when one is configured (its secret file is read here: an error
// names it).
func (r *Runner) Run(ctx context.Context) error {
	cfg := r.Config.WithDefaults()
	if cfg.Disabled {
		return nil
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	notifier, err := NewNotifier(cfg.Webhook, r.Log, r.Metrics, now)
	if err != nil {
		return err
	}
	if notifier != nil {
		nctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = notifier.Run(nctx) }()
		defer func() { stop(); <-done }()
	}
	rules := cfg.Rules
	if _, ok := r.Source.(TrendSource); !ok {
		rules = slices.DeleteFunc(slices.Clone(rules), func(x Rule) bool { return IsBaseline(x.Metric) })
	}
	var ev *Evaluator
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !r.Leader() {
			if ev != nil {
				r.Metrics.Firing.Reset()
				r.Metrics.Alert.Reset()
				r.shown = nil
			}
			ev = nil
			continue
		}
		if ev == nil {
			hist, err := r.History(ctx)
			if err != nil {
				r.Log.Warn("alerts: cannot read the alert history; evaluating later", "err", err)
				continue
			}
			ev = New(rules)
			ev.Restore(hist)
		}
		if err := r.tick(ctx, ev, cfg, now(), notifier); err != nil {
			r.Log.Warn("alerts: evaluation failed; retrying at the next interval", "err", err)
			ev = nil // restore from the history again: it is what was published
		}
	}
}

func (r *Runner) tick(ctx context.Context, ev *Evaluator, cfg Config, at time.Time, notifier *Notifier) error {
	counts, err := r.Source.AlertCounts(ctx, at.Add(-cfg.Window), at.Add(-cfg.BlockWindow))
	if err != nil {
		return err
	}
	var trends []Trend
	for _, b := range ev.Baselines() {
		ts, err := r.Source.(TrendSource).AlertTrends(ctx, at, b)
		if err != nil {
			return err
		}
		trends = append(trends, ts...)
	}
	changes := ev.EvaluateAll(at, cfg.Window, counts, trends)
	if len(changes) > 0 {
		if err := r.Publish(ctx, changes); err != nil {
			return err
		}
		if notifier != nil {
			notifier.Notify(changes) // published: now they may reach people
		}
	}
	for _, a := range changes {
		r.Metrics.Changes.WithLabelValues(a.Rule, a.State).Inc()
		r.Log.Info("alert "+a.State, "rule", a.Rule, "scope", a.Scope, "subject", a.Subject, "severity", a.Severity, "value", a.Value, "volume", a.Volume)
	}
	r.Metrics.Firing.Reset()
	shown := map[string][]string{}
	for _, a := range ev.Firing() {
		r.Metrics.Firing.WithLabelValues(a.Rule, a.Scope, a.Severity).Inc()
		labels := []string{a.Rule, a.Scope, a.Subject, a.Severity}
		r.Metrics.Alert.WithLabelValues(labels...).Set(1)
		shown[a.Key()] = labels
	}
	// Remove resolved alerts' series one by one rather than Reset, so a
	// scrape never sees a firing alert missing for a moment.
	for key, labels := range r.shown {
		if _, ok := shown[key]; !ok {
			r.Metrics.Alert.DeleteLabelValues(labels...)
		}
	}
	r.shown = shown
	return nil
}
