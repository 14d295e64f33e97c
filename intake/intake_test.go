package intake

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// harness is a Handler over a fake producer, with every source configured.
type harness struct {
	h        *Handler
	p        *fakeProducer
	reg      *prometheus.Registry
	clk      *clock
	sns      *snsFake
	postal   *rsa.PrivateKey
	postmark Postmark
}

func newHarness(t *testing.T, change func(*Config)) *harness {
	t.Helper()
	postal, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&postal.PublicKey)
	hs := &harness{p: &fakeProducer{}, reg: prometheus.NewRegistry(), clk: newClock(), postal: postal,
		sns:      newSNSFake(t, t0.Add(-time.Hour), t0.Add(time.Hour)),
		postmark: Postmark{Username: "postmark", Password: "0123456789abcdef"}}
	cfg := Config{
		Enabled:  true,
		SES:      SES{CertHostPattern: hs.sns.pattern(), TopicARNs: []string{testTopic}, ConfirmSubscriptions: true},
		SendGrid: SendGrid{PublicKey: sendGridVectorKey},
		Mailgun:  Mailgun{SigningKey: testMailgunKey},
		Postmark: hs.postmark,
		Postal:   Postal{PublicKey: base64.StdEncoding.EncodeToString(der)},
	}
	if change != nil {
		change(&cfg)
	}
	hs.h, err = New(cfg, hs.p, Deps{Registerer: hs.reg, Client: hs.sns.srv.Client(), Now: hs.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func (hs *harness) do(method, source string, body []byte, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/v1/intake/"+source, bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	return w
}

// counted is bounced_intake_total{source,result}.
func (hs *harness) counted(t *testing.T, source, result string) float64 {
	t.Helper()
	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bounced_intake_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == source && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func postmarkAuth(p Postmark) http.Header {
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.SetBasicAuth(p.Username, p.Password)
	return r.Header
}

func TestHandlerStatuses(t *testing.T) {
	mgNow := strconv.FormatInt(t0.Unix(), 10)
	tests := []struct {
		name    string
		change  func(*Config)
		method  string
		source  string
		body    func(hs *harness) []byte
		header  func(hs *harness) http.Header
		prodErr error
		status  int
		result  string // "" when not counted
	}{
		{name: "unknown source", method: "POST", source: "mandrill", status: 404},
		{name: "not configured", change: func(c *Config) { c.Postal = Postal{} }, method: "POST", source: "postal", status: 404, result: ResultNotConfigured},
		{name: "ses without topics", change: func(c *Config) { c.SES.TopicARNs = nil }, method: "POST", source: "ses", status: 404, result: ResultNotConfigured},
		{name: "intake disabled", change: func(c *Config) { c.Enabled = false }, method: "POST", source: "ses", status: 404, result: ResultNotConfigured},
		{name: "GET", method: "GET", source: "postmark", status: 405, result: ResultMethodNotAllowed},
		{name: "PUT", method: "PUT", source: "ses", status: 405, result: ResultMethodNotAllowed},
		{name: "too large", change: func(c *Config) { c.MaxBodyBytes = 16 }, method: "POST", source: "postmark",
			body: func(*harness) []byte { return bytes.Repeat([]byte("x"), 17) }, header: func(hs *harness) http.Header { return postmarkAuth(hs.postmark) },
			status: 413, result: ResultTooLarge},
		{name: "postmark unauthorized", method: "POST", source: "postmark", body: func(*harness) []byte { return []byte(`{"RecordType":"Bounce"}`) },
			status: 401, result: ResultUnauthorized},
		{name: "postmark accepted", method: "POST", source: "postmark", body: func(*harness) []byte { return []byte(`{"RecordType":"Bounce"}`) },
			header: func(hs *harness) http.Header { return postmarkAuth(hs.postmark) }, status: 200, result: ResultAccepted},
		{name: "produce fails", method: "POST", source: "postmark", body: func(*harness) []byte { return []byte(`{"RecordType":"Bounce"}`) },
			header: func(hs *harness) http.Header { return postmarkAuth(hs.postmark) }, prodErr: errors.New("kafka: not enough replicas"),
			status: 503, result: ResultProduceFailed},
		{name: "postal bad signature", method: "POST", source: "postal", body: func(*harness) []byte { return []byte(`{}`) },
			header: func(*harness) http.Header { return http.Header{postalSignature256Header: {"AAAA"}} }, status: 401, result: ResultBadSignature},
		{name: "postal accepted", method: "POST", source: "postal", body: func(*harness) []byte { return []byte(`{"event":"MessageBounced"}`) },
			header: func(hs *harness) http.Header {
				return http.Header{postalSignature256Header: {signPostal(t, hs.postal, "2", []byte(`{"event":"MessageBounced"}`))}}
			}, status: 200, result: ResultAccepted},
		{name: "sendgrid stale", method: "POST", source: "sendgrid", body: func(*harness) []byte { return []byte(sendGridVectorPayload) },
			header: func(*harness) http.Header {
				return http.Header{sendGridSignatureHeader: {sendGridVectorSignature}, sendGridTimestampHeader: {sendGridVectorTimestamp}}
			}, status: 401, result: ResultStale},
		{name: "mailgun malformed", method: "POST", source: "mailgun", body: func(*harness) []byte { return []byte(`not json`) }, status: 400, result: ResultMalformed},
		{name: "mailgun accepted", method: "POST", source: "mailgun", body: func(*harness) []byte { return mailgunBody(testMailgunKey, mgNow, "tok-h") },
			status: 200, result: ResultAccepted},
		{name: "ses wrong topic", change: func(c *Config) { c.SES.TopicARNs = []string{"arn:aws:sns:us-east-1:1:other"} }, method: "POST", source: "ses",
			body: func(hs *harness) []byte { return hs.sns.envelope(t, notification(), "2") }, status: 403, result: ResultWrongTopic},
		{name: "ses subscription", method: "POST", source: "ses", body: func(hs *harness) []byte { return hs.sns.envelope(t, subscription(hs.sns), "2") },
			status: 200, result: ResultSubscriptionConfirmed},
		{name: "ses notification", method: "POST", source: "ses", body: func(hs *harness) []byte { return hs.sns.envelope(t, notification(), "1") },
			status: 200, result: ResultAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.change)
			hs.p.setErr(tt.prodErr)
			var body []byte
			if tt.body != nil {
				body = tt.body(hs)
			}
			var header http.Header
			if tt.header != nil {
				header = tt.header(hs)
			}
			w := hs.do(tt.method, tt.source, body, header)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.result != "" {
				if n := hs.counted(t, tt.source, tt.result); n != 1 {
					t.Errorf("bounced_intake_total{source=%q,result=%q} = %v, want 1", tt.source, tt.result, n)
				}
			}
			switch produced := hs.p.count(); {
			case tt.result == ResultAccepted && (produced != 1 || !bytes.Equal(hs.p.got[0].body, body) || hs.p.got[0].source != tt.source):
				t.Errorf("produced %+v, want the body unchanged from %s", hs.p.got, tt.source)
			case tt.result != ResultAccepted && produced != 0:
				t.Errorf("refused with %s but %d produced", tt.result, produced)
			}
			if tt.status == 405 && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("405 without Allow: POST")
			}
			if tt.status == 401 && tt.source == "postmark" && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate for basic auth")
			}
		})
	}
}

