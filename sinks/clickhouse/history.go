package clickhouse

// An address's history: every attempt stored for one recipient, newest
// first, a page at a time (bounced history, GET /v1/addresses/{address}).
// Read-only: a missing table is reported, never created.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// History page sizes.
const (
	// DefaultHistoryLimit is the page size when the caller gives none.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit bounds one page: a page is read and sorted whole.
	MaxHistoryLimit = 1000
)

// ErrBadCursor marks a before cursor History cannot read; callers answer
// 400 (or exit with a usage error).
var ErrBadCursor = errors.New("bad cursor")

// ErrNoAttemptsTable marks a database without the attempts table: the
// migrations never ran there. History never creates it.
var ErrNoAttemptsTable = errors.New("clickhouse has no attempts table: run `bounced migrate`")

// HistoryAttempt is one stored attempt of an address, as History returns it.
type HistoryAttempt struct {
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	SentAt     time.Time `json:"sent_at"`
	Campaign   string    `json:"campaign"`
	MessageID  string    `json:"message_id"`
	// Outcome is delivered, deferred, bounced, expired, dropped or
	// complaint (a spam report about a delivered message).
	Outcome    string `json:"outcome"`
	Attempt    int    `json:"attempt"`
	Code       int    `json:"smtp_code"`
	Enhanced   string `json:"smtp_enhanced"`
	Text       string `json:"text"`
	Class      string `json:"class"`
	Label      string `json:"label"`
	Rule       string `json:"rule"`
	SourceKind string `json:"source_kind"`
	SourceHost string `json:"source_host"`
	SendingIP  string `json:"sending_ip"`
	RemoteHost string `json:"remote_host"`
}

// HistoryPage is one page of an address's attempts, newest first. Next is
// the cursor of the page after it (older attempts), empty on the last page.
type HistoryPage struct {
	Attempts []HistoryAttempt `json:"attempts"`
	Next     string           `json:"next"`
}

// historyCursor is the position after which the next page starts: the last
// row's (occurred_at, event_id), the order History sorts by.
type historyCursor struct {
	at      time.Time
	eventID string
}

// cursorVersion prefixes every cursor, so that a later encoding can tell
// old cursors apart (they live in users' browsers and scripts).
const cursorVersion = "h1"

func (c historyCursor) String() string {
	raw := cursorVersion + ":" + strconv.FormatInt(c.at.Unix(), 10) + ":" + c.eventID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseCursor reads a cursor String made; the errors wrap ErrBadCursor and
// say what was expected.
func parseCursor(s string) (historyCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return historyCursor{}, fmt.Errorf("%w: %q is not a cursor this server made (want the next value of an earlier page)", ErrBadCursor, s)
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != cursorVersion {
		return historyCursor{}, fmt.Errorf("%w: %q is not a cursor this server made (want the next value of an earlier page)", ErrBadCursor, s)
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || sec < 0 || sec > 1<<32 { // DateTime holds UInt32 seconds
		return historyCursor{}, fmt.Errorf("%w: %q holds no valid time", ErrBadCursor, s)
	}
	if parts[2] == "" {
		return historyCursor{}, fmt.Errorf("%w: %q holds no event id", ErrBadCursor, s)
	}
	return historyCursor{at: time.Unix(sec, 0).UTC(), eventID: parts[2]}, nil
}

// CheckCursor reports whether before is a cursor History accepts (empty
// is: the first page), so that callers can refuse a bad one before they do
// any other work.
func CheckCursor(before string) error {
	if before == "" {
		return nil
	}
	_, err := parseCursor(before)
	return err
}

// History returns up to limit attempts of address (normalised, as
// ingest.NormaliseAddress gives it), newest first by (occurred_at,
// event_id), starting after the cursor before (empty: the newest).
//
// Cost: attempts is ordered by (campaign_id, recipient_domain, sent_at),
// so no index leads with the recipient. The filter on recipient_domain lets
// the primary key skip the granules of other domains inside each campaign;
// the server still reads every granule of the address's domain (every
// campaign, every month) and filters them on recipient. For a large domain
// (gmail.com) that is most of the table's recipient column. Modern servers
// with migration 101 also skip granules with the idx_recipient bloom filter.
// Rows are sorted on the server and only limit+1 come back.
func (c *Client) History(ctx context.Context, address string, limit int, before string) (HistoryPage, error) {
	const op = "address history"
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 {
		return HistoryPage{}, fmt.Errorf("clickhouse %s: %q is not a normalised address (want local@domain)", op, address)
	}
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	if limit > MaxHistoryLimit {
		return HistoryPage{}, fmt.Errorf("clickhouse %s: limit %d: want 1-%d", op, limit, MaxHistoryLimit)
	}
	where := `recipient_domain = ? AND recipient = ?`
	args := []any{address[at+1:], address}
	if before != "" {
		cur, err := parseCursor(before)
		if err != nil {
			return HistoryPage{}, err
		}
		// No tuple comparison: 18.16 has none that uses the index.
		t := cur.at.Format(chTime)
		where += ` AND (occurred_at < toDateTime(?, 'UTC') OR (occurred_at = toDateTime(?, 'UTC') AND event_id < ?))`
		args = append(args, t, t, cur.eventID)
	}
	rows, err := c.conn.Query(ctx, `SELECT event_id, occurred_at, sent_at, toString(campaign_id), message_id,
		toString(outcome), toUInt32(attempt), toUInt32(smtp_code), toString(smtp_enhanced), diagnostic,
		toString(class), toString(label), toString(rule), toString(source_kind), toString(source_host),
		toString(sending_ip), toString(remote_host)
	FROM attempts
	WHERE `+where+`
	ORDER BY occurred_at DESC, event_id DESC
	LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return HistoryPage{}, c.historyErr(ctx, op, err)
	}
	defer rows.Close()
	page := HistoryPage{Attempts: []HistoryAttempt{}}
	for rows.Next() {
		var a HistoryAttempt
		var attempt, code uint32
		if err := rows.Scan(&a.EventID, &a.OccurredAt, &a.SentAt, &a.Campaign, &a.MessageID, &a.Outcome, &attempt, &code,
			&a.Enhanced, &a.Text, &a.Class, &a.Label, &a.Rule, &a.SourceKind, &a.SourceHost, &a.SendingIP, &a.RemoteHost); err != nil {
			return HistoryPage{}, c.historyErr(ctx, op, err)
		}
		a.OccurredAt, a.SentAt = a.OccurredAt.UTC(), a.SentAt.UTC()
		a.Attempt, a.Code = int(attempt), int(code)
		page.Attempts = append(page.Attempts, a)
	}
	if err := rows.Err(); err != nil {
		return HistoryPage{}, c.historyErr(ctx, op, err)
	}
	if len(page.Attempts) > limit {
		page.Attempts = page.Attempts[:limit]
		last := page.Attempts[limit-1]
		page.Next = historyCursor{at: last.OccurredAt, eventID: last.EventID}.String()
	}
	return page, nil
}

// historyErr is dashErr with the missing table as ErrNoAttemptsTable, so
// that callers can tell the user to migrate.
func (c *Client) historyErr(ctx context.Context, op string, err error) error {
	var exc *ch.Exception
	if errors.As(err, &exc) && exc.Code == 60 { // UNKNOWN_TABLE
		return fmt.Errorf("clickhouse %s: %w (%v)", op, ErrNoAttemptsTable, err)
	}
	return c.dashErr(ctx, op, err)
}
