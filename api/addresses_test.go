package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// fakeTimeline answers every History with h or err and records the call.
type fakeTimeline struct {
	h     History
	err   error
	calls []string
}

func (f *fakeTimeline) History(_ context.Context, address string, limit int, before string) (History, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %d %s", address, limit, before))
	return f.h, f.err
}

func TestAddressHistoryHandler(t *testing.T) {
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	tl := &fakeTimeline{h: History{
		State:    &StreakState{Partition: 1, Offset: 7, SoftStreak: 2, WindowStart: &at},
		Attempts: []clickhouse.HistoryAttempt{{EventID: "e1", OccurredAt: at, Outcome: "bounced", Text: "<script>x</script>"}},
		Next:     "n1",
	}}
	l := list{"bob@example.com": {Address: "bob@example.com", Status: event.StatusHeld, Reason: "5.1.1 user unknown"}}
	cursor := base64.RawURLEncoding.EncodeToString([]byte("h1:1793613600:e1"))
	srv := httptest.NewServer(Handler(prometheus.NewRegistry(), l, func() error { return nil }, slog.New(slog.DiscardHandler),
		WithTimeline(tl), WithToken("s3cret")))
	defer srv.Close()
	get := func(path string, token bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token {
			req.Header.Set("Authorization", "Bearer s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get("/v1/addresses/Bob@EXAMPLE.com?limit=2&before="+cursor, true)
	if code != 200 {
		t.Fatalf("lookup: %d %s", code, body)
	}
	var doc AddressHistory
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Address != "bob@example.com" || doc.Suppression == nil || doc.Suppression.Status != event.StatusHeld ||
		doc.State == nil || doc.State.SoftStreak != 2 || len(doc.Attempts) != 1 || doc.Next != "n1" {
		t.Errorf("document: %s", body)
	}
	if want := "bob@example.com 2 " + cursor; len(tl.calls) != 1 || tl.calls[0] != want {
		t.Errorf("timeline called with %v, want %q", tl.calls, want)
	}
	for _, k := range []string{`"address"`, `"suppression"`, `"state"`, `"attempts"`, `"next"`} {
		if !strings.Contains(body, k) {
			t.Errorf("no %s in %s", k, body)
		}
	}

	// An address with nothing: no suppression, no state, an empty list.
	tl.h = History{StateNote: "none"}
	if code, body := get("/v1/addresses/new@example.com", true); code != 200 ||
		!strings.Contains(body, `"suppression":null`) || !strings.Contains(body, `"state":null`) || !strings.Contains(body, `"attempts":[]`) {
		t.Errorf("unknown address: %d %s", code, body)
	}
	if tl.calls[len(tl.calls)-1] != "new@example.com 50 " {
		t.Errorf("default limit: %v", tl.calls)
	}

	for _, tc := range []struct {
		path string
		err  error
		code int
		msg  string
	}{
		{"/v1/addresses/not-an-address", nil, 400, "error"},
		{"/v1/addresses/a@example.com?limit=0", nil, 400, "limit"},
		{"/v1/addresses/a@example.com?limit=1001", nil, 400, "want 1-1000"},
		{"/v1/addresses/a@example.com?before=nonsense!", nil, 400, "before"},
		{"/v1/addresses/a@example.com", fmt.Errorf("x: %w", clickhouse.ErrBadCursor), 400, "before"},
		{"/v1/addresses/a@example.com", fmt.Errorf("x: %w", clickhouse.ErrUnavailable), 503, "clickhouse unavailable"},
		{"/v1/addresses/a@example.com", fmt.Errorf("x: %w", ErrStateUnavailable), 503, "kafka unavailable"},
		{"/v1/addresses/a@example.com", fmt.Errorf("x: %w", clickhouse.ErrNoAttemptsTable), 503, "bounced migrate"},
		{"/v1/addresses/a@example.com", fmt.Errorf("secret server detail"), 500, "internal error"},
	} {
		tl.err = tc.err
		code, body := get(tc.path, true)
		if code != tc.code || !strings.Contains(body, tc.msg) || strings.Contains(body, "secret server detail") {
			t.Errorf("%s (%v): %d %s, want %d with %q", tc.path, tc.err, code, body, tc.code, tc.msg)
		}
	}
	tl.err = nil

	// Token-protected like every /v1 path.
	if code, _ := get("/v1/addresses/bob@example.com", false); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
}

// Without a timeline (a member without ClickHouse) or before the list
// loads, the endpoint answers 503.
func TestAddressHistoryUnavailable(t *testing.T) {
	srv := httptest.NewServer(Handler(prometheus.NewRegistry(), list{}, func() error { return nil }, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/addresses/a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("without a timeline: %d", resp.StatusCode)
	}
	srv2 := httptest.NewServer(Handler(prometheus.NewRegistry(), list(nil), func() error { return nil }, slog.New(slog.DiscardHandler),
		WithTimeline(&fakeTimeline{})))
	defer srv2.Close()
	resp, err = http.Get(srv2.URL + "/v1/addresses/a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("list loading: %d", resp.StatusCode)
	}
}
