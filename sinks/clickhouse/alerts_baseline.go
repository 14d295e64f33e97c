package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/alerts"
)

// The baseline rules' queries read each subject's last hour and baseline in
// one pass over the hourly rollups (sumIf over the hour column), which 18.16
// runs as well as a modern server. The rollups are SummingMergeTree with
// signed send counters: always sum, and clamp at 0 (a -1 delivered can sit
// in another part than its +1 until they merge). Only subjects with traffic
// in the last hour come back: the others cannot spike, and a firing alert
// whose subject is missing resolves as "no traffic".
const (
	trendSendsQuery = `SELECT %[2]s,
		toUInt64(greatest(sumIf(delivered + bounced, sent_hour >= ?), 0)) AS hour_sends,
		toUInt64(greatest(sumIf(soft, sent_hour >= ?), 0)),
		toUInt64(greatest(sumIf(delivered + bounced, sent_hour < ?), 0)),
		toUInt64(greatest(sumIf(soft, sent_hour < ?), 0))
	FROM %[1]s WHERE sent_hour >= ? AND %[2]s != ''
	GROUP BY %[2]s HAVING hour_sends > 0`
	// ip_hourly counts attempts by the hour they occurred: a block is about
	// when the receiver refused us. Its block column counts final block
	// refusals (outcome bounced or expired), as the baseline does.
	trendIPQuery = `SELECT sending_ip,
		sumIf(attempts, hour >= ?) AS hour_attempts,
		sumIf(block, hour >= ?),
		sumIf(attempts, hour < ?),
		sumIf(block, hour < ?)
	FROM ip_hourly WHERE hour >= ? AND sending_ip != ''
	GROUP BY sending_ip HAVING hour_attempts > 0`
)

// AlertTrends reads the baseline rules' numbers at at: per campaign and
// recipient domain, ended sends and soft bounces (by send hour, from the
// send rollups), and per sending IP, attempts and block refusals (by
// attempt hour, from ip_hourly), over the last hour and over the baseline
// span before it. The last hour is the rollups' hour that began an hour
// before at and the current one: whole rollup rows, so it spans 1 to 2
// hours. The baseline is the baseline span before it.
func (c *Client) AlertTrends(ctx context.Context, at time.Time, baseline time.Duration) ([]alerts.Trend, error) {
	hour := at.UTC().Add(-time.Hour).Truncate(time.Hour)
	from := hour.Add(-baseline)
	args := []any{hour, hour, hour, hour, from}
	var out []alerts.Trend
	read := func(scope, query string, scan func(*alerts.Trend) []any) error {
		rows, err := c.conn.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("clickhouse alert trends (%s): %w", scope, err)
		}
		defer rows.Close()
		for rows.Next() {
			t := alerts.Trend{Scope: scope, Baseline: baseline}
			if err := rows.Scan(scan(&t)...); err != nil {
				return fmt.Errorf("clickhouse alert trends (%s): %w", scope, err)
			}
			out = append(out, t)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("clickhouse alert trends (%s): %w", scope, err)
		}
		return nil
	}
	sends := func(t *alerts.Trend) []any {
		return []any{&t.Subject, &t.Hour.Sends, &t.Hour.Soft, &t.Base.Sends, &t.Base.Soft}
	}
	for _, s := range []struct{ scope, table, col string }{
		{"campaign", "campaign_sends_hourly", "campaign_id"},
		{"domain", "domain_sends_hourly", "recipient_domain"},
	} {
		if err := read(s.scope, fmt.Sprintf(trendSendsQuery, s.table, s.col), sends); err != nil {
			return nil, err
		}
	}
	ips := func(t *alerts.Trend) []any {
		return []any{&t.Subject, &t.Hour.Attempts, &t.Hour.Block, &t.Base.Attempts, &t.Base.Block}
	}
	if err := read("ip", trendIPQuery, ips); err != nil {
		return nil, err
	}
	return out, nil
}
