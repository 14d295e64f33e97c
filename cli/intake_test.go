package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

const (
	testMailgunKey     = "key-0123456789abcdef0123456789abcdef"
	testPostmarkSecret = "postmark-secret-0123456789"
)

// mailgunWebhook is a Mailgun "failed" webhook for rcpt, signed with key
// at ts, as Mailgun posts it.
func mailgunWebhook(key, token string, ts time.Time, rcpt string) []byte {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(stamp + token))
	return fmt.Appendf(nil, `{"signature":{"timestamp":%q,"token":%q,"signature":%q},"event-data":{"event":"failed","severity":"permanent","reason":"bounce","recipient":%q,"id":"ev-%s","timestamp":%d.25,"message":{"headers":{"to":%q,"message-id":"m-%s@example.org","from":"news@example.org"}},"user-variables":{"campaign":"intake-test"},"delivery-status":{"code":550,"message":"5.1.1 The email account that you tried to reach does not exist.","attempt-no":1}}}`,
		stamp, token, hex.EncodeToString(m.Sum(nil)), rcpt, token, ts.Unix(), rcpt, token)
}

// TestIntakeEndToEnd posts provider webhooks to a member's HTTP server
// (intake.enabled) and follows them through both stages to the
// suppression list and ClickHouse: a signed Mailgun bounce suppresses its
// recipient, a Postmark spam complaint with the shared secret suppresses
// its recipient as a complaint that ClickHouse counts as a complaint and
// never as an attempt, and requests with a bad signature, a replayed
// token or no credential are refused, counted and never reach Kafka.
func TestIntakeEndToEnd(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, t.TempDir(), chAddr, db)
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Intake.Enabled = true
	cfg.Intake.Mailgun.SigningKey = testMailgunKey
	cfg.Intake.Postmark.Secret = testPostmarkSecret
	cfg.Intake.Postmark.SecretHeader = "X-Bounced-Secret"
	n, err := startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.run(rctx) }() // the pipeline and the HTTP server
	base := "http://" + n.ln.Addr().String() + "/v1/intake/"
	post := func(source string, body []byte, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+source, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	complaint := []byte(`{"RecordType":"SpamComplaint","ID":4242,"Type":"SpamComplaint","TypeCode":100001,"MessageID":"pm-1","Email":"carol@example.net","From":"news@example.org","BouncedAt":"` +
		now.UTC().Format(time.RFC3339) + `","Metadata":{"campaign":"intake-test"}}`)
	steps := []struct {
		name   string
		source string
		body   []byte
		header map[string]string
		want   int
	}{
		{"mailgun bounce", "mailgun", mailgunWebhook(testMailgunKey, "tok-1", now, "alice@example.com"), nil, http.StatusOK},
		{"mailgun replayed token", "mailgun", mailgunWebhook(testMailgunKey, "tok-1", now, "mallory@example.com"), nil, http.StatusNotAcceptable},
		{"mailgun wrong key", "mailgun", mailgunWebhook("key-not-the-one-configured-000000", "tok-2", now, "bob@example.com"), nil, http.StatusUnauthorized},
		{"postmark complaint", "postmark", complaint, map[string]string{"X-Bounced-Secret": testPostmarkSecret}, http.StatusOK},
		{"postmark no secret", "postmark", complaint, nil, http.StatusUnauthorized},
		{"sendgrid not configured", "sendgrid", []byte(`[]`), nil, http.StatusNotFound},
	}
	for _, s := range steps {
		if got := post(s.source, s.body, s.header); got != s.want {
			t.Errorf("%s: status %d, want %d", s.name, got, s.want)
		}
	}

	// Only the two accepted bodies reached the input topic, unchanged, each
	// with the header naming its source.
	in := readTopic(ctx, t, n, "bounced.input")
	if len(in) != 2 {
		t.Fatalf("input topic holds %d records, want 2", len(in))
	}
	for _, m := range in {
		src := headers(m)[topics.HeaderIntake]
		if (src == "mailgun") == bytes.Contains(m.Value, []byte("SpamComplaint")) || src != "mailgun" && src != "postmark" {
			t.Errorf("record with header %s=%q: %.80s", topics.HeaderIntake, src, m.Value)
		}
		if bytes.Contains(m.Value, []byte("mallory")) || bytes.Contains(m.Value, []byte("bob@")) {
			t.Errorf("a refused body reached Kafka: %.80s", m.Value)
		}
	}

	if err := waitDrained(ctx, n.e, nil); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]event.Label{"alice@example.com": event.MailboxUnknown, "carol@example.net": event.LabelComplaint}
	got := map[string]event.Label{}
	for _, s := range view.All() {
		got[s.Address] = s.Label
	}
	if len(got) != len(want) || got["alice@example.com"] != want["alice@example.com"] || got["carol@example.net"] != want["carol@example.net"] {
		t.Errorf("suppressions %v, want %v", got, want)
	}
	c, err := n.e.ch.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total.Attempts != 1 || c.Total.Bounced != 1 || c.Total.Hard != 1 || c.Total.Complaints != 1 || c.Total.Delivered != 0 {
		t.Errorf("clickhouse totals %+v: want the bounce as the one attempt and the complaint counted apart", c.Total)
	}

	// Every request was counted by source and result.
	for _, r := range []struct{ source, result string }{
		{"mailgun", "accepted"}, {"mailgun", "replayed"}, {"mailgun", "bad_signature"},
		{"postmark", "accepted"}, {"postmark", "unauthorized"}, {"sendgrid", "not_configured"},
	} {
		if v := counterWith2(n, "bounced_intake_total", "source", r.source, "result", r.result); v != 1 {
			t.Errorf("bounced_intake_total{source=%s,result=%s} = %v, want 1", r.source, r.result, v)
		}
	}
}

