package suppressions

import (
	"github.com/bounced-dev/bounced/signature"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
)

var secret = []byte("s3cret")

// receiver is a webhook endpoint that verifies signatures and records the
// deliveries per address; fail answers 503 to the first requests.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	fail int
	hits int
	got  map[string][]Delivery
	ids  map[string]int
}

func newReceiver(t *testing.T, fail int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, fail: fail, got: map[string][]Delivery{}, ids: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := signature.Verify(secret, req.Header.Get(signature.Header), body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("delivery does not verify: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits++
	if r.fail > 0 {
		r.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var d Delivery
	if err := json.Unmarshal(body, &d); err != nil {
		r.t.Errorf("delivery body %s: %v", body, err)
	}
	r.got[d.Address] = append(r.got[d.Address], d)
	r.ids[req.Header.Get(DeliveryHeader)]++
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ds := range r.got {
		n += len(ds)
	}
	return n
}

// history is the address's deliveries as reasons ("-" for a lift).
func (r *receiver) history(addr string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.got[addr] {
		if d.Record == nil {
			out = append(out, "-")
		} else {
			out = append(out, d.Record.Reason)
		}
	}
	return strings.Join(out, " ")
}

func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = map[string][]Delivery{}
}

// suppressionTopic starts an embedded broker with a three-partition
// suppressions topic.
func suppressionTopic(t *testing.T) (*broker.Clients, string) {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	conn, err := broker.Config{}.Connect(e.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	const topic = "bounced.suppressions"
	client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
	if _, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	return conn, topic
}

// put writes records ("addr=reason", "addr=" for a lift) in order.
func put(t *testing.T, conn *broker.Clients, topic string, changes ...string) {
	t.Helper()
	w := conn.NewWriter()
	defer w.Close()
	var msgs []kafka.Message
	for _, c := range changes {
		addr, reason, _ := strings.Cut(c, "=")
		m := kafka.Message{Topic: topic, Key: []byte(addr)}
		if reason != "" {
			r := rec(addr, event.StatusSuppressed)
			r.Reason = reason
			m.Value, _ = json.Marshal(r)
		}
		msgs = append(msgs, m)
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func newTestWebhook(t *testing.T, url, state string) *Webhook {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{URL: url, Secret: secret, StatePath: state, Topic: "bounced.suppressions",
		Tries: 5, Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSyncWebhook: a first run sends a snapshot (the newest record of each
// address, lifted ones left out), retrying 503s; then live changes in order
// per address; a restart resumes from the state file and sends only what
// changed while it was down.
func TestSyncWebhook(t *testing.T) {
	ctx := context.Background()
	conn, topic := suppressionTopic(t)
	recv, srv := newReceiver(t, 2)
	state := filepath.Join(t.TempDir(), "state.json")
	var addrs []string
	for i := range 12 {
		addrs = append(addrs, fmt.Sprintf("u%d@x.example", i))
	}
	for _, a := range addrs {
		put(t, conn, topic, a+"=v1", a+"=v2")
	}
	put(t, conn, topic, addrs[0]+"=") // lifted before the first run

	wh := newTestWebhook(t, srv.URL, state)
	from, err := wh.Resume()
	if err != nil || from != nil {
		t.Fatalf("first run resumes from %v (%v); want a snapshot", from, err)
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	caught := make(chan struct{})
	go func() {
		done <- NewFeed(conn, topic, nil).Run(fctx, Start{Follow: true}, &notify{wh, caught})
	}()
	<-caught
	if recv.history(addrs[0]) != "" || recv.history(addrs[1]) != "v2" || recv.count() != 11 {
		t.Fatalf("snapshot: %d deliveries, %s: %q, %s: %q; want 11, nothing for the lifted, v2 only",
			recv.count(), addrs[0], recv.history(addrs[0]), addrs[1], recv.history(addrs[1]))
	}
	recv.mu.Lock()
	hits := recv.hits
	recv.mu.Unlock()
	if hits != 13 {
		t.Errorf("%d requests; want 2 refused with 503 and retried, then 11", hits)
	}
	// Live: a sequence per address, interleaved across addresses.
	for round := range 5 {
		var cs []string
		for _, a := range addrs[1:4] {
			cs = append(cs, fmt.Sprintf("%s=live%d", a, round))
		}
		put(t, conn, topic, cs...)
	}
	put(t, conn, topic, addrs[2]+"=")
	waitFor(t, func() bool { return recv.count() == 11+16 })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := wh.Save(); err != nil {
		t.Fatal(err)
	}
	if got := recv.history(addrs[2]); got != "v2 live0 live1 live2 live3 live4 -" {
		t.Errorf("%s got %q; want its changes in order", addrs[2], got)
	}
	recv.mu.Lock()
	d := recv.got[addrs[2]]
	recv.mu.Unlock()
	if d[len(d)-1].Suppressed || !d[0].Suppressed {
		t.Errorf("suppressed flags wrong: %+v", d)
	}

	// Down: changes pile up. The restart resumes from the state file.
	put(t, conn, topic, addrs[5]+"=after1", addrs[5]+"=after2", addrs[6]+"=")
	recv.reset()
	wh2 := newTestWebhook(t, srv.URL, state)
	from, err = wh2.Resume()
	if err != nil || len(from) != 3 {
		t.Fatalf("resume: %v %v; want three partitions' positions", from, err)
	}
	if err := NewFeed(conn, topic, nil).Run(ctx, Start{From: from}, wh2); err != nil {
		t.Fatal(err)
	}
	if recv.count() != 2 || recv.history(addrs[5]) != "after2" || recv.history(addrs[6]) != "-" {
		t.Errorf("after the restart: %d deliveries (%v); want the newest change of the two addresses changed while down, the lift included", recv.count(), recv.got)
	}

	// Another URL with the same state file is refused.
	other := newTestWebhook(t, srv.URL+"/other", state)
	if _, err := other.Resume(); err == nil || !strings.Contains(err.Error(), "its own --state") {
		t.Errorf("state of another URL: %v", err)
	}
}

type notify struct {
	*Webhook
	caught chan struct{}
}

func (n *notify) CaughtUp(ctx context.Context) error {
	defer close(n.caught)
	return n.Webhook.CaughtUp(ctx)
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncWebhookGivesUp: a receiver that keeps failing stops the sync
// with an error after the tries; one that refuses (4xx) stops it at once.
func TestSyncWebhookGivesUp(t *testing.T) {
	for _, tc := range []struct {
		status    int
		wantHits  int
		wantError string
	}{
		{http.StatusServiceUnavailable, 5, "gave up after 5 tries"},
		{http.StatusTooManyRequests, 5, "gave up after 5 tries"},
		{http.StatusUnauthorized, 1, "not retried"},
	} {
		var hits atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			w.WriteHeader(tc.status)
		}))
		wh := newTestWebhook(t, srv.URL, filepath.Join(t.TempDir(), "state.json"))
		err := wh.Change(context.Background(), Change{Address: "a@x.example", Partition: 1, Offset: 7})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.wantError) || !strings.Contains(err.Error(), "offset 7") || hits.Load() != int64(tc.wantHits) {
			t.Errorf("%d: %d requests, error %v; want %d and %q", tc.status, hits.Load(), err, tc.wantHits, tc.wantError)
		}
	}
}

// TestSyncWebhookTimeout: a receiver slower than the timeout is retried.
func TestSyncWebhookTimeout(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: secret, StatePath: filepath.Join(t.TempDir(), "s.json"),
		Timeout: 100 * time.Millisecond, Backoff: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Change(context.Background(), Change{Address: "a@x.example"}); err != nil || hits.Load() != 2 {
		t.Errorf("%d requests, %v; want a retry after the timeout", hits.Load(), err)
	}
}

// TestSyncWebhookConfig: bad settings are refused with what is wrong.
func TestSyncWebhookConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  WebhookConfig
		want string
	}{
		{WebhookConfig{URL: "ftp://x", Secret: secret, StatePath: filepath.Join(dir, "s")}, "http"},
		{WebhookConfig{URL: "/relative", Secret: secret, StatePath: filepath.Join(dir, "s")}, "absolute"},
		{WebhookConfig{URL: "https://h/x", StatePath: filepath.Join(dir, "s")}, "secret is empty"},
		{WebhookConfig{URL: "https://h/x", Secret: secret, StatePath: filepath.Join(dir, "no", "s")}, "does not exist"},
	} {
		if _, err := NewWebhook(tc.cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.cfg, err, tc.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, _ := NewWebhook(WebhookConfig{URL: "https://h/x", Secret: secret, StatePath: filepath.Join(dir, "bad.json")}, nil)
	if _, err := w.Resume(); err == nil || !strings.Contains(err.Error(), "not a state file") {
		t.Errorf("unreadable state: %v", err)
	}
}
