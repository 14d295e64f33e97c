package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

const testToken = "0123456789abcdef-test-token"

// send makes one request to h and returns the response with its body read.
func send(t *testing.T, h http.Handler, method, path string, hdr http.Header, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	resp := w.Result()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func tokenHandler(t *testing.T, ready func() error, opts ...Option) http.Handler {
	t.Helper()
	if ready == nil {
		ready = func() error { return nil }
	}
	return Handler(prometheus.NewRegistry(), list{}, ready, slog.New(slog.DiscardHandler), append([]Option{WithToken(testToken)}, opts...)...)
}

// TestAccess: with http.token set, every path but the probes and metrics
// needs the token or the session cookie.
func TestAccess(t *testing.T) {
	h := tokenHandler(t, nil, WithPprof(true))
	session := newAccess(testToken).session
	bearer := http.Header{"Authorization": {"Bearer " + testToken}}
	for _, tc := range []struct {
		path string
		hdr  http.Header
		want int
	}{
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
		{"/metrics", nil, 200},
		{"/v1/suppressions/bob@example.com", nil, 401},
		{"/v1/suppressions/bob@example.com", bearer, 404},
		{"/v1/suppressions/bob@example.com", http.Header{"Authorization": {"bearer " + testToken}}, 404},
		{"/v1/suppressions/bob@example.com", http.Header{"Authorization": {"Bearer " + testToken + "x"}}, 401},
		{"/v1/suppressions/bob@example.com", http.Header{"Authorization": {"Bearer " + testToken[:len(testToken)-1]}}, 401},
		{"/v1/suppressions/bob@example.com", http.Header{"Authorization": {"Basic " + testToken}}, 401},
		{"/v1/suppressions/bob@example.com", http.Header{"Authorization": {testToken}}, 401},
		{"/v1/suppressions/bob@example.com", http.Header{"Cookie": {sessionCookie + "=" + session}}, 404},
		{"/v1/suppressions/bob@example.com", http.Header{"Cookie": {sessionCookie + "=" + testToken}}, 401},
		{"/v1/dashboard/rates", nil, 401},
		{"/v1/dashboard/rates", bearer, 503}, // no ClickHouse in this handler
		{"/dashboard/app.js", nil, 401},
		{"/dashboard/app.js", bearer, 200},
		{"/dashboard", bearer, 200},
		{"/debug/pprof/cmdline", nil, 401},
		{"/debug/pprof/cmdline", bearer, 200},
		{"/no/such/path", nil, 401},
		{"/no/such/path", bearer, 404},
	} {
		resp, body := send(t, h, "GET", tc.path, tc.hdr, "")
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s %v: %d, want %d: %.120s", tc.path, tc.hdr, resp.StatusCode, tc.want, body)
			continue
		}
		if tc.want == 401 {
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("GET %s: 401 with WWW-Authenticate %q", tc.path, got)
			}
			if strings.Contains(body, testToken) || !json.Valid([]byte(body)) {
				t.Errorf("GET %s: 401 body %q", tc.path, body)
			}
		}
	}

	// Without a token everything is open, as before.
	open := Handler(prometheus.NewRegistry(), list{}, func() error { return nil }, slog.New(slog.DiscardHandler))
	if resp, _ := send(t, open, "GET", "/v1/suppressions/bob@example.com", nil, ""); resp.StatusCode != 404 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if resp, _ := send(t, open, "POST", loginPath, nil, "token=x"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("no token: POST %s: %d, want 405", loginPath, resp.StatusCode)
	}
}

// TestSecurityHeaders: every response, whatever its status, says nosniff
// and no-referrer and carries a request id.
func TestSecurityHeaders(t *testing.T) {
	h := tokenHandler(t, nil)
	bearer := http.Header{"Authorization": {"Bearer " + testToken}}
	for _, tc := range []struct {
		method, path string
		hdr          http.Header
	}{
		{"GET", "/healthz", nil},
		{"GET", "/metrics", nil},
		{"GET", "/dashboard", nil},
		{"GET", "/dashboard", bearer},
		{"GET", "/dashboard/app.css", bearer},
		{"GET", "/v1/suppressions/x", nil},
		{"GET", "/v1/suppressions/not-an-address", bearer},
		{"GET", "/v1/dashboard/rates", bearer},
		{"GET", "/nope", bearer},
		{"DELETE", "/healthz", nil},
	} {
		resp, _ := send(t, h, tc.method, tc.path, tc.hdr, "")
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" ||
			len(resp.Header.Get("X-Request-Id")) != 16 {
			t.Errorf("%s %s (%d): headers %v", tc.method, tc.path, resp.StatusCode, resp.Header)
		}
	}
}

