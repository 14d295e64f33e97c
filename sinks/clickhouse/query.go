package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Tally counts attempts by outcome. Bounced counts sends that ended without
// delivery (outcome bounced or expired); Hard, Soft and Block split Bounced by
// verdict class; Complaints counts class complaint whatever the outcome.
type Tally struct {
	Attempts   uint64
	Delivered  uint64
	Deferred   uint64
	Bounced    uint64
	Dropped    uint64
	Hard       uint64
	Soft       uint64
	Block      uint64
	Complaints uint64
}

// Sends is the denominator of every rate: sends that reached a final state
// at the recipient's side, delivered + bounced. Deferrals are retried, not
// outcomes; drops never left our MTA.
func (t Tally) Sends() uint64 { return t.Delivered + t.Bounced }

// Rate is one group's counters and rates (SPEC §6).
type Rate struct {
	// Key is the campaign id, the recipient domain, or the send hour in RFC 3339 (UTC).
	Key string
	Tally
	// Sends = Delivered + Bounced.
	Sends uint64
	// BounceRate = Bounced / Sends; HardRate, SoftRate and BlockRate likewise; 0 without sends.
	BounceRate, HardRate, SoftRate, BlockRate float64
	// DeferralRate = Deferred / Attempts, reported separately because a
	// deferral is not an outcome.
	DeferralRate float64
}

func newRate(key string, t Tally) Rate {
	r := Rate{Key: key, Tally: t, Sends: t.Sends()}
	if r.Sends > 0 {
		s := float64(r.Sends)
		r.BounceRate = float64(t.Bounced) / s
		r.HardRate = float64(t.Hard) / s
		r.SoftRate = float64(t.Soft) / s
		r.BlockRate = float64(t.Block) / s
	}
	if t.Attempts > 0 {
		r.DeferralRate = float64(t.Deferred) / float64(t.Attempts)
	}
	return r
}

// Groupings accepted by Rates.
const (
	ByCampaign = "campaign"
	ByDomain   = "domain"
	BySendHour = "send_hour"
)

// tallySums reads a rollup's counters. Aliases never reuse a column name
// (n_hard, not hard): 18.16 and the modern analyzer resolve such clashes
// differently.
const tallySums = `sum(attempts) AS n_attempts, sum(delivered) AS n_delivered, sum(deferred) AS n_deferred,
	sum(bounced) AS n_bounced, sum(dropped) AS n_dropped, sum(hard) AS n_hard, sum(soft) AS n_soft,
	sum(block) AS n_block, sum(complaints) AS n_complaints`

func (t *Tally) dest() []any {
	return []any{&t.Attempts, &t.Delivered, &t.Deferred, &t.Bounced, &t.Dropped, &t.Hard, &t.Soft, &t.Block, &t.Complaints}
}

// Rates reads the rollups grouped by "campaign" or "domain" (the limit largest
// by sends, then by attempts), or by "send_hour" (the limit most recent hours,
// returned oldest first). limit <= 0 means 100.
func (c *Client) Rates(ctx context.Context, by string, limit int) ([]Rate, error) {
	if limit <= 0 {
		limit = 100
	}
	var q string
	switch by {
	case ByCampaign:
		q = `SELECT campaign_id AS k, ` + tallySums + ` FROM campaign_hourly GROUP BY k
			ORDER BY n_delivered + n_bounced DESC, n_attempts DESC, k LIMIT ?`
	case ByDomain:
		q = `SELECT recipient_domain AS k, ` + tallySums + ` FROM domain_hourly GROUP BY k
			ORDER BY n_delivered + n_bounced DESC, n_attempts DESC, k LIMIT ?`
	case BySendHour:
		q = `SELECT hour AS k, ` + tallySums + ` FROM campaign_hourly GROUP BY k ORDER BY k DESC LIMIT ?`
	default:
		return nil, fmt.Errorf("clickhouse rates: by %q: want %q, %q or %q", by, ByCampaign, ByDomain, BySendHour)
	}
	rows, err := c.conn.Query(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse rates by %s: %w", by, err)
	}
	defer rows.Close()
	var out []Rate
	for rows.Next() {
		var t Tally
		var key string
		var hour time.Time
		dest := t.dest()
		if by == BySendHour {
			dest = append([]any{&hour}, dest...)
		} else {
			dest = append([]any{&key}, dest...)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse rates by %s: %w", by, err)
		}
		if by == BySendHour {
			key = hour.UTC().Format(time.RFC3339)
		}
		out = append(out, newRate(key, t))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse rates by %s: %w", by, err)
	}
	if by == BySendHour {
		slices.Reverse(out)
	}
	return out, nil
}

// Reason is one verdict's share of the attempts that were not delivered.
type Reason struct {
	Class, Label, Rule string
	// Attempts is how many attempts got this verdict (deferrals included).
	Attempts uint64
	// Enhanced and Code are the most frequent reply seen with it, as an example.
	Enhanced string
	Code     uint16
}

