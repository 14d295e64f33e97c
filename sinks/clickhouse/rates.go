package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rate is one group's send counts, attempt counts and rates (SPEC §6).
//
// Delivered, Bounced, Hard, Soft and Block count SENDS (one message to one
// recipient) by their final state, from the outcomes rollups: a message
// deferred three times and then delivered is one delivered send, and a late
// bounce after a delivery moves its send from Delivered to Bounced. Attempts
// and Deferred count attempts, from the attempt rollups.
type Rate struct {
	// Key is the campaign id, the recipient domain, or the send hour in RFC 3339 (UTC).
	Key string
	// Sends = Delivered + Bounced: sends that reached a final state.
	Sends int64
	// Delivered and Bounced (bounced or expired) are ended sends; Hard, Soft
	// and Block split Bounced by the class of the attempt that ended it.
	Delivered, Bounced, Hard, Soft, Block int64
	// Attempts counts delivery attempts (complaints excluded); Deferred those
	// that were deferred.
	Attempts, Deferred uint64
	// Complaints counts spam reports (class complaint: outcome complaint, or
	// the older outcome delivered with the source's complaint), from the
	// attempt rollups. They are never attempts, deliveries or sends.
	Complaints uint64
	// BounceRate = Bounced / Sends; HardRate, SoftRate and BlockRate
	// likewise; 0 without sends.
	BounceRate, HardRate, SoftRate, BlockRate float64
	// DeferralRate = Deferred / Attempts, reported separately because a
	// deferral is not an outcome.
	DeferralRate float64
	// ComplaintRate = Complaints / Delivered (SPEC §6: complaints per
	// delivered send); 0 without delivered sends.
	ComplaintRate float64
}

func (r *Rate) finish() {
	r.Sends = r.Delivered + r.Bounced
	if r.Sends > 0 {
		s := float64(r.Sends)
		r.BounceRate = float64(r.Bounced) / s
		r.HardRate = float64(r.Hard) / s
		r.SoftRate = float64(r.Soft) / s
		r.BlockRate = float64(r.Block) / s
	}
	if r.Attempts > 0 {
		r.DeferralRate = float64(r.Deferred) / float64(r.Attempts)
	}
	if r.Delivered > 0 {
		r.ComplaintRate = float64(r.Complaints) / float64(r.Delivered)
	}
}

// Groupings accepted by Rates.
const (
	ByCampaign = "campaign"
	ByDomain   = "domain"
	BySendHour = "send_hour"
)

// ReportFilter selects what RatesWhere and TopReasonsWhere count (the
// dashboard reads of dashboard.go take a Filter, which needs a closed range). The zero value counts
// everything.
type ReportFilter struct {
	// From and To bound the SEND time (sent_at, not the bounce time) to
	// [From, To). Rollups are hourly, so From is rounded down and To up to
	// the hour; reasons are daily and use the days From and To fall on.
	// Zero means unbounded.
	From, To time.Time
	// Campaign and Domain, when set, keep that campaign id / recipient
	// domain only.
	Campaign, Domain string
	// Raw reads the outcomes and attempts tables instead of the rollups:
	// every send's current state (argMax by version), counted. Exact and
	// slower; Rates uses it by itself when the filter crosses the rollups'
	// dimensions (a campaign and a domain, or grouping by one and filtering
	// by the other).
	Raw bool
}

// hours returns the filter's bounds rounded out to whole hours.
func (f ReportFilter) hours() (from, to time.Time) {
	if !f.From.IsZero() {
		from = f.From.UTC().Truncate(time.Hour)
	}
	if !f.To.IsZero() {
		to = f.To.UTC().Truncate(time.Hour)
		if to.Before(f.To) {
			to = to.Add(time.Hour)
		}
	}
	return from, to
}

