package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// Tally counts attempts by outcome, from the attempts table (Counts). Bounced counts sends that ended without
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

func (t *Tally) dest() []any {
	return []any{&t.Attempts, &t.Delivered, &t.Deferred, &t.Bounced, &t.Dropped, &t.Hard, &t.Soft, &t.Block, &t.Complaints}
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
