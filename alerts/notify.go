package alerts

import (
	"github.com/bounced-dev/bounced/signature"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// The values of the result label of bounced_alert_notifications_total.
// They are stable.
const (
	NotifySent    = "sent"    // the receiver answered 2xx
	NotifyRetried = "retried" // a delivery failed and will be tried again
	NotifyFailed  = "failed"  // given up: retries spent, or a 4xx refusal
	NotifyDropped = "dropped" // the queue was full; never sent
)

// WebhookConfig is alerts.webhook.*: where alert changes are posted.
type WebhookConfig struct {
	// URL receives one POST per alert change; empty sends none. A Slack or
	// Mattermost incoming-webhook URL works as is: the body's text field
	// is the message, the other fields are ignored there.
	URL string `koanf:"url"`
	// SecretFile holds the HMAC secret (trimmed, read at start); empty
	// sends no signature header.
	SecretFile string `koanf:"secret_file"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `koanf:"timeout"`
	// Queue is how many changes wait for delivery; more are dropped,
	// counted and logged, so a dead receiver never holds up the alerts.
	// Default 256.
	Queue int `koanf:"queue"`
	// Retries is how many times a failed delivery is tried again, with
	// backoff from 1s doubling to 1m. Default 5.
	Retries int `koanf:"retries"`
}

// WithDefaults fills unset fields.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Queue == 0 {
		c.Queue = 256
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	return c
}

// Validate names the first setting that cannot work.
func (c WebhookConfig) Validate() error {
	if c.URL == "" {
		if c.SecretFile != "" {
			return errors.New("alerts.webhook.secret_file is set without alerts.webhook.url")
		}
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("alerts.webhook.url %q is not an http:// or https:// URL with a host", redact(c.URL))
	}
	c = c.WithDefaults()
	switch {
	case c.Timeout < 0:
		return fmt.Errorf("alerts.webhook.timeout %s is negative", c.Timeout)
	case c.Queue < 1:
		return fmt.Errorf("alerts.webhook.queue %d must be at least 1", c.Queue)
	case c.Retries < 0:
		return fmt.Errorf("alerts.webhook.retries %d is negative", c.Retries)
	}
	return nil
}

// redact keeps a URL's scheme and host only: incoming-webhook URLs carry
// their token in the path.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Notifier posts alert changes to a webhook from a bounded queue, in order,
// retrying failures with backoff. Notify never blocks.
type Notifier struct {
	cfg     WebhookConfig
	secret  []byte
	client  *http.Client
	queue   chan event.Alert
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	backoff time.Duration // the first retry's wait; doubles up to maxWait
	maxWait time.Duration
}

// NewNotifier reads the secret file and returns a notifier for cfg; nil,
// nil when no URL is set. Metrics may be nil.
func NewNotifier(cfg WebhookConfig, log *slog.Logger, m *Metrics, now func() time.Time) (*Notifier, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	var secret []byte
	if cfg.SecretFile != "" {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("alerts.webhook.secret_file: %w", err)
		}
		secret = bytes.TrimSpace(b)
		if len(secret) == 0 {
			return nil, fmt.Errorf("alerts.webhook.secret_file %s is empty; expected the HMAC secret", cfg.SecretFile)
		}
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if now == nil {
		now = time.Now
	}
	return &Notifier{
		cfg: cfg, secret: secret, log: log, metrics: m, now: now,
		client:  &http.Client{Timeout: cfg.Timeout},
		queue:   make(chan event.Alert, cfg.Queue),
		backoff: time.Second, maxWait: time.Minute,
	}, nil
}

// Notify queues changes for delivery; what does not fit is dropped,
// counted and logged.
func (n *Notifier) Notify(changes []event.Alert) {
	for _, a := range changes {
		select {
		case n.queue <- a:
		default:
			n.metrics.Notifications.WithLabelValues(NotifyDropped).Inc()
			n.log.Warn("alerts: webhook queue full; notification dropped", "rule", a.Rule, "scope", a.Scope, "subject", a.Subject, "state", a.State, "queue", cap(n.queue))
		}
	}
}

// Run delivers queued changes until ctx ends; what is still queued then
// is left undelivered (the alerts topic and table keep every change).
func (n *Notifier) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			if left := len(n.queue); left > 0 {
				n.log.Warn("alerts: stopping with webhook notifications undelivered", "count", left)
			}
			return nil
		case a := <-n.queue:
			n.deliver(ctx, a)
		}
	}
}

// deliver posts one change, retrying what may succeed later: transport
// errors, 429 and 5xx.
func (n *Notifier) deliver(ctx context.Context, a event.Alert) {
	body, err := Body(a)
	if err != nil { // cannot happen for an event.Alert; counted, not fatal
		n.metrics.Notifications.WithLabelValues(NotifyFailed).Inc()
		n.log.Error("alerts: cannot encode a webhook notification", "rule", a.Rule, "err", err)
		return
	}
	wait := n.backoff
	for try := 0; ; try++ {
		retry, err := n.post(ctx, body)
		if err == nil {
			n.metrics.Notifications.WithLabelValues(NotifySent).Inc()
			return
		}
		if !retry || try >= n.cfg.Retries || ctx.Err() != nil {
			n.metrics.Notifications.WithLabelValues(NotifyFailed).Inc()
			n.log.Warn("alerts: webhook notification failed; giving up", "rule", a.Rule, "scope", a.Scope, "subject", a.Subject, "state", a.State, "tries", try+1, "err", err)
			return
		}
		n.metrics.Notifications.WithLabelValues(NotifyRetried).Inc()
		n.log.Info("alerts: webhook notification failed; retrying", "rule", a.Rule, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, n.maxWait)
	}
}

// post sends body once; retry says whether a failure may pass later.
func (n *Notifier) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bounced-alerts")
	if n.secret != nil {
		req.Header.Set(signature.Header, signature.Sign(n.secret, n.now(), body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// The error names the URL, whose path may be a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fmt.Errorf("webhook post to %s: %w", redact(n.cfg.URL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook %s answered %s", redact(n.cfg.URL), resp.Status)
	}
	return false, fmt.Errorf("webhook %s refused the notification: %s", redact(n.cfg.URL), resp.Status)
}

// Body is a webhook's JSON body for one change: the alert record (the
// alerts topic's fields) plus text, the line a Slack or Mattermost
// incoming webhook shows.
func Body(a event.Alert) ([]byte, error) {
	b, err := json.Marshal(struct {
		event.Alert
		Text string `json:"text"`
	}{a, Text(a)})
	if err != nil {
		return nil, fmt.Errorf("alert notification body: %w", err)
	}
	return b, nil
}

// Text is a change as one chat line: state, severity, rule, subject and
// the alert's message.
func Text(a event.Alert) string {
	return fmt.Sprintf("[%s %s] %s %s %s: %s", strings.ToUpper(a.State), a.Severity, a.Rule, a.Scope, a.Subject, a.Message)
}
