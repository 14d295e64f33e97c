package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/processor/event"
)

const insertAlerts = `INSERT INTO %s (at, rule, scope, subject, severity, state, value, threshold, volume, period, message)`

// InsertAlerts stores alert state changes. A replay inserts identical rows,
// which the table's ReplacingMergeTree folds. On a sharded cluster they go
// to the first shard, so FINAL folds them there.
func (c *Client) InsertAlerts(ctx context.Context, as []event.Alert) (err error) {
	if len(as) == 0 {
		return nil
	}
	batch, err := c.connOf(c.shards[0]).PrepareBatch(ctx, fmt.Sprintf(insertAlerts, c.local("alerts")))
	if err != nil {
		return fmt.Errorf("clickhouse insert alerts: prepare: %w", err)
	}
	defer func() {
		if !batch.IsSent() {
			err = errors.Join(err, batch.Abort())
		}
	}()
	for _, a := range as {
		if err := batch.Append(a.At.UTC(), a.Rule, a.Scope, a.Subject, a.Severity, a.State, a.Value, a.Threshold, a.Volume, a.Window, a.Message); err != nil {
			return fmt.Errorf("clickhouse insert alerts: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse insert alerts: %w", err)
	}
	return nil
}

// AlertCounts reads what the alert rules judge: ended sends per campaign and
// per recipient domain with sent_at since sends (from the send rollups),
// complaints about messages sent since sends (from the attempt rollups,
// which count class complaint as a complaint only), and
// attempts per recipient domain and per sending IP that occurred since
// attempts, with those refused as block (any outcome: a 4xx block deferral
// is a block too).
func (c *Client) AlertCounts(ctx context.Context, sends, attempts time.Time) ([]alerts.Counts, error) {
	var out []alerts.Counts
	q := func(scope, query string, args []any, scan func(*alerts.Counts) []any) error {
		rows, err := c.conn.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("clickhouse alert counts (%s): %w", scope, err)
		}
		defer rows.Close()
		for rows.Next() {
			ac := alerts.Counts{Scope: scope}
			if err := rows.Scan(scan(&ac)...); err != nil {
				return fmt.Errorf("clickhouse alert counts (%s): %w", scope, err)
			}
			out = append(out, ac)
		}
		return rows.Err()
	}
	sendScan := func(ac *alerts.Counts) []any { return []any{&ac.Subject, &ac.Delivered, &ac.Bounced, &ac.Hard} }
	since := sends.UTC().Truncate(time.Hour)
	if err := q("campaign", `SELECT campaign_id, toUInt64(greatest(sum(delivered), 0)), toUInt64(greatest(sum(bounced), 0)), toUInt64(greatest(sum(hard), 0))
		FROM campaign_sends_hourly WHERE sent_hour >= ? GROUP BY campaign_id`, []any{since}, sendScan); err != nil {
		return nil, err
	}
	if err := q("domain", `SELECT recipient_domain, toUInt64(greatest(sum(delivered), 0)), toUInt64(greatest(sum(bounced), 0)), toUInt64(greatest(sum(hard), 0))
		FROM domain_sends_hourly WHERE sent_hour >= ? GROUP BY recipient_domain`, []any{since}, sendScan); err != nil {
		return nil, err
	}
	// Complaints per send hour, as the sends: the complaint rate is
	// complaints about the messages whose delivered sends it divides by.
	complaintScan := func(ac *alerts.Counts) []any { return []any{&ac.Subject, &ac.Complaints} }
	for _, s := range []struct{ scope, table, col string }{{"campaign", "campaign_hourly", "campaign_id"}, {"domain", "domain_hourly", "recipient_domain"}} {
		query := fmt.Sprintf(`SELECT %[2]s, toUInt64(sum(complaints)) AS n_complaints FROM %[1]s
			WHERE hour >= ? GROUP BY %[2]s HAVING n_complaints > 0`, s.table, s.col)
		if err := q(s.scope, query, []any{since}, complaintScan); err != nil {
			return nil, err
		}
	}
	// Attempt counts come from the attempts table itself: a block spike is
	// about the last hour, and the rollups count only final block refusals.
	// Sends older than a queue lifetime have no attempts now, which lets
	// the month partitions of sent_at prune.
	from := attempts.UTC()
	attScan := func(ac *alerts.Counts) []any { return []any{&ac.Subject, &ac.Attempts, &ac.Block} }
	for _, s := range []struct{ scope, col string }{{"domain", "recipient_domain"}, {"ip", "sending_ip"}} {
		query := fmt.Sprintf(`SELECT %[1]s, countIf(class != 'complaint'), countIf(class = 'block') FROM attempts
			WHERE sent_at >= ? AND occurred_at >= ? AND %[1]s != '' GROUP BY %[1]s`, s.col)
		if err := q(s.scope, query, []any{from.Add(-7 * 24 * time.Hour), from}, attScan); err != nil {
			return nil, err
		}
	}
	// One subject per scope: merge a domain's send and attempt counts.
	merged := make([]alerts.Counts, 0, len(out))
	at := map[string]int{}
	for _, ac := range out {
		k := ac.Scope + "|" + ac.Subject
		if i, ok := at[k]; ok {
			m := &merged[i]
			m.Delivered, m.Bounced, m.Hard = m.Delivered+ac.Delivered, m.Bounced+ac.Bounced, m.Hard+ac.Hard
			m.Complaints += ac.Complaints
			m.Attempts, m.Block = m.Attempts+ac.Attempts, m.Block+ac.Block
			continue
		}
		at[k] = len(merged)
		merged = append(merged, ac)
	}
	return merged, nil
}
