package suppressions

import (
	"github.com/bounced-dev/bounced/signature"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// DeliveryHeader names a delivery by its place in the topic
// ("<partition>-<offset>"): a receiver can drop a repeat with it (delivery
// is at least once).
const DeliveryHeader = "X-Bounced-Delivery"

// Delivery is the JSON body of one webhook request: one change to the list.
type Delivery struct {
	Address string `json:"address"`
	// Suppressed says whether the receiver must not send to Address. A held
	// record (the incident guard's) comes with Suppressed false.
	Suppressed bool `json:"suppressed"`
	// Record is the address's record; null when it was lifted.
	Record *event.Suppression `json:"record"`
	// At is the record's updated_at; for a lift, when the lift was written
	// to the topic (or, when that is unknown after a restart, sent).
	At time.Time `json:"at"`
}

// WebhookConfig configures a Webhook. URL, Secret and StatePath are
// required.
type WebhookConfig struct {
	URL    string
	Secret []byte
	// StatePath is the file holding the topic positions delivered so far.
	StatePath string
	// Topic is recorded in the state file and checked on resume.
	Topic string
	// Tries is how many times one delivery is tried before the sync stops
	// with an error (default 10).
	Tries int
	// Backoff is the first wait between tries (default 1s); it doubles up
	// to MaxBackoff (default 1m).
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// Client sends the requests (default: http.Client with Timeout).
	Client *http.Client
	// Now is the clock of signatures and lifts (default time.Now).
	Now func() time.Time
}

// Webhook POSTs each change of the list to a URL, signed, in order per
// address (a partition's changes one at a time), retrying failures that
// can end (timeouts, 5xx, 408, 429) with backoff. It is a Handler of a
// Feed. Positions are saved to a state file so a restart resumes: delivery
// is at least once (a change sent just before a crash is sent again).
type Webhook struct {
	cfg WebhookConfig
	log *slog.Logger

	mu      sync.Mutex
	offsets map[int]int64
	changed bool
	saved   time.Time
	sent    int
}

// webhookState is the state file.
type webhookState struct {
	Topic   string        `json:"topic"`
	URL     string        `json:"url"`
	Offsets map[int]int64 `json:"offsets"`
}

// NewWebhook checks cfg and returns its Webhook.
func NewWebhook(cfg WebhookConfig, log *slog.Logger) (*Webhook, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want an absolute http:// or https:// URL", cfg.URL)
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook secret is empty; receivers verify deliveries with it")
	}
	if cfg.StatePath == "" {
		return nil, errors.New("webhook: no state file path")
	}
	if err := checkWritable(cfg.StatePath); err != nil {
		return nil, fmt.Errorf("webhook state: %w", err)
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 10
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg, log: log, offsets: map[int]int64{}}, nil
}

// Resume reads the state file and returns the positions to resume from;
// nil (a first run) when there is no file. A file written for another URL
// or topic is an error: its positions say nothing about this receiver.
func (w *Webhook) Resume() (map[int]int64, error) {
	b, err := os.ReadFile(w.cfg.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook state: %w", err)
	}
	var st webhookState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("webhook state %s: not a state file (%v); delete it to send everything again", w.cfg.StatePath, err)
	}
	if st.URL != w.cfg.URL || st.Topic != w.cfg.Topic {
		return nil, fmt.Errorf("webhook state %s was written for %s from topic %s, not %s from %s; give this receiver its own --state",
			w.cfg.StatePath, st.URL, st.Topic, w.cfg.URL, w.cfg.Topic)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, off := range st.Offsets {
		w.offsets[p] = off
	}
	return st.Offsets, nil
}

// Sent is the number of deliveries made so far.
func (w *Webhook) Sent() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sent
}

// Change delivers c and records its position.
func (w *Webhook) Change(ctx context.Context, c Change) error {
	d := Delivery{Address: c.Address, Suppressed: c.Enforced(), Record: c.Record, At: c.At}
	if c.Record != nil {
		d.At = c.Record.UpdatedAt
	} else if d.At.IsZero() {
		d.At = w.cfg.Now()
	}
	d.At = d.At.UTC()
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("webhook: encode change of %s: %w", c.Address, err)
	}
	id := strconv.Itoa(c.Partition) + "-" + strconv.FormatInt(c.Offset, 10)
	if err := w.deliver(ctx, id, body); err != nil {
		return fmt.Errorf("webhook: change of %s (partition %d, offset %d): %w", c.Address, c.Partition, c.Offset, err)
	}
	w.mu.Lock()
	w.sent++
	w.mu.Unlock()
	w.Reached(c.Partition, c.Offset+1)
	return w.saveEvery(time.Second)
}

// Reached records that partition is delivered up to offset.
func (w *Webhook) Reached(partition int, offset int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if offset > w.offsets[partition] || !w.has(partition) {
		w.offsets[partition] = offset
		w.changed = true
	}
}

func (w *Webhook) has(p int) bool { _, ok := w.offsets[p]; return ok }

// CaughtUp saves the positions.
func (w *Webhook) CaughtUp(context.Context) error { return w.Save() }

// saveEvery saves the positions when the last save is older than d.
func (w *Webhook) saveEvery(d time.Duration) error {
	w.mu.Lock()
	due := time.Since(w.saved) >= d
	w.mu.Unlock()
	if !due {
		return nil
	}
	return w.Save()
}

// Save writes the positions to the state file (atomically) if they moved.
func (w *Webhook) Save() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.changed {
		return nil
	}
	st := webhookState{Topic: w.cfg.Topic, URL: w.cfg.URL, Offsets: make(map[int]int64, len(w.offsets))}
	for p, off := range w.offsets {
		st.Offsets[p] = off
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("webhook state: %w", err)
	}
	if err := WriteAtomic(w.cfg.StatePath, append(b, '\n')); err != nil {
		return fmt.Errorf("webhook state: %w", err)
	}
	w.changed, w.saved = false, time.Now()
	return nil
}

// errPermanent marks an answer that another try would not change.
var errPermanent = errors.New("refused")

// deliver POSTs body until the receiver takes it, the tries run out or ctx
// ends.
func (w *Webhook) deliver(ctx context.Context, id string, body []byte) error {
	wait := w.cfg.Backoff
	var last error
	for try := 1; try <= w.cfg.Tries; try++ {
		last = w.post(ctx, id, body)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(last, errPermanent) {
			return last
		}
		if try == w.cfg.Tries {
			break
		}
		w.log.Warn("webhook delivery failed; retrying", "url", w.cfg.URL, "delivery", id, "try", try, "wait", wait, "err", last)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, w.cfg.MaxBackoff)
	}
	return fmt.Errorf("gave up after %d tries: %w", w.cfg.Tries, last)
}

// post makes one request. A refusal that retrying cannot fix (a 4xx but
// 408 and 429, a redirect) wraps errPermanent.
func (w *Webhook) post(ctx context.Context, id string, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bounced-suppress-sync")
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(signature.Header, signature.Sign(w.cfg.Secret, w.cfg.Now(), body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	default:
		return fmt.Errorf("%w: receiver answered %s (not retried: fix the receiver or the secret): %s",
			errPermanent, resp.Status, strings.TrimSpace(string(snippet)))
	}
}

// DefaultStatePath is where a webhook sync keeps its positions when no
// --state is given: under dir, named for the URL, so two receivers never
// share one.
func DefaultStatePath(dir, rawURL string) string {
	h := sha256.Sum256([]byte(rawURL))
	return filepath.Join(dir, "suppress-sync", "webhook-"+hex.EncodeToString(h[:6])+".json")
}