// TestDashboardSignIn: the page asks for the token once, then a cookie
// (HttpOnly, SameSite=Strict) carries the page's own requests.
func TestDashboardSignIn(t *testing.T) {
	h := tokenHandler(t, nil)
	resp, body := send(t, h, "GET", "/dashboard?range=24h&campaign=c-1", nil, "")
	if resp.StatusCode != 401 || !strings.Contains(body, `action="/dashboard/login"`) || !strings.Contains(body, `value="range=24h&amp;campaign=c-1"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in form: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	form := func(tok, query string) string { return url.Values{"token": {tok}, "query": {query}}.Encode() }
	post := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

	resp, body = send(t, h, "POST", loginPath, post, form("wrong-token-wrong-token", ""))
	if resp.StatusCode != 401 || !strings.Contains(body, "That is not the token") || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %d %v %s", resp.StatusCode, resp.Cookies(), body)
	}
	cross := http.Header{"Content-Type": post["Content-Type"], "Sec-Fetch-Site": {"cross-site"}}
	if resp, _ := send(t, h, "POST", loginPath, cross, form(testToken, "")); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site sign-in: %d %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := send(t, h, "POST", loginPath, post, "token="+strings.Repeat("a", 5000)); resp.StatusCode != 400 {
		t.Errorf("oversized form: %d", resp.StatusCode)
	}

	resp, _ = send(t, h, "POST", loginPath, post, form(testToken, "range=24h&campaign=c-1"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard?campaign=c-1&range=24h" {
		t.Fatalf("sign-in: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cs := resp.Cookies()
	if len(cs) != 1 || cs[0].Name != sessionCookie || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/" ||
		cs[0].Secure || strings.Contains(cs[0].Value, testToken) {
		t.Fatalf("cookie: %+v", cs)
	}
	withCookie := http.Header{"Cookie": {cs[0].Name + "=" + cs[0].Value}}
	if resp, body := send(t, h, "GET", "/dashboard", withCookie, ""); resp.StatusCode != 200 || !strings.Contains(body, `src="/dashboard/app.js"`) {
		t.Errorf("page with the cookie: %d", resp.StatusCode)
	}
	if resp, _ := send(t, h, "GET", "/v1/dashboard/filters", withCookie, ""); resp.StatusCode != 503 {
		t.Errorf("endpoint with the cookie: %d, want 503 (no ClickHouse)", resp.StatusCode)
	}
	// A query that tries to leave the dashboard stays on it.
	resp, _ = send(t, h, "POST", loginPath, post, form(testToken, "//evil.example/"))
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/dashboard") || strings.HasPrefix(loc, "//") {
		t.Errorf("Location %q", loc)
	}
	// Over TLS (or behind a proxy that says so) the cookie is Secure.
	tls := http.Header{"Content-Type": post["Content-Type"], "X-Forwarded-Proto": {"https"}}
	if resp, _ := send(t, h, "POST", loginPath, tls, form(testToken, "")); len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Errorf("behind TLS: %v", resp.Cookies())
	}
	// Another token invalidates the cookie.
	other := Handler(prometheus.NewRegistry(), list{}, func() error { return nil }, slog.New(slog.DiscardHandler), WithToken(testToken+"-rotated"))
	if resp, _ := send(t, other, "GET", "/v1/dashboard/filters", withCookie, ""); resp.StatusCode != 401 {
		t.Errorf("cookie after the token changed: %d", resp.StatusCode)
	}
}

// TestReadyzHidesReasons: /readyz stays open, but why it is not ready
// (ClickHouse's address, its error) is only for callers with the token.
func TestReadyzHidesReasons(t *testing.T) {
	h := tokenHandler(t, func() error { return errors.New("clickhouse: clickhouse at 10.1.2.3:9000: connection refused") })
	resp, body := send(t, h, "GET", "/readyz", nil, "")
	if resp.StatusCode != 503 || strings.Contains(body, "10.1.2.3") || !strings.Contains(body, "not ready") {
		t.Errorf("without the token: %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, h, "GET", "/readyz", http.Header{"Authorization": {"Bearer " + testToken}}, "")
	if resp.StatusCode != 503 || !strings.Contains(body, "10.1.2.3:9000: connection refused") {
		t.Errorf("with the token: %d %s", resp.StatusCode, body)
	}
}

// syncBuffer is a log destination tests read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testDashboard serves fn as a dashboard endpoint at /v1/dashboard/test,
// behind the request-id middleware, with a non-nil (never used) client.
func testDashboard(limit int, wait time.Duration, logs io.Writer, fn func(context.Context, query) (any, error)) http.Handler {
	d := &dashboard{
		ch: new(clickhouse.Client), now: time.Now, log: slog.New(slog.NewJSONHandler(logs, nil)),
		slots: make(chan struct{}, limit), wait: wait,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/dashboard/test", d.serve(fn))
	return withRequestID(mux)
}

// TestDashboardErrors: ClickHouse's own errors reach the log, under the
// request id the client gets, and never the client.
func TestDashboardErrors(t *testing.T) {
	const secret = "code: 60, message: Table bounced_prod.outcomes doesn't exist at 10.1.2.3:9000"
	for _, tc := range []struct {
		name     string
		err      error
		code     int
		body     string // a substring of the error
		logLevel string
	}{
		{"internal", errors.New(secret), 500, "internal error", "ERROR"},
		{"unavailable", fmt.Errorf("%w: rates: %s", clickhouse.ErrUnavailable, secret), 503, "clickhouse unavailable; retry shortly", "WARN"},
		{"slow", fmt.Errorf("rates: %s: %w", secret, context.DeadlineExceeded), 503, "clickhouse unavailable: no answer within 15s", "WARN"},
		{"bad parameter", badRequest("limit: %q: want 1-50", "99"), 400, `limit: \"99\": want 1-50`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := testDashboard(2, time.Second, logs, func(context.Context, query) (any, error) { return nil, tc.err })
			resp, body := send(t, h, "GET", "/v1/dashboard/test", nil, "")
			var got struct {
				Error     string `json:"error"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.Error == "" {
				t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
			}
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("%d %s, want %d with %q", resp.StatusCode, body, tc.code, tc.body)
			}
			if tc.logLevel == "" {
				return
			}
			if strings.Contains(body, "10.1.2.3") || strings.Contains(body, "bounced_prod") {
				t.Errorf("the body gives ClickHouse's error away: %s", body)
			}
			id := resp.Header.Get("X-Request-Id")
			if got.RequestID == "" || got.RequestID != id {
				t.Errorf("request_id %q, X-Request-Id %q", got.RequestID, id)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(logs.String()), &rec); err != nil {
				t.Fatalf("log %q: %v", logs, err)
			}
			if rec["level"] != tc.logLevel || rec["request_id"] != id || !strings.Contains(fmt.Sprint(rec["err"]), secret) {
				t.Errorf("log: %s", logs)
			}
		})
	}
}

// TestDashboardLimit: at most limit queries run at once; a request beyond
// them waits up to the wait for a slot, then gets 503 with Retry-After.
func TestDashboardLimit(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	h := testDashboard(2, 500*time.Millisecond, io.Discard, func(ctx context.Context, _ query) (any, error) {
		started <- struct{}{}
		select {
		case <-release:
			return "ok", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func() (int, http.Header, string) {
		resp, err := http.Get(srv.URL + "/v1/dashboard/test")
		if err != nil {
			t.Error(err)
			return 0, nil, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for range 2 {
		wg.Go(func() { c, _, _ := get(); codes <- c })
	}
	<-started
	<-started // both slots taken

	code, hdr, body := get()
	if code != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "busy: 2 dashboard queries are running") {
		t.Errorf("third while two run: %d %v %s", code, hdr, body)
	}

	// A request that arrives while both run gets a slot when one frees up
	// within the wait.
	wg.Go(func() { c, _, _ := get(); codes <- c })
	time.Sleep(20 * time.Millisecond)
	release <- struct{}{}
	<-started
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a queued or running request: %d, want 200", c)
		}
	}
}

// TestNewServer: the server's bounds.
func TestNewServer(t *testing.T) {
	s := NewServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout != ReadHeaderTimeout || s.ReadTimeout != ReadTimeout || s.WriteTimeout != WriteTimeout ||
		s.IdleTimeout != IdleTimeout || s.MaxHeaderBytes != MaxHeaderBytes {
		t.Errorf("%+v", s)
	}
	if WriteTimeout <= dashTimeout {
		t.Errorf("WriteTimeout %s must exceed the dashboard's query timeout %s, or a slow query's 503 never gets out", WriteTimeout, dashTimeout)
	}
}

// TestPprofOutlastsWriteTimeout: net/http/pprof once refused a profile at
// or over the server's WriteTimeout (the default CPU profile is 30s, our
// WriteTimeout); now it moves its own write deadline. A 31-second profile
// must start (the client leaves after a moment, which ends it), else
// http.pprof needs a longer server-wide WriteTimeout again.
func TestPprofOutlastsWriteTimeout(t *testing.T) {
	h := Handler(prometheus.NewRegistry(), list{}, func() error { return nil }, slog.New(slog.DiscardHandler), WithPprof(true))
	srv := httptest.NewUnstartedServer(h)
	srv.Config = NewServer(h)
	srv.Start()
	defer srv.Close()
	cl := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := cl.Get(srv.URL + "/debug/pprof/profile?seconds=31")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("a 31s profile answered at once: %d %s", resp.StatusCode, b)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Client.Timeout") {
		t.Fatalf("%v, want the client's timeout (the profile running)", err)
	}
}
