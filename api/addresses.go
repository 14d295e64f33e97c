package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// Timeline reads one address's history: its streak state (from the state
// changelog) and a page of its attempts (from ClickHouse), newest first.
// address is normalised; limit is 1 to clickhouse.MaxHistoryLimit; before
// is empty or the Next of an earlier page.
//
// Errors: clickhouse.ErrBadCursor for a cursor it cannot read,
// clickhouse.ErrUnavailable or ErrStateUnavailable when ClickHouse or Kafka
// does not answer, clickhouse.ErrNoAttemptsTable without migrations.
type Timeline interface {
	History(ctx context.Context, address string, limit int, before string) (History, error)
}

// ErrStateUnavailable marks a Timeline that could not read the state
// changelog because Kafka does not answer; the handler answers 503.
var ErrStateUnavailable = errors.New("kafka unavailable: cannot read the state topic")

// History is what a Timeline knows of one address.
type History struct {
	// State is the address's streak state; nil when the changelog holds
	// none (StateNote then says how far it was searched).
	State     *StreakState `json:"state"`
	StateNote string       `json:"state_note,omitempty"`
	// Attempts are newest first; Next is the before of the next (older)
	// page, empty on the last one.
	Attempts []clickhouse.HistoryAttempt `json:"attempts"`
	Next     string                      `json:"next"`
}

// StreakState is what stage 2 keeps of an address (processor/streak.State),
// as the history shows it.
type StreakState struct {
	// Partition and Offset locate the changelog record it was read from.
	Partition int   `json:"partition"`
	Offset    int64 `json:"offset"`
	// SoftStreak counts the failed sends of the current soft streak;
	// WindowStart is the first one's time (nil without a streak).
	SoftStreak  int        `json:"soft_streak"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	// Streak is the evidence of each failed send of the streak, oldest first.
	Streak []event.Evidence `json:"streak,omitempty"`
	// LastApplied is the attempts-topic offset (in Partition) of the last
	// event stage 2 applied to the address.
	LastApplied  int64      `json:"last_applied_offset"`
	LastDelivery *time.Time `json:"last_delivery,omitempty"`
	// Status is suppressed or held when the fold has marked the address
	// (Since: from when), empty otherwise.
	Status event.Status `json:"status,omitempty"`
	Class  event.Class  `json:"class,omitempty"`
	Label  event.Label  `json:"label,omitempty"`
	Since  *time.Time   `json:"since,omitempty"`
	// ExpiresAt is when the suppression ends by itself, when it does
	// (the record's expires_at).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// AddressHistory is the answer of GET /v1/addresses/{address} and what
// `bounced history --format json` prints: the current suppression record
// (nil when the address is not on the list), then the History.
type AddressHistory struct {
	Address     string             `json:"address"`
	Suppression *event.Suppression `json:"suppression"`
	History
}

// WithTimeline serves GET /v1/addresses/{address} from tl. Without it, or
// with a nil tl, that path answers 503 (a member without ClickHouse).
func WithTimeline(tl Timeline) Option { return func(o *options) { o.timeline = tl } }

// address serves GET /v1/addresses/{address}?limit=&before=: 400 for a bad
// address, limit or cursor, 503 while the suppression list loads or when
// ClickHouse or Kafka does not answer, like the dashboard's endpoints (it
// shares their query slots).
func (d *dashboard) address(list Suppressions, tl Timeline) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		norm, _, err := ingest.NormaliseAddress(r.PathValue("address"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		q := r.URL.Query()
		limit := clickhouse.DefaultHistoryLimit
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > clickhouse.MaxHistoryLimit {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit: %q: want 1-%d", s, clickhouse.MaxHistoryLimit)})
				return
			}
		}
		before := q.Get("before")
		if err := clickhouse.CheckCursor(before); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "before: " + err.Error()})
			return
		}
		if tl == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"error": "this member has no ClickHouse connection (pipeline.stage ingest); ask a member that runs the decide stage",
			})
			return
		}
		if !list.Ready() {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "suppression list still loading; retry shortly"})
			return
		}
		if !d.acquire(r.Context()) {
			if r.Context().Err() != nil {
				return
			}
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"error": fmt.Sprintf("busy: %d dashboard queries are running; retry shortly", cap(d.slots)),
			})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), dashTimeout)
		h, err := tl.History(ctx, norm, limit, before)
		cancel()
		<-d.slots
		id := requestID(r)
		switch {
		case err == nil:
		case errors.Is(err, clickhouse.ErrBadCursor):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "before: " + err.Error()})
			return
		case errors.Is(err, clickhouse.ErrNoAttemptsTable):
			d.log.Warn("address history: no attempts table", "request_id", id, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "clickhouse has no attempts table: run `bounced migrate`", "request_id": id})
			return
		case errors.Is(err, clickhouse.ErrUnavailable), errors.Is(err, ErrStateUnavailable), errors.Is(err, context.DeadlineExceeded):
			d.log.Warn("address history: unavailable", "request_id", id, "err", err)
			msg := "clickhouse unavailable; retry shortly"
			switch {
			case errors.Is(err, ErrStateUnavailable):
				msg = "kafka unavailable: the state topic cannot be read; retry shortly"
			case errors.Is(err, context.DeadlineExceeded):
				msg = fmt.Sprintf("no answer within %s; retry shortly", dashTimeout)
			}
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msg, "request_id": id})
			return
		default:
			d.log.Error("address history failed", "request_id", id, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error", "request_id": id})
			return
		}
		doc := AddressHistory{Address: norm, History: h}
		if rec, ok := list.Get(norm); ok {
			doc.Suppression = &rec
		}
		if doc.Attempts == nil {
			doc.Attempts = []clickhouse.HistoryAttempt{}
		}
		writeJSON(w, http.StatusOK, doc)
	}
}