// where builds a WHERE clause over the given columns ("" = the table lacks
// that dimension, and the filter must not use it).
func (f ReportFilter) where(timeCol, campaignCol, domainCol string) (string, []any) {
	var conds []string
	var args []any
	from, to := f.hours()
	if !from.IsZero() {
		conds, args = append(conds, timeCol+" >= toDateTime(?)"), append(args, from.Unix())
	}
	if !to.IsZero() {
		conds, args = append(conds, timeCol+" < toDateTime(?)"), append(args, to.Unix())
	}
	if f.Campaign != "" {
		conds, args = append(conds, campaignCol+" = ?"), append(args, f.Campaign)
	}
	if f.Domain != "" {
		conds, args = append(conds, domainCol+" = ?"), append(args, f.Domain)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// source is where one grouping reads its sends and attempts.
type source struct {
	sendsTable, attemptsTable string // rollups; "" = read the raw tables
	timeCol, attemptsTimeCol  string
	keyCol                    string // in the rollups and the raw tables alike
}

// pick chooses the rollups for a grouping and filter, or raw tables when
// no rollup has every dimension needed.
func pick(by string, f ReportFilter) (source, error) {
	var s source
	switch by {
	case ByCampaign:
		s = source{"campaign_sends_hourly", "campaign_hourly", "sent_hour", "hour", "campaign_id"}
		if f.Domain != "" {
			f.Raw = true
		}
	case ByDomain:
		s = source{"domain_sends_hourly", "domain_hourly", "sent_hour", "hour", "recipient_domain"}
		if f.Campaign != "" {
			f.Raw = true
		}
	case BySendHour:
		s = source{"campaign_sends_hourly", "campaign_hourly", "sent_hour", "hour", ""}
		switch {
		case f.Campaign != "" && f.Domain != "":
			f.Raw = true
		case f.Domain != "":
			s.sendsTable, s.attemptsTable = "domain_sends_hourly", "domain_hourly"
		}
	default:
		return s, fmt.Errorf("clickhouse rates: by %q: want %q, %q or %q", by, ByCampaign, ByDomain, BySendHour)
	}
	if f.Raw {
		s.sendsTable, s.attemptsTable = "", ""
	}
	return s, nil
}

// Rates reads the rollups grouped by "campaign" or "domain" (the limit
// largest by sends, then by attempts), or by "send_hour" (the limit most
// recent hours, returned oldest first). limit <= 0 means 100.
func (c *Client) Rates(ctx context.Context, by string, limit int) ([]Rate, error) {
	return c.RatesWhere(ctx, by, ReportFilter{}, limit)
}

// RatesWhere is Rates over what f selects.
func (c *Client) RatesWhere(ctx context.Context, by string, f ReportFilter, limit int) ([]Rate, error) {
	if limit <= 0 {
		limit = 100
	}
	src, err := pick(by, f)
	if err != nil {
		return nil, err
	}
	groups := map[string]*Rate{}
	get := func(k string) *Rate {
		r := groups[k]
		if r == nil {
			r = &Rate{Key: k}
			groups[k] = r
		}
		return r
	}
	key := func(col string) string {
		if col == "" {
			return "toString(toStartOfHour(sent_at))"
		}
		return "toString(" + col + ")"
	}

	// Sends.
	var sendsQ string
	var sendsArgs []any
	if src.sendsTable != "" {
		k := key(src.keyCol)
		if src.keyCol == "" {
			k = "toString(sent_hour)"
		}
		w, args := f.where(src.timeCol, "campaign_id", "recipient_domain")
		sendsQ = `SELECT ` + k + ` AS k, toInt64(sum(delivered)) AS n_delivered, toInt64(sum(bounced)) AS n_bounced,
			toInt64(sum(hard)) AS n_hard, toInt64(sum(soft)) AS n_soft, toInt64(sum(block)) AS n_block
			FROM ` + src.sendsTable + w + ` GROUP BY k`
		sendsArgs = args
	} else {
		// Each send's current state: the row of highest version.
		w, args := f.where("sent_at", "campaign_id", "recipient_domain")
		sendsQ = `SELECT k, toInt64(countIf(o = 'delivered')) AS n_delivered,
			toInt64(countIf(o = 'bounced' OR o = 'expired')) AS n_bounced,
			toInt64(countIf((o = 'bounced' OR o = 'expired') AND c = 'hard')) AS n_hard,
			toInt64(countIf((o = 'bounced' OR o = 'expired') AND c = 'soft')) AS n_soft,
			toInt64(countIf((o = 'bounced' OR o = 'expired') AND c = 'block')) AS n_block
			FROM (
				SELECT send_key, argMax(` + key(src.keyCol) + `, version) AS k,
					argMax(outcome, version) AS o, argMax(class, version) AS c
				FROM outcomes` + w + ` GROUP BY send_key
			) GROUP BY k`
		sendsArgs = args
	}
	err = c.each(ctx, sendsQ, sendsArgs, func(scan func(...any) error) error {
		var k string
		var d, b, h, s, bl int64
		if err := scan(&k, &d, &b, &h, &s, &bl); err != nil {
			return err
		}
		r := get(k)
		r.Delivered, r.Bounced, r.Hard, r.Soft, r.Block = d, b, h, s, bl
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse rates by %s: sends: %w", by, err)
	}

	// Attempts.
	var attQ string
	var attArgs []any
	if src.attemptsTable != "" {
		k := key(src.keyCol)
		if src.keyCol == "" {
			k = "toString(hour)"
		}
		w, args := f.where(src.attemptsTimeCol, "campaign_id", "recipient_domain")
		attQ = `SELECT ` + k + ` AS k, toUInt64(sum(attempts)) AS n_attempts, toUInt64(sum(deferred)) AS n_deferred,
			toUInt64(sum(complaints)) AS n_complaints
			FROM ` + src.attemptsTable + w + ` GROUP BY k`
		attArgs = args
	} else {
		w, args := f.where("sent_at", "campaign_id", "recipient_domain")
		attQ = `SELECT ` + key(src.keyCol) + ` AS k, countIf(class != 'complaint') AS n_attempts,
			countIf(outcome = 'deferred') AS n_deferred, countIf(class = 'complaint') AS n_complaints
			FROM attempts` + w + ` GROUP BY k`
		attArgs = args
	}
	err = c.each(ctx, attQ, attArgs, func(scan func(...any) error) error {
		var k string
		var a, d, cp uint64
		if err := scan(&k, &a, &d, &cp); err != nil {
			return err
		}
		r := get(k)
		r.Attempts, r.Deferred, r.Complaints = a, d, cp
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse rates by %s: attempts: %w", by, err)
	}

	out := make([]Rate, 0, len(groups))
	for _, r := range groups {
		if by == BySendHour {
			// toString(DateTime('UTC')) is "2006-01-02 15:04:05" in UTC.
			if t, err := time.Parse(time.DateTime, r.Key); err == nil {
				r.Key = t.UTC().Format(time.RFC3339)
			}
		}
		r.finish()
		if r.Sends == 0 && r.Attempts == 0 && r.Delivered == 0 && r.Bounced == 0 && r.Complaints == 0 {
			continue // an all-zero group left by a late bounce's -1/+1 before a merge
		}
		out = append(out, *r)
	}
	if by == BySendHour {
		slices.SortFunc(out, func(a, b Rate) int { return strings.Compare(b.Key, a.Key) })
		out = out[:min(limit, len(out))]
		slices.Reverse(out)
		return out, nil
	}
	slices.SortFunc(out, func(a, b Rate) int {
		switch {
		case a.Sends != b.Sends:
			return cmpDesc(a.Sends, b.Sends)
		case a.Attempts != b.Attempts:
			return cmpDesc(a.Attempts, b.Attempts)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out[:min(limit, len(out))], nil
}

func cmpDesc[T int64 | uint64](a, b T) int {
	if a > b {
		return -1
	}
	return 1
}

// each runs a query and calls fn per row with a scan function.
func (c *Client) each(ctx context.Context, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
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
	return c.TopReasonsWhere(ctx, ReportFilter{}, limit)
}

// TopReasonsWhere is TopReasons over what f selects; reasons_daily is per
// send day, so f's time bounds select the days they fall on.
func (c *Client) TopReasonsWhere(ctx context.Context, f ReportFilter, limit int) ([]Reason, error) {
	if limit <= 0 {
		limit = 20
	}
	var conds []string
	var args []any
	from, to := f.hours()
	if !from.IsZero() {
		conds, args = append(conds, "day >= toDate(toDateTime(?))"), append(args, from.Unix())
	}
	if !to.IsZero() {
		conds, args = append(conds, "day <= toDate(toDateTime(?))"), append(args, to.Add(-time.Second).Unix())
	}
	if f.Campaign != "" {
		conds, args = append(conds, "campaign_id = ?"), append(args, f.Campaign)
	}
	if f.Domain != "" {
		conds, args = append(conds, "recipient_domain = ?"), append(args, f.Domain)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	// Per (verdict, reply) first, then per verdict, so the example reply is
	// the most common one and not whichever row argMax meets first.
	q := `SELECT class, label, rule, sum(n) AS n_attempts,
		argMax(smtp_enhanced, n) AS ex_enhanced, argMax(smtp_code, n) AS ex_code
	FROM (
		SELECT class, label, rule, smtp_enhanced, smtp_code, sum(attempts) AS n
		FROM reasons_daily` + where + `
		GROUP BY class, label, rule, smtp_enhanced, smtp_code
	)
	GROUP BY class, label, rule
	ORDER BY n_attempts DESC, class, label, rule
	LIMIT ?`
	var out []Reason
	err := c.each(ctx, q, append(args, limit), func(scan func(...any) error) error {
		var r Reason
		if err := scan(&r.Class, &r.Label, &r.Rule, &r.Attempts, &r.Enhanced, &r.Code); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse top reasons: %w", err)
	}
	return out, nil
}
