package api

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// The page: HTML, CSS and plain JS, no external fetch (the Content-Security-Policy
// below forbids any), charts drawn as inline SVG.
//
//go:embed dashboard
var dashboardFiles embed.FS

// Dashboard defaults and bounds.
const (
	defaultRange    = 7 * 24 * time.Hour
	maxRange        = 400 * 24 * time.Hour
	dayBucketsAfter = 72 * time.Hour // ranges longer than this default to daily points
	dashTimeout     = 15 * time.Second
)

const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type dashboard struct {
	ch  *clickhouse.Client // nil: this member has no ClickHouse (pipeline.stage ingest)
	now func() time.Time
	log *slog.Logger
	// slots holds a token per running query: at most cap(slots) at once.
	slots chan struct{}
	wait  time.Duration // how long a request waits for a slot
}

func (d *dashboard) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(dashboardFiles, "dashboard") // the directory is embedded: cannot fail
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", dashboardCSP)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	}
	mux.HandleFunc("GET /dashboard", page)
	mux.HandleFunc("GET /dashboard/{$}", page)
	mux.HandleFunc("GET /dashboard/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" || !strings.Contains(name, ".") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, static, name)
	})
	mux.HandleFunc("GET /v1/dashboard/rates", d.serve(func(ctx context.Context, q query) (any, error) {
		by := q.r.URL.Query().Get("by")
		if by == "" {
			by = clickhouse.ByCampaign
		}
		switch by {
		case clickhouse.ByCampaign, clickhouse.ByDomain, clickhouse.ByIP, clickhouse.BySendHour:
		default:
			return nil, badRequest("by: %q: want campaign, domain, ip or send_hour", by)
		}
		limit, err := q.limit(10, 50)
		if err != nil {
			return nil, err
		}
		s, err := d.ch.SendRates(ctx, by, q.f, limit)
		if err != nil {
			return nil, err
		}
		return struct {
			By string `json:"by"`
			clickhouse.RateSeries
		}{by, s}, nil
	}))
	mux.HandleFunc("GET /v1/dashboard/reasons", d.serve(func(ctx context.Context, q query) (any, error) {
		limit, err := q.limit(15, 100)
		if err != nil {
			return nil, err
		}
		rs, err := d.ch.Reasons(ctx, q.f, limit)
		return map[string]any{"reasons": rs}, err
	}))
	mux.HandleFunc("GET /v1/dashboard/alerts", d.serve(func(ctx context.Context, q query) (any, error) {
		limit, err := q.limit(100, 1000)
		if err != nil {
			return nil, err
		}
		return d.ch.Alerts(ctx, q.f, limit)
	}))
	mux.HandleFunc("GET /v1/dashboard/suppressions", d.serve(func(ctx context.Context, q query) (any, error) {
		limit, err := q.limit(50, 1000)
		if err != nil {
			return nil, err
		}
		return d.ch.RecentSuppressions(ctx, q.f, limit)
	}))
	mux.HandleFunc("GET /v1/dashboard/filters", d.serve(func(ctx context.Context, q query) (any, error) {
		return d.ch.FilterChoices(ctx, q.f, 200)
	}))
}

// query is one dashboard request: its parsed filter and the request.
type query struct {
	f clickhouse.Filter
	r *http.Request
}

func (q query) limit(def, most int) (int, error) {
	s := q.r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, badRequest("limit: %q: want 1-%d", s, most)
	}
	return n, nil
}

type badRequestError struct{ msg string }

func (e badRequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return badRequestError{fmt.Sprintf(format, args...)}
}

// filterJSON echoes the filter a response was computed for.
type filterJSON struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Bucket   string    `json:"bucket"`
	Campaign string    `json:"campaign,omitempty"`
	Domain   string    `json:"domain,omitempty"`
}

