package alerts

import (
	"github.com/bounced-dev/bounced/signature"

	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bounced-dev/bounced/processor/event"
)

// trendSource is a Source with trends: the current step's.
type trendSource struct {
	stepSource
	trends atomic.Pointer[[]Trend]
}

func (s *trendSource) AlertTrends(_ context.Context, _ time.Time, baseline time.Duration) ([]Trend, error) {
	var out []Trend
	if p := s.trends.Load(); p != nil {
		for _, t := range *p {
			if t.Baseline == baseline {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// TestAlertWebhookFiringThenResolved runs the leader's loop against a webhook
// that fails once: the soft_spike alert reaches it firing (after a retry),
// then resolved, each with a valid signature and a Slack text; the
// per-subject gauge is 1 while firing and gone once resolved.
func TestAlertWebhookFiringThenResolved(t *testing.T) {
	secret := "s3cret-for-tests"
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []map[string]any
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried
			return
		}
		body, _ := io.ReadAll(r.Body)
		if err := signature.Verify([]byte(secret), r.Header.Get(signature.Header), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()

	src := &trendSource{}
	week := 7 * 24 * time.Hour
	spike := []Trend{{Scope: "domain", Subject: "example.org", Baseline: week, Hour: Tally{Sends: 420, Soft: 50}, Base: Tally{Sends: 10000, Soft: 290}}}
	calm := []Trend{{Scope: "domain", Subject: "example.org", Baseline: week, Hour: Tally{Sends: 420, Soft: 12}, Base: Tally{Sends: 10000, Soft: 290}}}
	src.trends.Store(&spike)
	m := NewMetrics(nil)
	r := &Runner{
		Config:  Config{Interval: 10 * time.Millisecond, Webhook: WebhookConfig{URL: srv.URL + "/hooks/T000/B000/XXXX", SecretFile: file}},
		Source:  src,
		Leader:  func() bool { return true },
		History: func(context.Context) ([]event.Alert, error) { return nil, nil },
		Publish: func(context.Context, []event.Alert) error { return nil },
		Log:     slog.New(slog.DiscardHandler),
		Metrics: m,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	// A test's first retry waits the real 1s backoff; that is the price of
	// exercising the production path.
	gauge := func() float64 {
		return value(m.Alert.WithLabelValues("soft_spike", "domain", "example.org", "warning"))
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	waitFor(t, func() bool { return gauge() == 1 }) // bounced_alert_firing while firing
	src.trends.Store(&calm)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	waitFor(t, func() bool { return count(m.Alert) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, state := range []string{"firing", "resolved"} {
		a := got[i]
		if a["rule"] != "soft_spike" || a["state"] != state || a["subject"] != "example.org" || a["severity"] != "warning" {
			t.Errorf("notification %d: %v, want soft_spike %s", i, a, state)
		}
		text, _ := a["text"].(string)
		if !strings.HasPrefix(text, "["+strings.ToUpper(state)+" warning] soft_spike domain example.org: The soft-bounce rate") {
			t.Errorf("notification %d: text %q", i, text)
		}
	}
	for result, want := range map[string]float64{NotifySent: 2, NotifyRetried: 1, NotifyFailed: 0, NotifyDropped: 0} {
		if v := value(m.Notifications.WithLabelValues(result)); v != want {
			t.Errorf("bounced_alert_notifications_total{result=%q} = %v, want %v", result, v, want)
		}
	}
}

// TestNotifierQueueOverflow: a full queue drops (and counts) what does not
// fit instead of blocking the evaluation.
func TestNotifierQueueOverflow(t *testing.T) {
	m := NewMetrics(nil)
	n, err := NewNotifier(WebhookConfig{URL: "http://127.0.0.1:1/", Queue: 2}, slog.New(slog.DiscardHandler), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(make([]event.Alert, 5)) // nothing runs: the queue holds 2
	if v := value(m.Notifications.WithLabelValues(NotifyDropped)); v != 3 {
		t.Fatalf("dropped %v, want 3", v)
	}
}

// TestNotifierGivesUpOn4xx: a refusal is not retried.
func TestNotifierGivesUpOn4xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer srv.Close()
	m := NewMetrics(nil)
	n, err := NewNotifier(WebhookConfig{URL: srv.URL}, slog.New(slog.DiscardHandler), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.deliver(context.Background(), event.Alert{Rule: "x", State: event.AlertFiring})
	if calls.Load() != 1 || value(m.Notifications.WithLabelValues(NotifyFailed)) != 1 {
		t.Fatalf("%d calls, failed %v; want 1 call, 1 failed", calls.Load(), value(m.Notifications.WithLabelValues(NotifyFailed)))
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  WebhookConfig
		want string
	}{
		{WebhookConfig{}, ""},
		{WebhookConfig{URL: "https://hooks.slack.com/services/T/B/X"}, ""},
		{WebhookConfig{URL: "hooks.slack.com/services/T/B/X"}, "not an http:// or https:// URL"},
		{WebhookConfig{SecretFile: "/run/secret"}, "without alerts.webhook.url"},
		{WebhookConfig{URL: "http://x", Queue: -1}, "queue -1"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: err %v, want %q", c.cfg, err, c.want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// value reads a counter's or gauge's value.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// count is how many series c holds.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