func TestHandlerRateLimit(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Rate, c.Burst = 1, 2 })
	auth := postmarkAuth(hs.postmark)
	for i := range 2 {
		if w := hs.do("POST", "postmark", []byte("{}"), auth); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := hs.do("POST", "postmark", []byte("{}"), auth)
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the burst: %d, Retry-After %q; want 429, 1", w.Code, w.Header().Get("Retry-After"))
	}
	// Each source has its own bucket.
	if w := hs.do("POST", "mailgun", []byte("x"), nil); w.Code == 429 {
		t.Error("mailgun limited by postmark's requests")
	}
	hs.clk.advance(time.Second)
	if w := hs.do("POST", "postmark", []byte("{}"), auth); w.Code != 200 {
		t.Errorf("after a second: %d, want 200", w.Code)
	}
	if n := hs.counted(t, "postmark", ResultRateLimited); n != 1 {
		t.Errorf("rate_limited counted %v, want 1", n)
	}
	if hs.p.count() != 3 {
		t.Errorf("%d produced, want 3", hs.p.count())
	}
}

// TestHandlerMailgunRetry: a failed produce answers 503 and leaves the
// token free, so Mailgun's retry is stored; a replay after that is 406.
func TestHandlerMailgunRetry(t *testing.T) {
	hs := newHarness(t, nil)
	body := mailgunBody(testMailgunKey, strconv.FormatInt(t0.Unix(), 10), "tok-retry")
	hs.p.setErr(errors.New("broker down"))
	if w := hs.do("POST", "mailgun", body, nil); w.Code != 503 {
		t.Fatalf("produce failing: %d, want 503", w.Code)
	}
	hs.p.setErr(nil)
	hs.clk.advance(time.Minute)
	if w := hs.do("POST", "mailgun", body, nil); w.Code != 200 {
		t.Fatalf("retry: %d, want 200", w.Code)
	}
	hs.clk.advance(time.Minute)
	w := hs.do("POST", "mailgun", body, nil)
	if w.Code != 406 {
		t.Fatalf("replay: %d, want 406", w.Code)
	}
	if hs.p.count() != 1 || hs.counted(t, "mailgun", ResultReplayed) != 1 {
		t.Errorf("produced %d (want 1), replayed %v (want 1)", hs.p.count(), hs.counted(t, "mailgun", ResultReplayed))
	}
}

func TestHandlerMount(t *testing.T) {
	hs := newHarness(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	hs.h.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/intake/postmark", strings.NewReader(`{"RecordType":"Bounce"}`))
	req.SetBasicAuth(hs.postmark.Username, hs.postmark.Password)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hs.p.count() != 1 {
		t.Errorf("through a mounted mux: %d, %d produced", resp.StatusCode, hs.p.count())
	}
	if resp, err := srv.Client().Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the mux's own routes: %v %v", resp, err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{}, nil, Deps{}); err == nil {
		t.Error("New without a Producer: no error")
	}
	if _, err := New(Config{Rate: -1}, &fakeProducer{}, Deps{}); err == nil || !strings.Contains(err.Error(), "intake.rate") {
		t.Errorf("New with an invalid config: %v", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, &fakeProducer{}, Deps{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, &fakeProducer{}, Deps{Registerer: reg}); err == nil {
		t.Error("registering the metrics twice: no error")
	}
}

func TestResultsDocumented(t *testing.T) {
	h, err := New(Config{}, &fakeProducer{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	var help string
	ch := make(chan *prometheus.Desc, 1)
	h.total.Describe(ch)
	help = (<-ch).String()
	for _, r := range Results() {
		if !strings.Contains(help, r) {
			t.Errorf("result %q missing from the metric's help", r)
		}
	}
}