// TopReasons lists the limit most frequent verdicts of undelivered attempts
// and complaints, from the reasons_daily rollup. limit <= 0 means 20.
func (c *Client) TopReasons(ctx context.Context, limit int) ([]Reason, error) {
	if limit <= 0 {
		limit = 20
	}
	// Per (verdict, reply) first, then per verdict, so the example reply is
	// the most common one and not whichever row argMax meets first.
	const q = `SELECT class, label, rule, sum(n) AS n_attempts,
		argMax(smtp_enhanced, n) AS ex_enhanced, argMax(smtp_code, n) AS ex_code
	FROM (
		SELECT class, label, rule, smtp_enhanced, smtp_code, sum(attempts) AS n
		FROM reasons_daily
		GROUP BY class, label, rule, smtp_enhanced, smtp_code
	)
	GROUP BY class, label, rule
	ORDER BY n_attempts DESC, class, label, rule
	LIMIT ?`
	rows, err := c.conn.Query(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse top reasons: %w", err)
	}
	defer rows.Close()
	var out []Reason
	for rows.Next() {
		var r Reason
		if err := rows.Scan(&r.Class, &r.Label, &r.Rule, &r.Attempts, &r.Enhanced, &r.Code); err != nil {
			return nil, fmt.Errorf("clickhouse top reasons: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse top reasons: %w", err)
	}
	return out, nil
}

// Counts are exact totals computed from the raw tables, not the rollups: the
// reference the rollups are checked against.
type Counts struct {
	Total      Tally
	ByCampaign map[string]Tally
	ByDomain   map[string]Tally
	// Suppressed is the number of addresses whose latest record is not a
	// tombstone (held records included).
	Suppressed uint64
}

// rawTally computes a Tally's columns from attempts rows, with the same
// definitions as the materialized views. A complaint is an event about a
// delivered message, not an attempt: it counts only as a complaint.
const rawTally = `countIf(class != 'complaint') AS n_attempts,
	countIf(outcome = 'delivered' AND class != 'complaint') AS n_delivered,
	countIf(outcome = 'deferred') AS n_deferred,
	countIf(outcome = 'bounced' OR outcome = 'expired') AS n_bounced,
	countIf(outcome = 'dropped') AS n_dropped,
	countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'hard') AS n_hard,
	countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'soft') AS n_soft,
	countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'block') AS n_block,
	countIf(class = 'complaint') AS n_complaints`

// Counts scans the attempts table (and suppressions with FINAL). It is exact
// but reads every row: for tests, reports and reconciliation, not dashboards.
func (c *Client) Counts(ctx context.Context) (Counts, error) {
	out := Counts{ByCampaign: map[string]Tally{}, ByDomain: map[string]Tally{}}
	for _, g := range []struct {
		col string
		m   map[string]Tally
	}{{"campaign_id", out.ByCampaign}, {"recipient_domain", out.ByDomain}} {
		rows, err := c.conn.Query(ctx, `SELECT `+g.col+` AS k, `+rawTally+` FROM attempts GROUP BY k`)
		if err != nil {
			return Counts{}, fmt.Errorf("clickhouse counts by %s: %w", g.col, err)
		}
		for rows.Next() {
			var k string
			var t Tally
			if err := rows.Scan(append([]any{&k}, t.dest()...)...); err != nil {
				rows.Close()
				return Counts{}, fmt.Errorf("clickhouse counts by %s: %w", g.col, err)
			}
			g.m[k] = t
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return Counts{}, fmt.Errorf("clickhouse counts by %s: %w", g.col, err)
		}
	}
	for _, t := range out.ByCampaign {
		out.Total.add(t)
	}
	if err := c.conn.QueryRow(ctx, `SELECT count() FROM suppressions FINAL WHERE deleted = 0`).Scan(&out.Suppressed); err != nil {
		return Counts{}, fmt.Errorf("clickhouse counts suppressions: %w", err)
	}
	return out, nil
}

func (t *Tally) add(u Tally) {
	t.Attempts += u.Attempts
	t.Delivered += u.Delivered
	t.Deferred += u.Deferred
	t.Bounced += u.Bounced
	t.Dropped += u.Dropped
	t.Hard += u.Hard
	t.Soft += u.Soft
	t.Block += u.Block
	t.Complaints += u.Complaints
}

// StoredSuppression is a suppression as the suppressions table holds it.
type StoredSuppression struct {
	Address, Domain, Status, Class, Label, Reason, Rule, Source string
	Since, UpdatedAt                                            time.Time
	SoftStreak                                                  uint32
	Evidence                                                    string // JSON
	Version                                                     uint64
}

// Suppression returns the current record of an address (FINAL: latest version
// wins); ok is false when there is none or it was lifted.
func (c *Client) Suppression(ctx context.Context, address string) (s StoredSuppression, ok bool, err error) {
	rows, err := c.conn.Query(ctx, `SELECT address, domain, status, class, label, reason, rule, source,
		since, updated_at, soft_streak, evidence, version
		FROM suppressions FINAL WHERE address = ? AND deleted = 0`, address)
	if err != nil {
		return s, false, fmt.Errorf("clickhouse suppression %s: %w", address, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&s.Address, &s.Domain, &s.Status, &s.Class, &s.Label, &s.Reason, &s.Rule, &s.Source,
			&s.Since, &s.UpdatedAt, &s.SoftStreak, &s.Evidence, &s.Version); err != nil {
			return s, false, fmt.Errorf("clickhouse suppression %s: %w", address, err)
		}
		ok = true
	}
	if err := rows.Err(); err != nil {
		return s, false, fmt.Errorf("clickhouse suppression %s: %w", address, err)
	}
	return s, ok, nil
}
