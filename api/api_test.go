package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/processor/event"
)

type list map[string]event.Suppression

func (l list) Get(a string) (event.Suppression, bool) { s, ok := l[a]; return s, ok }
func (l list) Ready() bool                            { return l != nil }

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	l := list{"bob@example.com": {Address: "bob@example.com", Status: event.StatusSuppressed, Label: event.MailboxUnknown}}
	ready := error(nil)
	srv := httptest.NewServer(Handler(reg, l, func() error { return ready }, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/suppressions/Bob@EXAMPLE.com"); code != 200 || !strings.Contains(body, `"suppressed":true`) {
		t.Errorf("lookup: %d %s", code, body)
	}
	if code, _ := get("/v1/suppressions/alice@example.com"); code != 404 {
		t.Errorf("unknown address: %d", code)
	}
	if code, body := get("/v1/suppressions/not-an-address"); code != 400 || !json.Valid([]byte(body)) {
		t.Errorf("bad address: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "bounced_test_total 1") {
		t.Errorf("metrics: %d %s", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	ready = errors.New("clickhouse down")
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "clickhouse down") {
		t.Errorf("readyz not ready: %d %s", code, body)
	}
}
