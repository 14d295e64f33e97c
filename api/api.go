// Package api is bounced's HTTP surface: Prometheus metrics, health and
// readiness probes, the suppression lookup that sending platforms call
// before they mail an address, and a built-in dashboard (a page and its JSON
// endpoints) that reads ClickHouse.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
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
//	GET /v1/addresses/{address}       the address's history: suppression, streak state, attempts (WithTimeline)
//	GET /dashboard                    the dashboard page (HTML, CSS and JS embedded; no external fetch)
//	GET /v1/dashboard/rates           rate series by=campaign|domain|ip|send_hour
//	GET /v1/dashboard/reasons         top reasons of undelivered attempts
//	GET /v1/dashboard/alerts          latest state per alert
//	GET /v1/dashboard/suppressions    recent suppression records
//	GET /v1/dashboard/filters         campaigns and domains with sends in the range
//	GET /debug/pprof/                 Go's runtime profiles, only WithPprof(true) (http.pprof)
//	POST /v1/intake/{source}          provider webhooks, only WithIntake (intake.enabled); never http.token
//	POST /dashboard/login             the dashboard's sign-in form, only WithToken
//
// With WithToken every path but /healthz, /readyz and /metrics requires
// Authorization: Bearer TOKEN, or the session cookie the dashboard's
// sign-in form sets; others get 401 with WWW-Authenticate: Bearer (the page
// itself answers with the form). Every response carries X-Request-Id,
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer; a 500
// says only "internal error" and its request id, the error itself goes to
// the log under that id.
//
// The dashboard endpoints take from, to (RFC 3339; to defaults to now), range
// (7d, 24h: from = to - range when from is absent; default 7d), campaign,
// domain, bucket (hour|day) and limit. They answer {"filter":…, "data":…},
// 400 on a bad parameter and 503 when ClickHouse does not answer or the
// member has none (see WithDashboard).
func Handler(reg *prometheus.Registry, list Suppressions, ready func() error, log *slog.Logger, opts ...Option) http.Handler {
	o := options{now: time.Now, limit: DefaultDashboardLimit, wait: DefaultDashboardWait}
	for _, opt := range opts {
		opt(&o)
	}
	acc := newAccess(o.token)
	mux := http.NewServeMux()
	dash := &dashboard{ch: o.ch, now: o.now, log: log, slots: make(chan struct{}, o.limit), wait: o.wait}
	dash.routes(mux)
	mux.HandleFunc("GET /v1/addresses/{address}", dash.address(list, o.timeline))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if o.pprof {
		profiles(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(); err != nil {
			// The reason names ClickHouse's address and error: only for
			// callers with the token, when there is one.
			reason := "a dependency does not answer; send the token (http.token) to see which and why"
			if acc.allows(r) {
				reason = err.Error()
			} else {
				log.Debug("not ready", "request_id", requestID(r), "err", err)
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
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
	var h http.Handler = acc.guard(mux)
	if o.intake != nil {
		// Providers cannot send our bearer token: the intake endpoints
		// check each provider's own signature instead (package intake).
		root := http.NewServeMux()
		root.Handle("/v1/intake/", o.intake)
		root.Handle("/", h)
		h = root
	}
	return withRequestID(logRequests(h, log))
}

// Option configures Handler.
type Option func(*options)

type options struct {
	ch     *clickhouse.Client
	now    func() time.Time
	pprof  bool
	token  string
	limit  int
	wait   time.Duration
	intake http.Handler
	// timeline serves /v1/addresses/{address}; nil answers 503.
	timeline Timeline
}

// Dashboard concurrency defaults (WithDashboardLimit).
const (
	// DefaultDashboardLimit is clickhouse.DefaultDashboardMaxConns: more
	// queries at once would only wait for a connection of the pool.
	DefaultDashboardLimit = clickhouse.DefaultDashboardMaxConns
	// DefaultDashboardWait is how long a dashboard request waits for a
	// slot before it gets 503; a page's few requests queue within it.
	DefaultDashboardWait = 3 * time.Second
)

// WithIntake serves the webhook intake (POST /v1/intake/{source}, package
// intake) on the same server. Those paths do not take http.token: each
// provider's request is authenticated by its own signature or credentials.
func WithIntake(h http.Handler) Option { return func(o *options) { o.intake = h } }

// WithToken requires token (http.token) on every endpoint but /healthz,
// /readyz and /metrics. Empty leaves them all open.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithDashboardLimit lets at most n dashboard queries run at once (the
// size of the pool they read through); a request beyond them waits up to
// wait for one to end, then gets 503 with Retry-After. Zero or negative
// values keep the defaults, DefaultDashboardLimit and DefaultDashboardWait.
func WithDashboardLimit(n int, wait time.Duration) Option {
	return func(o *options) {
		if n > 0 {
			o.limit = n
		}
		if wait > 0 {
			o.wait = wait
		}
	}
}

// WithDashboard makes the dashboard read ch. Without it, or with a nil ch
// (a member running only the ingest stage), the page is served and its
// endpoints answer 503.
func WithDashboard(ch *clickhouse.Client) Option { return func(o *options) { o.ch = ch } }

// WithPprof serves net/http/pprof under /debug/pprof/ when on: the index,
// the named profiles (heap, goroutine, allocs, block, mutex, threadcreate),
// cmdline, profile (CPU, ?seconds=N), symbol and trace. Off, those paths
// are 404.
func WithPprof(on bool) Option { return func(o *options) { o.pprof = on } }

// profiles mounts net/http/pprof's handlers on mux. pprof.Index serves the
// named profiles below /debug/pprof/ as well as the index itself.
func profiles(mux *http.ServeMux) {
	// Any method, as net/http/pprof registers them: symbol takes POST.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// WithClock sets the clock the dashboard's default time range ends at.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		h.ServeHTTP(w, r)
		log.Debug("http request", "method", r.Method, "path", r.URL.Path, "took", time.Since(t0), "request_id", requestID(r))
	})
}