// serve wraps a dashboard endpoint: it parses the filter, waits for a slot
// (503 when none frees up in time), bounds the time the query may take,
// and maps errors to 400 (bad parameter), 503 (ClickHouse does not answer,
// or this member has none) and 500 (anything else). The 503 and 500 bodies
// are generic: ClickHouse's errors name servers, databases and tables, so
// they go to the log under the request id the body gives.
func (d *dashboard) serve(fn func(context.Context, query) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		f, err := parseFilter(r, d.now())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if d.ch == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"error": "this member has no ClickHouse connection (pipeline.stage ingest); open the dashboard on a member that runs the decide stage",
			})
			return
		}
		if !d.acquire(r.Context()) {
			if r.Context().Err() != nil {
				return // the client left
			}
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"error": fmt.Sprintf("busy: %d dashboard queries are running; retry shortly", cap(d.slots)),
			})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), dashTimeout)
		v, err := fn(ctx, query{f: f, r: r})
		cancel()
		<-d.slots
		id := requestID(r)
		var bad badRequestError
		switch {
		case err == nil:
		case errors.As(err, &bad):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		case errors.Is(err, clickhouse.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
			d.log.Warn("dashboard query: clickhouse unavailable", "request_id", id, "path", r.URL.Path, "err", err)
			msg := "clickhouse unavailable; retry shortly"
			if errors.Is(err, context.DeadlineExceeded) {
				msg = fmt.Sprintf("clickhouse unavailable: no answer within %s; retry shortly or narrow the range", dashTimeout)
			}
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msg, "request_id": id})
			return
		default:
			d.log.Error("dashboard query failed", "request_id", id, "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error", "request_id": id})
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Filter filterJSON `json:"filter"`
			Data   any        `json:"data"`
		}{filterJSON{f.From, f.To, f.Bucket, f.Campaign, f.Domain}, v})
	}
}

// acquire takes a query slot, waiting up to d.wait for one; false when
// none freed up in time or ctx ended.
func (d *dashboard) acquire(ctx context.Context) bool {
	select {
	case d.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case d.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// timeLayouts are what from and to accept; without a zone the time is UTC
// (what <input type="datetime-local"> sends).
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly}

func parseTime(key, s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %q: want RFC 3339 (2026-11-01T10:00:00Z), 2026-11-01T10:00 (UTC) or 2026-11-01", key, s)
}

// parseRange reads "24h", "90m" or whole days "7d".
func parseRange(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("range: %q: want a duration such as 24h or 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("range: %q: want a duration such as 24h or 7d", s)
	}
	return v, nil
}

// parseFilter reads from, to (default now), range (default 7d, used when
// from is absent), campaign, domain and bucket (hour, day; default hour up
// to 72 hours, else day).
func parseFilter(r *http.Request, now time.Time) (clickhouse.Filter, error) {
	v := r.URL.Query()
	f := clickhouse.Filter{Campaign: strings.TrimSpace(v.Get("campaign")), Domain: strings.ToLower(strings.TrimSpace(v.Get("domain")))}
	var err error
	f.To = now.UTC().Truncate(time.Second)
	if s := v.Get("to"); s != "" {
		if f.To, err = parseTime("to", s); err != nil {
			return f, err
		}
	}
	if s := v.Get("from"); s != "" {
		if f.From, err = parseTime("from", s); err != nil {
			return f, err
		}
	} else {
		span := defaultRange
		if s := v.Get("range"); s != "" {
			if span, err = parseRange(s); err != nil {
				return f, err
			}
		}
		f.From = f.To.Add(-span)
	}
	if !f.From.Before(f.To) {
		return f, fmt.Errorf("from (%s) must be before to (%s)", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	if f.To.Sub(f.From) > maxRange {
		return f, fmt.Errorf("the range is longer than %d days", maxRange/(24*time.Hour))
	}
	switch b := v.Get("bucket"); b {
	case "":
		f.Bucket = clickhouse.BucketHour
		if f.To.Sub(f.From) > dayBucketsAfter {
			f.Bucket = clickhouse.BucketDay
		}
	case clickhouse.BucketHour, clickhouse.BucketDay:
		f.Bucket = b
	default:
		return f, fmt.Errorf("bucket: %q: want hour or day", b)
	}
	return f, nil
}
