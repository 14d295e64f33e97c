package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// /debug/pprof/ exists only when http.pprof asks for it.
func TestPprof(t *testing.T) {
	get := func(t *testing.T, h http.Handler, path string) (int, string) {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
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
	handler := func(opts ...Option) http.Handler {
		return Handler(prometheus.NewRegistry(), list{}, func() error { return nil }, slog.New(slog.DiscardHandler), opts...)
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline", "/debug/pprof/heap"}

	t.Run("off", func(t *testing.T) {
		for _, opts := range [][]Option{nil, {WithPprof(false)}} {
			h := handler(opts...)
			for _, p := range paths {
				if code, body := get(t, h, p); code != http.StatusNotFound {
					t.Errorf("GET %s = %d, want 404: %.80s", p, code, body)
				}
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		h := handler(WithPprof(true))
		code, body := get(t, h, "/debug/pprof/")
		if code != http.StatusOK || !strings.Contains(body, "Types of profiles available") || !strings.Contains(body, "goroutine") {
			t.Errorf("index: %d %.200s", code, body)
		}
		if code, body := get(t, h, "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
			t.Errorf("goroutine profile: %d %.200s", code, body)
		}
		if code, _ := get(t, h, "/debug/pprof/cmdline"); code != http.StatusOK {
			t.Errorf("cmdline: %d", code)
		}
		// The rest of the API is unchanged.
		if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
			t.Errorf("healthz: %d", code)
		}
	})
}
