// Package api is bounced's HTTP surface: Prometheus metrics, health and
// readiness probes, and the suppression lookup that sending platforms call
// before they mail an address.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
)

// Suppressions answers lookups from the materialised suppression list.
type Suppressions interface {
	Get(address string) (event.Suppression, bool)
	Ready() bool
}

// Handler serves:
//
//	GET /metrics                      Prometheus text format
//	GET /healthz                      200 while the process runs
//	GET /readyz                       200 once ready() returns nil and the list is loaded
//	GET /v1/suppressions/{address}    the address's suppression record, or 404
func Handler(reg *prometheus.Registry, list Suppressions, ready func() error, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		if !list.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "suppression list still loading"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /v1/suppressions/{address}", func(w http.ResponseWriter, r *http.Request) {
		addr := r.PathValue("address")
		norm, _, err := ingest.NormaliseAddress(addr)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if !list.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "suppression list still loading; retry shortly"})
			return
		}
		rec, ok := list.Get(norm)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"address": norm, "suppressed": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"address": norm, "suppressed": rec.Status == event.StatusSuppressed, "record": rec})
	})
	return logRequests(mux, log)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		log.Debug("http request", "method", r.Method, "path", r.URL.Path, "took", time.Since(t0))
	})
}
