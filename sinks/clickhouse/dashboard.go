package clickhouse

// Dashboard reads: what bounced's built-in page (api, /dashboard) shows.
// Every query runs on ClickHouse 18.16 and on modern servers: no
// toStartOfInterval, no parameterised {name:Type} queries, aliases that never
// reuse a column name, every counter cast to Int64 so the Go side does not
// depend on whether a rollup stores UInt64 or signed deltas.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// ErrUnavailable marks a dashboard read that failed because the server does
// not answer (as opposed to a query the server refused). Callers answer 503.
var ErrUnavailable = errors.New("clickhouse unavailable")

// Buckets of a rate series.
const (
	BucketHour = "hour"
	BucketDay  = "day"
)

// ByIP groups rates by sending IP (ip_hourly); see also ByCampaign, ByDomain
// and BySendHour (all sends as one series).
const ByIP = "ip"

// Filter narrows every dashboard read. The zero Campaign and Domain mean all.
type Filter struct {
	// From and To bound the send time (sent_at / sent_hour), [From, To).
	From, To time.Time
	Campaign string
	Domain   string
	// Bucket is BucketHour or BucketDay; empty means BucketHour.
	Bucket string
}

func (f Filter) validate() error {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return fmt.Errorf("clickhouse dashboard: time range [%s, %s) is empty", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	if f.Bucket != "" && f.Bucket != BucketHour && f.Bucket != BucketDay {
		return fmt.Errorf("clickhouse dashboard: bucket %q: want %q or %q", f.Bucket, BucketHour, BucketDay)
	}
	return nil
}

const chTime = "2006-01-02 15:04:05"

func (f Filter) from() string { return f.From.UTC().Format(chTime) }
func (f Filter) to() string   { return f.To.UTC().Format(chTime) }

// days are the first and last send day the range touches, for Date columns.
func (f Filter) days() (first, last string) {
	return f.From.UTC().Format(time.DateOnly), f.To.Add(-time.Second).UTC().Format(time.DateOnly)
}

// SendCounts are ended sends (SPEC §6): Bounced includes expired; Hard, Soft
// and Block split Bounced by verdict class.
type SendCounts struct {
	Delivered int64 `json:"delivered"`
	Bounced   int64 `json:"bounced"`
	Hard      int64 `json:"hard"`
	Soft      int64 `json:"soft"`
	Block     int64 `json:"block"`
}

func (s *SendCounts) add(t SendCounts) {
	s.Delivered += t.Delivered
	s.Bounced += t.Bounced
	s.Hard += t.Hard
	s.Soft += t.Soft
	s.Block += t.Block
}

// SendRates are SendCounts with the rates over delivered + bounced; every
// rate is 0 without sends.
type SendRates struct {
	SendCounts
	Sends      int64   `json:"sends"`
	BounceRate float64 `json:"bounce_rate"`
	HardRate   float64 `json:"hard_rate"`
	SoftRate   float64 `json:"soft_rate"`
	BlockRate  float64 `json:"block_rate"`
}

func ratesOf(s SendCounts) SendRates {
	r := SendRates{SendCounts: s, Sends: s.Delivered + s.Bounced}
	if r.Sends > 0 {
		n := float64(r.Sends)
		r.BounceRate = float64(s.Bounced) / n
		r.HardRate = float64(s.Hard) / n
		r.SoftRate = float64(s.Soft) / n
		r.BlockRate = float64(s.Block) / n
	}
	return r
}

// Point is one bucket of a series, At its start (UTC).
type Point struct {
	At time.Time `json:"t"`
	SendRates
}

// Series is one campaign's, domain's or IP's rates over send time, with its
// total over the range.
type Series struct {
	Key    string    `json:"key"`
	Total  SendRates `json:"total"`
	Points []Point   `json:"points"`
}

// RateSeries is the answer of SendRates.
type RateSeries struct {
	// Source is the table read: a sends rollup, or outcomes when the filter
	// crosses it (campaign chart narrowed to a domain, or the reverse).
	Source string `json:"source"`
	// Ignored lists filters the source cannot apply (ip_hourly has no campaign).
	Ignored []string `json:"ignored,omitempty"`
	Series  []Series `json:"series"`
}

// rateSource is one table the rate series can come from.
type rateSource struct {
	table  string            // FROM clause, with FINAL where needed
	at     string            // send-time column
	key    string            // grouping column ("" for one series)
	cols   map[string]string // filter ("campaign", "domain") → column
	sums   string            // n_delivered, n_bounced, n_hard, n_soft, n_block
	weight string            // sends, for picking the top keys
}

const rollupSums = `toInt64(sum(delivered)) AS n_delivered, toInt64(sum(bounced)) AS n_bounced,
	toInt64(sum(hard)) AS n_hard, toInt64(sum(soft)) AS n_soft, toInt64(sum(block)) AS n_block`

// outcomes holds one row per send and version; FINAL keeps each send's
// latest state. Expired sends count as bounced, as in the rollups.
const outcomeSums = `toInt64(countIf(outcome = 'delivered')) AS n_delivered,
	toInt64(countIf(outcome IN ('bounced', 'expired'))) AS n_bounced,
	toInt64(countIf(outcome IN ('bounced', 'expired') AND class = 'hard')) AS n_hard,
	toInt64(countIf(outcome IN ('bounced', 'expired') AND class = 'soft')) AS n_soft,
	toInt64(countIf(outcome IN ('bounced', 'expired') AND class = 'block')) AS n_block`

var (
	campaignSends = rateSource{table: "campaign_sends_hourly", at: "sent_hour", key: "campaign_id",
		cols: map[string]string{"campaign": "campaign_id"}, sums: rollupSums, weight: "sum(delivered) + sum(bounced)"}
	domainSends = rateSource{table: "domain_sends_hourly", at: "sent_hour", key: "recipient_domain",
		cols: map[string]string{"domain": "recipient_domain"}, sums: rollupSums, weight: "sum(delivered) + sum(bounced)"}
	outcomeSends = rateSource{table: "outcomes FINAL", at: "sent_at",
		cols:   map[string]string{"campaign": "campaign_id", "domain": "recipient_domain"},
		sums:   outcomeSums,
		weight: "countIf(outcome IN ('delivered', 'bounced', 'expired'))"}
	ipSends = rateSource{table: "ip_hourly", at: "hour", key: "sending_ip",
		cols: map[string]string{}, sums: rollupSums, weight: "sum(delivered) + sum(bounced)"}
)

// pickSource chooses the cheapest table that can apply the whole filter.
func pickSource(by string, f Filter) (rateSource, error) {
	var s rateSource
	switch by {
	case ByCampaign:
		s = campaignSends
		if f.Domain != "" {
			s = outcomeSends
		}
		s.key = "campaign_id"
	case ByDomain:
		s = domainSends
		if f.Campaign != "" {
			s = outcomeSends
		}
		s.key = "recipient_domain"
	case BySendHour:
		switch {
		case f.Campaign != "" && f.Domain != "":
			s = outcomeSends
		case f.Domain != "":
			s = domainSends
		default:
			s = campaignSends
		}
		s.key = ""
	case ByIP:
		s = ipSends
	default:
		return s, fmt.Errorf("clickhouse dashboard rates: by %q: want %q, %q, %q or %q", by, ByCampaign, ByDomain, ByIP, BySendHour)
	}
	return s, nil
}

// where builds the source's WHERE clause for f and its arguments; ignored
// lists the filters the source has no column for.
func (s rateSource) where(f Filter) (clause string, args []any, ignored []string) {
	clause = s.at + ` >= toDateTime(?, 'UTC') AND ` + s.at + ` < toDateTime(?, 'UTC')`
	args = []any{f.from(), f.to()}
	for _, c := range []struct{ name, value string }{{"campaign", f.Campaign}, {"domain", f.Domain}} {
		if c.value == "" {
			continue
		}
		col, ok := s.cols[c.name]
		if !ok {
			ignored = append(ignored, c.name)
			continue
		}
		clause += ` AND ` + col + ` = ?`
		args = append(args, c.value)
	}
	return clause, args, ignored
}

// SendRates reads bounce, hard, soft and block rates per bucket of send time:
// by campaign, domain or sending IP (the limit keys with the most sends in
// the range, most first), or by send hour (one series, key "all"). limit <= 0
// means 10.
func (c *Client) SendRates(ctx context.Context, by string, f Filter, limit int) (RateSeries, error) {
	if err := f.validate(); err != nil {
		return RateSeries{}, err
	}
	if limit <= 0 {
		limit = 10
	}
	src, err := pickSource(by, f)
	if err != nil {
		return RateSeries{}, err
	}
	where, args, ignored := src.where(f)
	bucket := "toStartOfHour(" + src.at + ")"
	if f.Bucket == BucketDay {
		bucket = "toStartOfDay(" + src.at + ")"
	}
	key := "''"
	if src.key != "" {
		key = src.key
	}
	q := `SELECT ` + key + ` AS k, ` + bucket + ` AS t, ` + src.sums + `
	FROM ` + src.table + `
	WHERE ` + where
	if src.key != "" {
		q += `
	  AND ` + src.key + ` IN (
		SELECT ` + src.key + ` FROM ` + src.table + ` WHERE ` + where + `
		GROUP BY ` + src.key + ` ORDER BY ` + src.weight + ` DESC, ` + src.key + ` LIMIT ?)`
		args = append(args, args...)
		args = append(args, limit)
	}
	q += `
	GROUP BY k, t
	ORDER BY k, t`
	op := "dashboard rates by " + by
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return RateSeries{}, c.dashErr(ctx, op, err)
	}
	defer rows.Close()
	out := RateSeries{Source: strings.TrimSuffix(src.table, " FINAL"), Ignored: ignored}
	idx := map[string]int{}
	totals := []SendCounts{}
	for rows.Next() {
		var k string
		var t time.Time
		var n SendCounts
		if err := rows.Scan(&k, &t, &n.Delivered, &n.Bounced, &n.Hard, &n.Soft, &n.Block); err != nil {
			return RateSeries{}, c.dashErr(ctx, op, err)
		}
		if src.key == "" {
			k = "all"
		}
		i, ok := idx[k]
		if !ok {
			i = len(out.Series)
			idx[k] = i
			out.Series = append(out.Series, Series{Key: k})
			totals = append(totals, SendCounts{})
		}
		out.Series[i].Points = append(out.Series[i].Points, Point{At: t.UTC(), SendRates: ratesOf(n)})
		totals[i].add(n)
	}
	if err := rows.Err(); err != nil {
		return RateSeries{}, c.dashErr(ctx, op, err)
	}
	for i := range out.Series {
		out.Series[i].Total = ratesOf(totals[i])
	}
	slices.SortStableFunc(out.Series, func(a, b Series) int {
		if a.Total.Sends != b.Total.Sends {
			if a.Total.Sends > b.Total.Sends {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	if out.Series == nil {
		out.Series = []Series{}
	}
	return out, nil
}

// ReasonCount is one verdict's undelivered attempts in the range.
type ReasonCount struct {
	Class string `json:"class"`
	Label string `json:"label"`
	Rule  string `json:"rule"`
	// Attempts that got this verdict and were not delivered; Bounced of them
	// ended the send (bounced or expired), Deferred were retried.
	Attempts int64 `json:"attempts"`
	Bounced  int64 `json:"bounced"`
	Deferred int64 `json:"deferred"`
	// Enhanced and Code are the most frequent reply with the verdict.
	Enhanced string `json:"enhanced"`
	Code     uint16 `json:"code"`
}

// Reasons lists the limit most frequent verdicts of undelivered attempts sent
// in the range (reasons_daily, whole send days), most first. limit <= 0 means 15.
func (c *Client) Reasons(ctx context.Context, f Filter, limit int) ([]ReasonCount, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 15
	}
	first, last := f.days()
	where := `day >= toDate(?) AND day <= toDate(?)`
	args := []any{first, last}
	if f.Campaign != "" {
		where += ` AND campaign_id = ?`
		args = append(args, f.Campaign)
	}
	if f.Domain != "" {
		where += ` AND recipient_domain = ?`
		args = append(args, f.Domain)
	}
	q := `SELECT class, label, rule, toInt64(sum(n)) AS n_attempts,
		toInt64(sumIf(n, is_bounce = 1)) AS n_bounced, toInt64(sumIf(n, is_deferral = 1)) AS n_deferred,
		argMax(smtp_enhanced, n) AS ex_enhanced, argMax(smtp_code, n) AS ex_code
	FROM (
		SELECT class, label, rule, smtp_enhanced, smtp_code,
			outcome IN ('bounced', 'expired') AS is_bounce, outcome = 'deferred' AS is_deferral,
			sum(attempts) AS n
		FROM reasons_daily
		WHERE ` + where + ` AND class != 'complaint'
		GROUP BY class, label, rule, smtp_enhanced, smtp_code, is_bounce, is_deferral
	)
	GROUP BY class, label, rule
	ORDER BY n_attempts DESC, class, label, rule
	LIMIT ?`
	args = append(args, limit)
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, c.dashErr(ctx, "dashboard reasons", err)
	}
	defer rows.Close()
	out := []ReasonCount{}
	for rows.Next() {
		var r ReasonCount
		if err := rows.Scan(&r.Class, &r.Label, &r.Rule, &r.Attempts, &r.Bounced, &r.Deferred, &r.Enhanced, &r.Code); err != nil {
			return nil, c.dashErr(ctx, "dashboard reasons", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, c.dashErr(ctx, "dashboard reasons", err)
	}
	return out, nil
}

// Alert is the latest row of one (rule, scope, subject) in the alerts table.
type Alert struct {
	At        time.Time `json:"at"`
	Rule      string    `json:"rule"`
	Scope     string    `json:"scope"` // campaign | domain | ip
	Subject   string    `json:"subject"`
	Severity  string    `json:"severity"` // warning | critical | ok
	State     string    `json:"state"`    // firing | resolved
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Volume    uint64    `json:"volume"`
	Message   string    `json:"message"`
}

// Alerts is the answer of Alerts. Missing is true when there is no alerts
// table (yet): the dashboard then shows no alerts instead of failing.
type Alerts struct {
	Missing bool    `json:"missing,omitempty"`
	Alerts  []Alert `json:"alerts"`
}

// Alerts returns the latest state of every alert that changed in the range
// or is still firing at its end, firing and critical first. A campaign or
// domain filter keeps the other scopes and only that subject of its own.
// limit <= 0 means 100.
func (c *Client) Alerts(ctx context.Context, f Filter, limit int) (Alerts, error) {
	if err := f.validate(); err != nil {
		return Alerts{}, err
	}
	if limit <= 0 {
		limit = 100
	}
	where := `at < toDateTime(?, 'UTC')`
	args := []any{f.to()}
	if f.Campaign != "" {
		where += ` AND (scope != 'campaign' OR subject = ?)`
		args = append(args, f.Campaign)
	}
	if f.Domain != "" {
		where += ` AND (scope != 'domain' OR subject = ?)`
		args = append(args, f.Domain)
	}
	// Latest per key by argMax over at (ReplacingMergeTree or not, unmerged
	// duplicates agree). Casts keep the scan independent of Enum or
	// LowCardinality column types.
	q := `SELECT max(at) AS a_at, toString(rule) AS a_rule, toString(scope) AS a_scope, toString(subject) AS a_subject,
		toString(argMax(severity, at)) AS a_severity, toString(argMax(state, at)) AS a_state,
		toFloat64(argMax(value, at)) AS a_value, toFloat64(argMax(threshold, at)) AS a_threshold,
		toUInt64(argMax(volume, at)) AS a_volume, toString(argMax(message, at)) AS a_message
	FROM alerts
	WHERE ` + where + `
	GROUP BY rule, scope, subject
	HAVING a_at >= toDateTime(?, 'UTC') OR a_state = 'firing'
	ORDER BY a_state = 'firing' DESC, a_severity = 'critical' DESC, a_at DESC, a_rule, a_scope, a_subject
	LIMIT ?`
	args = append(args, f.from(), limit)
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		if isException(err, 60) { // UNKNOWN_TABLE
			return Alerts{Missing: true, Alerts: []Alert{}}, nil
		}
		return Alerts{}, c.dashErr(ctx, "dashboard alerts", err)
	}
	defer rows.Close()
	out := Alerts{Alerts: []Alert{}}
	for rows.Next() {
		var a Alert
		if err := rows.Scan(&a.At, &a.Rule, &a.Scope, &a.Subject, &a.Severity, &a.State, &a.Value, &a.Threshold, &a.Volume, &a.Message); err != nil {
			return Alerts{}, c.dashErr(ctx, "dashboard alerts", err)
		}
		a.At = a.At.UTC()
		out.Alerts = append(out.Alerts, a)
	}
	if err := rows.Err(); err != nil {
		return Alerts{}, c.dashErr(ctx, "dashboard alerts", err)
	}
	return out, nil
}

// RecentSuppression is one current suppression record.
type RecentSuppression struct {
	Address    string    `json:"address"`
	Domain     string    `json:"domain"`
	Status     string    `json:"status"`
	Class      string    `json:"class"`
	Label      string    `json:"label"`
	Rule       string    `json:"rule"`
	Reason     string    `json:"reason"`
	Source     string    `json:"source"`
	Since      time.Time `json:"since"`
	UpdatedAt  time.Time `json:"updated_at"`
	SoftStreak uint32    `json:"soft_streak"`
}

// Suppressions is the answer of RecentSuppressions.
type Suppressions struct {
	// Total counts the current records updated in the range, ByClass splits it.
	Total   uint64              `json:"total"`
	ByClass map[string]uint64   `json:"by_class"`
	Recent  []RecentSuppression `json:"recent"`
}

// RecentSuppressions lists the current (not lifted) suppression records
// updated in the range, newest first. The domain filter is the address's
// domain; the campaign filter keeps records whose evidence names the
// campaign. limit <= 0 means 50.
func (c *Client) RecentSuppressions(ctx context.Context, f Filter, limit int) (Suppressions, error) {
	if err := f.validate(); err != nil {
		return Suppressions{}, err
	}
	if limit <= 0 {
		limit = 50
	}
	where := `deleted = 0 AND updated_at >= toDateTime(?, 'UTC') AND updated_at < toDateTime(?, 'UTC')`
	args := []any{f.from(), f.to()}
	if f.Domain != "" {
		where += ` AND domain = ?`
		args = append(args, f.Domain)
	}
	if f.Campaign != "" {
		// Evidence is the JSON array of event.Evidence, written by encoding/json.
		where += ` AND position(evidence, ?) > 0`
		args = append(args, `"campaign_id":`+jsonString(f.Campaign))
	}
	const op = "dashboard suppressions"
	out := Suppressions{ByClass: map[string]uint64{}, Recent: []RecentSuppression{}}
	rows, err := c.conn.Query(ctx, `SELECT toString(class) AS s_class, count() AS n FROM suppressions FINAL WHERE `+where+` GROUP BY s_class`, args...)
	if err != nil {
		return Suppressions{}, c.dashErr(ctx, op, err)
	}
	for rows.Next() {
		var class string
		var n uint64
		if err := rows.Scan(&class, &n); err != nil {
			rows.Close()
			return Suppressions{}, c.dashErr(ctx, op, err)
		}
		out.ByClass[class] = n
		out.Total += n
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return Suppressions{}, c.dashErr(ctx, op, err)
	}
	rows, err = c.conn.Query(ctx, `SELECT address, toString(domain), toString(status), toString(class), toString(label),
		toString(rule), reason, toString(source), since, updated_at, soft_streak
	FROM suppressions FINAL
	WHERE `+where+`
	ORDER BY updated_at DESC, address
	LIMIT ?`, append(args, limit)...)
	if err != nil {
		return Suppressions{}, c.dashErr(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s RecentSuppression
		if err := rows.Scan(&s.Address, &s.Domain, &s.Status, &s.Class, &s.Label, &s.Rule, &s.Reason, &s.Source,
			&s.Since, &s.UpdatedAt, &s.SoftStreak); err != nil {
			return Suppressions{}, c.dashErr(ctx, op, err)
		}
		s.Since, s.UpdatedAt = s.Since.UTC(), s.UpdatedAt.UTC()
		out.Recent = append(out.Recent, s)
	}
	if err := rows.Err(); err != nil {
		return Suppressions{}, c.dashErr(ctx, op, err)
	}
	return out, nil
}

// Choices are the campaigns and domains with sends in a range, most sends
// first: the dashboard's filter suggestions.
type Choices struct {
	Campaigns []string `json:"campaigns"`
	Domains   []string `json:"domains"`
}

// FilterChoices lists at most limit campaigns and domains with sends in the
// range (the campaign and domain of f are not applied). limit <= 0 means 200.
func (c *Client) FilterChoices(ctx context.Context, f Filter, limit int) (Choices, error) {
	if err := f.validate(); err != nil {
		return Choices{}, err
	}
	if limit <= 0 {
		limit = 200
	}
	out := Choices{Campaigns: []string{}, Domains: []string{}}
	for _, g := range []struct {
		src rateSource
		dst *[]string
	}{{campaignSends, &out.Campaigns}, {domainSends, &out.Domains}} {
		q := `SELECT ` + g.src.key + ` AS k FROM ` + g.src.table + `
		WHERE ` + g.src.at + ` >= toDateTime(?, 'UTC') AND ` + g.src.at + ` < toDateTime(?, 'UTC')
		GROUP BY k ORDER BY ` + g.src.weight + ` DESC, k LIMIT ?`
		rows, err := c.conn.Query(ctx, q, f.from(), f.to(), limit)
		if err != nil {
			return Choices{}, c.dashErr(ctx, "dashboard filter choices", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return Choices{}, c.dashErr(ctx, "dashboard filter choices", err)
			}
			*g.dst = append(*g.dst, k)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return Choices{}, c.dashErr(ctx, "dashboard filter choices", err)
		}
	}
	return out, nil
}

func isException(err error, code int32) bool {
	var exc *ch.Exception
	return errors.As(err, &exc) && exc.Code == code
}

// dashErr wraps a failed dashboard read. A server exception means the server
// answered (a missing table gets a hint); anything else is a connection
// problem when a ping fails too, and then wraps ErrUnavailable.
func (c *Client) dashErr(ctx context.Context, op string, err error) error {
	var exc *ch.Exception
	if errors.As(err, &exc) {
		if exc.Code == 60 {
			return fmt.Errorf("clickhouse %s: %w (a table is missing: run `bounced migrate`)", op, err)
		}
		return fmt.Errorf("clickhouse %s: %w", op, err)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if perr := c.conn.Ping(pctx); perr != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, explain(c.cfg, op, err))
	}
	return fmt.Errorf("clickhouse %s: %w", op, err)
}

// jsonString quotes s as encoding/json does.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
