package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/suppressions"
)

// result is everything a run produced that must not depend on how it ran:
// the compacted suppression topic read back as a table, and ClickHouse's
// raw counts, rollups and suppressions table. Kafka offsets and ClickHouse
// src_* columns are left out on purpose: replays move them.
type result struct {
	// View is the suppression topic as a table: address → record as JSON.
	View map[string]event.Suppression
	// Counts are exact tallies from the attempts table.
	Counts clickhouse.Counts
	// Rollups holds every SummingMergeTree and AggregatingMergeTree table
	// (campaign_hourly, domain_hourly, reasons_daily, ...) merged per
	// sorting key: "table key…" → "column=value …".
	Rollups map[string]string
	// Outcomes is the outcomes table (FINAL): "campaign domain send_key" →
	// the row without its version and attempts-topic position.
	Outcomes map[string]string
	// Table is the suppressions table (FINAL, not deleted): address → row.
	Table map[string]string
	// Rows and EventIDs count attempts rows and distinct event ids;
	// Fingerprint sums a hash of each row's content (not its position).
	Rows, EventIDs, Fingerprint uint64
	// DLQ is the dead-letter topic.
	DLQ dlq

	drain time.Duration // how long the run took to drain; not compared
}

// snapshot reads a drained run's outputs.
func snapshot(ctx context.Context, k *kafkaClient, chAddr, database string) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r := &result{View: map[string]event.Suppression{}, Rollups: map[string]string{}, Outcomes: map[string]string{},
		Table: map[string]string{}}

	conn, err := broker.Config{}.Connect([]string{k.addr})
	if err != nil {
		return nil, err
	}
	view := suppressions.NewView(conn, suppTopic, nil)
	if err := view.Load(ctx); err != nil {
		return nil, fmt.Errorf("load the suppression view: %w", err)
	}
	conn.Transport.CloseIdleConnections()
	for _, s := range view.All() {
		r.View[s.Address] = s
	}
	if r.DLQ, err = k.readDLQ(ctx); err != nil {
		return nil, err
	}

	cc, err := clickhouse.Open(ctx, clickhouse.Config{Addr: chAddr, Database: database}, nil)
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	if r.Counts, err = cc.Counts(ctx); err != nil {
		return nil, err
	}

	db, err := ch.Open(&ch.Options{Addr: []string{chAddr}, Auth: ch.Auth{Database: database}, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := readRollups(ctx, db, database, r); err != nil {
		return nil, err
	}
	err = query(ctx, db, `SELECT address, concat(toString(domain), ' ', toString(status), ' ', toString(class), ' ', toString(label), ' ',
			toString(rule), ' since ', toString(since), ' updated ', toString(updated_at), ' streak ', toString(soft_streak), ' ',
			toString(source), ' reason ', reason, ' evidence ', evidence)
		FROM suppressions FINAL WHERE deleted = 0`, func(rows driver.Rows) error {
		var addr, row string
		if err := rows.Scan(&addr, &row); err != nil {
			return err
		}
		r.Table[addr] = row
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = query(ctx, db, `SELECT count(), uniqExact(event_id),
			sum(cityHash64(event_id, recipient, toString(campaign_id), toString(outcome), toString(class), toString(label),
				toString(rule), toString(smtp_code), toString(occurred_at), toString(sent_at)))
		FROM attempts`, func(rows driver.Rows) error {
		return rows.Scan(&r.Rows, &r.EventIDs, &r.Fingerprint)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readRollups reads every summing or aggregating table merged per sorting
// key, and the outcomes table (FINAL), whatever columns they have: the
// tables the migrations define are the ones compared.
func readRollups(ctx context.Context, db driver.Conn, database string, r *result) error {
	type table struct{ name, engine, key string }
	var tables []table
	err := query(ctx, db, `SELECT name, engine, sorting_key FROM system.tables WHERE database = '`+database+`'`, func(rows driver.Rows) error {
		var t table
		if err := rows.Scan(&t.name, &t.engine, &t.key); err != nil {
			return err
		}
		tables = append(tables, t)
		return nil
	})
	if err != nil {
		return err
	}
	type column struct{ name, typ string }
	columns := map[string][]column{}
	err = query(ctx, db, `SELECT table, name, type FROM system.columns WHERE database = '`+database+`'`, func(rows driver.Rows) error {
		var t string
		var c column
		if err := rows.Scan(&t, &c.name, &c.typ); err != nil {
			return err
		}
		columns[t] = append(columns[t], c)
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range tables {
		engine := strings.TrimPrefix(t.engine, "Replicated") // a cluster's tables (clickhouse.cluster)
		summing := engine == "SummingMergeTree" || engine == "AggregatingMergeTree"
		if !summing && t.name != "outcomes" {
			continue
		}
		keys := strings.Split(strings.ReplaceAll(t.key, " ", ""), ",")
		var keyExprs, valExprs []string
		for _, k := range keys {
			keyExprs = append(keyExprs, "toString("+k+")")
		}
		for _, c := range columns[t.name] {
			switch {
			case slices.Contains(keys, c.name):
			case !summing && (c.name == "version" || strings.HasPrefix(c.name, "src_")):
			case !summing:
				valExprs = append(valExprs, fmt.Sprintf("'%s=', toString(%s)", c.name, c.name))
			case strings.HasPrefix(c.typ, "AggregateFunction("):
				fn, _, _ := strings.Cut(strings.TrimPrefix(c.typ, "AggregateFunction("), ",")
				valExprs = append(valExprs, fmt.Sprintf("'%s=', toString(%sMerge(%s))", c.name, strings.TrimSpace(fn), c.name))
			case strings.Contains(c.typ, "Int") || strings.HasPrefix(c.typ, "Float") || strings.HasPrefix(c.typ, "Decimal"):
				valExprs = append(valExprs, fmt.Sprintf("'%s=', toString(sum(%s))", c.name, c.name))
			default:
				valExprs = append(valExprs, fmt.Sprintf("'%s=', toString(any(%s))", c.name, c.name))
			}
		}
		if len(valExprs) == 0 {
			continue
		}
		q := `SELECT concat(` + strings.Join(keyExprs, ", ' ', ") + `) AS k, concat(` + strings.Join(valExprs, ", ' ', ") + `) FROM ` + t.name
		into := r.Outcomes
		if summing {
			q += ` GROUP BY ` + t.key
			into = r.Rollups
		} else {
			q += ` FINAL`
		}
		err := query(ctx, db, q, func(rows driver.Rows) error {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			if summing {
				k = t.name + " " + k
			}
			into[k] = v
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func query(ctx context.Context, db driver.Conn, q string, each func(driver.Rows) error) error {
	rows, err := db.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: %w", firstLine(q), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", firstLine(q), err)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// truthDiff lists every difference between a run's outputs and the
// generator's ground truth.
func truthDiff(s *demo.Stream, r *result) []string {
	var out []string
	for addr, got := range r.View {
		want, ok := s.Truth.Suppressed[addr]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("truth: suppressed but should not be: %s (%s/%s, rule %s, fate %s)", addr, got.Class, got.Label, got.Rule, s.Truth.Fates[addr]))
		case want.Label != got.Label || want.Class != got.Class:
			out = append(out, fmt.Sprintf("truth: %s suppressed for %s/%s, expected %s/%s", addr, got.Class, got.Label, want.Class, want.Label))
		}
	}
	for addr, want := range s.Truth.Suppressed {
		if _, ok := r.View[addr]; !ok {
			out = append(out, fmt.Sprintf("truth: not suppressed but should be: %s (%s/%s, fate %s)", addr, want.Class, want.Label, s.Truth.Fates[addr]))
		}
	}
	tally := func(what, key string, want demo.Tally, got clickhouse.Tally) {
		if int(got.Attempts) != want.Attempts || int(got.Delivered) != want.Delivered || int(got.Deferred) != want.Deferred || int(got.Bounced) != want.Bounced || int(got.Complaints) != want.Complaints {
			out = append(out, fmt.Sprintf("truth: clickhouse %s %s: attempts/delivered/deferred/bounced/complaints %d/%d/%d/%d/%d, expected %d/%d/%d/%d/%d",
				what, key, got.Attempts, got.Delivered, got.Deferred, got.Bounced, got.Complaints, want.Attempts, want.Delivered, want.Deferred, want.Bounced, want.Complaints))
		}
	}
	for camp, want := range s.Truth.PerCampaign {
		tally("campaign", camp, want, r.Counts.ByCampaign[camp])
	}
	for camp, got := range r.Counts.ByCampaign {
		if _, ok := s.Truth.PerCampaign[camp]; !ok {
			tally("campaign", camp, demo.Tally{}, got)
		}
	}
	for dom, want := range s.Truth.PerDomain {
		tally("domain", dom, want, r.Counts.ByDomain[dom])
	}
	for dom, got := range r.Counts.ByDomain {
		if _, ok := s.Truth.PerDomain[dom]; !ok {
			tally("domain", dom, demo.Tally{}, got)
		}
	}
	// A complaint is an attempts row that counts only as a complaint.
	if int(r.Counts.Total.Attempts) != s.Truth.Attempts || int(r.Counts.Total.Complaints) != s.Truth.Complaints ||
		int(r.Rows) != s.Truth.Attempts+s.Truth.Complaints || r.EventIDs != r.Rows {
		out = append(out, fmt.Sprintf("truth: clickhouse holds %d attempt rows (%d counted as attempts, %d as complaints) with %d distinct event ids, expected %d attempts and %d complaints",
			r.Rows, r.Counts.Total.Attempts, r.Counts.Total.Complaints, r.EventIDs, s.Truth.Attempts, s.Truth.Complaints))
	}
	if int(r.Counts.Suppressed) != len(s.Truth.Suppressed) {
		out = append(out, fmt.Sprintf("truth: clickhouse suppressions table holds %d addresses, expected %d", r.Counts.Suppressed, len(s.Truth.Suppressed)))
	}
	if len(r.Rollups) == 0 || len(r.Outcomes) == 0 {
		out = append(out, fmt.Sprintf("harness: read %d rollup rows and %d outcomes rows", len(r.Rollups), len(r.Outcomes)))
	}
	if len(r.DLQ.Positions) != s.Truth.Bad {
		out = append(out, fmt.Sprintf("truth: the DLQ holds %d distinct input records, expected %d", len(r.DLQ.Positions), s.Truth.Bad))
	}
	sort.Strings(out)
	return out
}

// diff lists every difference between a clean run (base) and another run
// over the same input.
func diff(base, got *result) []string {
	var out []string
	out = append(out, diffMaps("suppression topic", jsonMap(base.View), jsonMap(got.View), nil)...)
	out = append(out, diffMaps("attempts by campaign", base.Counts.ByCampaign, got.Counts.ByCampaign, tallyString)...)
	out = append(out, diffMaps("attempts by domain", base.Counts.ByDomain, got.Counts.ByDomain, tallyString)...)
	out = append(out, diffMaps("rollup", base.Rollups, got.Rollups, nil)...)
	out = append(out, diffMaps("outcomes", base.Outcomes, got.Outcomes, nil)...)
	out = append(out, diffMaps("suppressions table", base.Table, got.Table, nil)...)
	if base.Rows != got.Rows || base.EventIDs != got.EventIDs || base.Fingerprint != got.Fingerprint {
		out = append(out, fmt.Sprintf("attempts table: %d rows, %d event ids, content hash %x; clean run %d rows, %d event ids, hash %x",
			got.Rows, got.EventIDs, got.Fingerprint, base.Rows, base.EventIDs, base.Fingerprint))
	}
	if base.Counts.Suppressed != got.Counts.Suppressed {
		out = append(out, fmt.Sprintf("suppressions table: %d addresses, clean run %d", got.Counts.Suppressed, base.Counts.Suppressed))
	}
	out = append(out, diffMaps("dead-letter topic", base.DLQ.Positions, got.DLQ.Positions, nil)...)
	sort.Strings(out)
	return out
}

func jsonMap(m map[string]event.Suppression) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		b, _ := json.Marshal(v)
		out[k] = string(b)
	}
	return out
}

func tallyString(t clickhouse.Tally) string {
	return fmt.Sprintf("attempts %d delivered %d deferred %d bounced %d dropped %d hard %d soft %d block %d complaints %d",
		t.Attempts, t.Delivered, t.Deferred, t.Bounced, t.Dropped, t.Hard, t.Soft, t.Block, t.Complaints)
}

// diffMaps lists keys missing from got, extra in got, and differing values.
func diffMaps[V comparable](what string, base, got map[string]V, show func(V) string) []string {
	if show == nil {
		show = func(v V) string { return fmt.Sprint(v) }
	}
	var out []string
	for k, b := range base {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: %s missing (clean run: %s)", what, k, show(b)))
		case g != b:
			out = append(out, fmt.Sprintf("%s: %s is %s; clean run: %s", what, k, show(g), show(b)))
		}
	}
	for k, g := range got {
		if _, ok := base[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %s extra (%s)", what, k, show(g)))
		}
	}
	return out
}
