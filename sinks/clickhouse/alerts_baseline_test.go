package clickhouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// TestAlertTrendsBaseline reads the baseline rules' trends from rollup rows
// written by hand: the last hour (the rollup hour that began an hour
// before now, and the current one) against the 7 days before it, nothing
// older, subjects without traffic in the last hour left out; then the
// default rules fire soft_spike on the domain whose soft rate jumped and
// block_baseline_spike on the IP whose block rate jumped, and nothing on
// the steady campaign.
func TestAlertTrendsBaseline(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	conn := rawConn(t, db)
	ctx := context.Background()
	now := time.Date(2026, 6, 10, 12, 30, 0, 0, time.UTC)
	// insert sends rows through a batch: an INSERT ... VALUES query waits
	// for a data block on the native protocol.
	insert := func(query string, rows ...[]any) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// "2006-01-02 15h delivered bounced soft"
	sends := func(table, col, subject string, rows ...string) {
		t.Helper()
		var vals [][]any
		for _, r := range rows {
			var hour string
			var d, b, s int64
			if _, err := fmt.Sscanf(r, "%s %d %d %d", &hour, &d, &b, &s); err != nil {
				t.Fatalf("row %q: %v", r, err)
			}
			at, err := time.Parse("2006-01-02T15", hour)
			if err != nil {
				t.Fatal(err)
			}
			vals = append(vals, []any{at, subject, d, b, s})
		}
		insert(fmt.Sprintf("INSERT INTO %s (sent_hour, %s, delivered, bounced, soft)", table, col), vals...)
	}
	sends("domain_sends_hourly", "recipient_domain", "a.example",
		"2026-06-01T10 100 900 900", // before the baseline: left out
		"2026-06-03T11 490 10 10",   // the baseline's first hour
		"2026-06-05T10 480 20 20",
		"2026-06-10T10 980 20 20", // the baseline's last hour
		"2026-06-10T11 200 20 20", // the last hour
		"2026-06-10T12 170 30 30",
		"2026-06-10T12 -1 1 1", // a late soft bounce moved, unmerged
	)
	sends("domain_sends_hourly", "recipient_domain", "quiet.example",
		"2026-06-05T10 500 50 50") // no traffic in the last hour
	sends("campaign_sends_hourly", "campaign_id", "steady",
		"2026-06-05T10 1960 40 40",
		"2026-06-10T11 490 10 10")
	h := func(s string) time.Time { at, _ := time.Parse("2006-01-02T15", s); return at }
	insert("INSERT INTO ip_hourly (hour, sending_ip, pool, attempts, block)",
		[]any{h("2026-06-08T00"), "192.0.2.7", "a", uint64(1000), uint64(5)},
		[]any{h("2026-06-08T00"), "192.0.2.7", "b", uint64(1000), uint64(5)},
		[]any{h("2026-06-10T11"), "192.0.2.7", "a", uint64(600), uint64(60)},
		[]any{h("2026-06-10T12"), "198.51.100.1", "a", uint64(300), uint64(3)})

	got, err := c.AlertTrends(ctx, now, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	week := 7 * 24 * time.Hour
	want := map[string]alerts.Trend{
		"domain|a.example": {Scope: "domain", Subject: "a.example", Baseline: week,
			Hour: alerts.Tally{Sends: 420, Soft: 51}, Base: alerts.Tally{Sends: 2000, Soft: 50}},
		"campaign|steady": {Scope: "campaign", Subject: "steady", Baseline: week,
			Hour: alerts.Tally{Sends: 500, Soft: 10}, Base: alerts.Tally{Sends: 2000, Soft: 40}},
		"ip|192.0.2.7": {Scope: "ip", Subject: "192.0.2.7", Baseline: week,
			Hour: alerts.Tally{Attempts: 600, Block: 60}, Base: alerts.Tally{Attempts: 2000, Block: 10}},
		"ip|198.51.100.1": {Scope: "ip", Subject: "198.51.100.1", Baseline: week,
			Hour: alerts.Tally{Attempts: 300, Block: 3}},
	}
	if len(got) != len(want) {
		t.Errorf("%d trends, want %d: %+v", len(got), len(want), got)
	}
	for _, tr := range got {
		if w, ok := want[tr.Scope+"|"+tr.Subject]; !ok || tr != w {
			t.Errorf("trend %+v, want %+v", tr, w)
		}
	}

	// A 24-hour baseline sees only 2026-06-10 10:00 before the last hour.
	day, err := c.AlertTrends(ctx, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range day {
		if tr.Subject == "a.example" && (tr.Base != alerts.Tally{Sends: 1000, Soft: 20} || tr.Baseline != 24*time.Hour) {
			t.Errorf("24h baseline of a.example: %+v", tr)
		}
	}

	e := alerts.New(alerts.DefaultRules())
	var fired []string
	for _, a := range e.EvaluateAll(now, 24*time.Hour, nil, got) {
		if a.State != event.AlertFiring {
			t.Errorf("unexpected %+v", a)
		}
		fired = append(fired, a.Rule+" "+a.Scope+" "+a.Subject+": "+a.Message)
	}
	wantFired := []string{
		"block_baseline_spike ip 192.0.2.7: The block rate of ip 192.0.2.7 is 10.0% over the last hour (600 attempts), 10.0× the floor of 1.0% (its 7-day baseline is 0.50%).",
		"soft_spike domain a.example: The soft-bounce rate of domain a.example is 12.1% over the last hour (420 sends), 4.9× its 7-day baseline of 2.5%.",
	}
	if strings.Join(fired, "\n") != strings.Join(wantFired, "\n") {
		t.Errorf("fired:\n%s\nwant:\n%s", strings.Join(fired, "\n"), strings.Join(wantFired, "\n"))
	}
}
