package clickhouse_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// dashboardQueries reads schemas/clickhouse/queries/dashboard.sql into
// name → SQL with the Grafana macros replaced by literals.
func dashboardQueries(t *testing.T, from, to, campaign, domain string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../schemas/clickhouse/queries/dashboard.sql")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("$__fromTime", "toDateTime('"+from+"', 'UTC')", "$__toTime", "toDateTime('"+to+"', 'UTC')",
		"$campaign", campaign, "$domain", domain)
	out := map[string]string{}
	for _, block := range strings.Split(string(b), "-- name: ")[1:] {
		name, body, _ := strings.Cut(block, "\n")
		var sql []string
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				sql = append(sql, line)
			}
		}
		out[strings.TrimSpace(name)] = strings.TrimSuffix(strings.TrimSpace(r.Replace(strings.Join(sql, "\n"))), ";")
	}
	return out
}

// Every documented dashboard query runs on this server and returns rows on
// the known-answer stream.
func TestDashboardQueries(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	ks := newKnownStream(600)
	ks.insert(t, c, 1000)
	if err := c.InsertSuppressions(context.Background(), []clickhouse.SuppressionRow{{Address: "x@web.de", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, db)
	qs := dashboardQueries(t, "2026-10-31 00:00:00", "2026-11-03 00:00:00", kCampaigns[0], kDomains[0])
	if len(qs) < 10 {
		t.Fatalf("%d queries in dashboard.sql", len(qs))
	}
	for name, q := range qs {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, q)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		rows.Close()
		switch name {
		case "recent_suppressions", "suppressions_by_label", "ip_block_spikes", "hard_rate_alerts":
		default:
			if n == 0 {
				t.Errorf("%s: no rows", name)
			}
		}
	}
}