// counterWith2 is the value of the counter name with two label values.
func counterWith2(n *node, name, l1, v1, l2, v2 string) float64 {
	mfs, err := n.reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			got := map[string]string{}
			for _, lp := range m.Label {
				got[lp.GetName()] = lp.GetValue()
			}
			if got[l1] == v1 && got[l2] == v2 {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestIntakeCommand runs `bounced intake` on its own, as a public-facing
// process apart from the members: a Postmark body with the secret is
// produced and answered 200, /healthz and /metrics answer, SIGTERM (the
// context) stops it cleanly; with no source configured it refuses to start.
func TestIntakeCommand(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var errb bytes.Buffer
	if code := Main(ctx, []string{"intake", "--kafka.brokers", n.e.conn.Brokers[0], "--http.addr", addr},
		IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb, Environ: []string{}}); code != 2 || !strings.Contains(errb.String(), "no webhook source") {
		t.Errorf("without a source: exit %d: %s", code, errb.String())
	}

	ictx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- Main(ictx, []string{"intake", "--kafka.brokers", n.e.conn.Brokers[0], "--http.addr", addr,
			"--set", "intake.postmark.secret=" + testPostmarkSecret, "--set", "log.level=warn"},
			IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Environ: []string{}})
	}()
	body := []byte(`{"RecordType":"Bounce","ID":7,"Type":"HardBounce","TypeCode":1,"Email":"dora@example.org","BouncedAt":"2026-12-01T10:00:00Z","Details":"550 5.1.1 user unknown"}`)
	var status int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/intake/postmark", bytes.NewReader(body))
		req.Header.Set("X-Bounced-Secret", testPostmarkSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // not listening yet
		}
		resp.Body.Close()
		status = resp.StatusCode
		break
	}
	if status != http.StatusOK {
		t.Fatalf("POST /v1/intake/postmark: status %d, want 200", status)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %v %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	in := readTopic(ctx, t, n, "bounced.input")
	if len(in) != 1 || !bytes.Equal(in[0].Value, body) || headers(in[0])[topics.HeaderIntake] != "postmark" {
		t.Errorf("input topic: %d records, want the body unchanged with its source header", len(in))
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("bounced intake exited %d after its context ended, want 0", code)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("bounced intake did not stop")
	}
}
