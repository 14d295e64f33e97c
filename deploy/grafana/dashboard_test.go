// Package grafana holds the Grafana dashboard (bounced.json) and its
// provisioning; this test runs every panel's SQL against a real ClickHouse.
package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"go.yaml.in/yaml/v3"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's panels
	Targets []struct {
		RefID      string         `json:"refId"`
		RawSQL     string         `json:"rawSql"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Datasource *datasourceRef `json:"datasource"`
}

// datasourceRef is how a panel, target or variable names its data source.
type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// The data source every panel must use: the dashboard's variable, never a
// fixed uid, so an imported dashboard works with whatever uid the user's
// ClickHouse data source has.
const (
	pluginType    = "grafana-clickhouse-datasource"
	datasourceVar = "${datasource}"
	provisioned   = "bounced-clickhouse" // provisioning/datasources/clickhouse.yaml
)

type dashboardJSON struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			AllValue   string          `json:"allValue"`
			Datasource *datasourceRef  `json:"datasource"`
			Current    struct {
				Value json.RawMessage `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

// query is one SQL text of the dashboard and where it comes from.
type query struct{ where, sql string }

func load(t *testing.T) (dashboardJSON, []query) {
	t.Helper()
	b, err := os.ReadFile("bounced.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("bounced.json: %v", err)
	}
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %d %q has no query", p.ID, p.Title)
			}
			if p.Datasource == nil || *p.Datasource != (datasourceRef{pluginType, datasourceVar}) {
				t.Errorf("panel %d %q: data source %+v, want the %s variable of type %s", p.ID, p.Title, p.Datasource, datasourceVar, pluginType)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && *tg.Datasource != (datasourceRef{pluginType, datasourceVar}) {
					t.Errorf("panel %d %q %s: data source %+v, want the %s variable", p.ID, p.Title, tg.RefID, tg.Datasource, datasourceVar)
				}
				qs = append(qs, query{fmt.Sprintf("panel %d %q %s", p.ID, p.Title, tg.RefID), tg.RawSQL})
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue // no SQL: it picks the data source (TestDatasourceVariable)
		}
		if v.Datasource == nil || *v.Datasource != (datasourceRef{pluginType, datasourceVar}) {
			t.Errorf("variable %s: data source %+v, want the %s variable", v.Name, v.Datasource, datasourceVar)
		}
		var q struct {
			RawSQL string `json:"rawSql"`
		}
		var s string
		if json.Unmarshal(v.Query, &q) == nil && q.RawSQL != "" {
			s = q.RawSQL
		} else if json.Unmarshal(v.Query, &s) != nil || s == "" {
			t.Errorf("variable %s: no query", v.Name)
			continue
		}
		qs = append(qs, query{"variable " + v.Name, s})
	}
	return d, qs
}

var (
	timeFilter = regexp.MustCompile(`\$__timeFilter\(\s*([\w.]+)\s*\)`)
	dateFilter = regexp.MustCompile(`\$__dateFilter\(\s*([\w.]+)\s*\)`)
	variable   = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)
)

// expand replaces the macros as grafana-clickhouse-datasource (v4) does and
// the template variables by vars (already formatted, as Grafana substitutes
// a custom all value unformatted). An unknown $ token fails the test.
func expand(t *testing.T, where, sql string, from, to time.Time, vars map[string]string) string {
	t.Helper()
	f, tt := from.Unix(), to.Unix()
	sql = timeFilter.ReplaceAllString(sql, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", f, tt))
	sql = dateFilter.ReplaceAllString(sql, fmt.Sprintf("$1 >= toDate('%s') AND $1 <= toDate('%s')",
		from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)))
	sql = strings.ReplaceAll(sql, "$__fromTime", fmt.Sprintf("toDateTime(%d)", f))
	sql = strings.ReplaceAll(sql, "$__toTime", fmt.Sprintf("toDateTime(%d)", tt))
	return variable.ReplaceAllStringFunc(sql, func(m string) string {
		s := variable.FindStringSubmatch(m)
		name := s[1] + s[3]
		v, ok := vars[name]
		if !ok || (s[2] != "" && s[2] != "singlequote") {
			t.Errorf("%s: unknown macro or variable %s", where, m)
		}
		return v
	})
}

// fixture gives every table the dashboard reads rows in the test range
// (2026-11-01), so each query also runs over data, not only an empty table.
// INSERT ... SELECT: the server converts the literals to the column types.
var fixture = []string{
	`INSERT INTO campaign_sends_hourly (sent_hour, tenant, campaign_id, delivered, bounced, hard, soft, block)
		SELECT '2026-11-01 10:00:00', 't1', 'c-alpha', 90, 10, 2, 5, 3`,
	`INSERT INTO campaign_sends_hourly (sent_hour, tenant, campaign_id, delivered, bounced, hard, soft, block)
		SELECT '2026-11-01 11:00:00', 't1', 'c-beta', 196, 4, 4, 0, 0`,
	`INSERT INTO campaign_hourly (hour, tenant, campaign_id, attempts, delivered, deferred, bounced, dropped, hard, soft, block, complaints)
		SELECT '2026-11-01 10:00:00', 't1', 'c-alpha', 120, 90, 20, 10, 0, 2, 5, 3, 0`,
	`INSERT INTO domain_sends_hourly (sent_hour, recipient_domain, delivered, bounced, hard, soft, block)
		SELECT '2026-11-01 10:00:00', 'gmail.com', 250, 10, 5, 3, 2`,
	`INSERT INTO domain_hourly (hour, recipient_domain, sending_ip, attempts, delivered, deferred, bounced, dropped, hard, soft, block, complaints)
		SELECT '2026-11-01 10:00:00', 'gmail.com', '192.0.2.10', 280, 250, 20, 10, 0, 5, 3, 2, 0`,
	`INSERT INTO ip_hourly (hour, sending_ip, pool, attempts, delivered, deferred, bounced, hard, soft, block)
		SELECT '2026-11-01 10:00:00', '192.0.2.10', 'pool-a', 120, 95, 10, 15, 1, 2, 12`,
	`INSERT INTO reasons_daily (day, outcome, class, label, rule, smtp_code, smtp_enhanced, campaign_id, recipient_domain, attempts)
		SELECT '2026-11-01', 'bounced', 'hard', 'mailbox_unknown', 'text.user_unknown', 550, '5.1.1', 'c-alpha', 'gmail.com', 7`,
	`INSERT INTO alerts (at, rule, scope, subject, severity, state, value, threshold, volume, message)
		SELECT '2026-11-01 10:05:00', 'hard_rate', 'campaign', 'c-alpha', 'warning', 'firing', 0.02, 0.01, 100, 'hard rate 2% over 1%'`,
	`INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak, source, evidence, deleted, version)
		SELECT 'a@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', 'Hard bounce.', 'text.user_unknown',
		'2026-11-01 10:10:00', '2026-11-01 10:10:00', 0, 'auto', '[]', 0, 1`,
}

// TestPanelQueries runs every panel's and variable's SQL, macros expanded,
// against a database migrated by sinks/clickhouse, with the variables at
// "All" and at one value each. Every query must run and return rows.
func TestPanelQueries(t *testing.T) {
	d, qs := load(t)
	if d.UID != "bounced-overview" {
		t.Errorf("uid %q: docker-compose.yml's GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH and links expect bounced-overview", d.UID)
	}
	vars := map[string][]string{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue
		}
		if v.AllValue != "'__all'" {
			t.Errorf("variable %s: allValue %q, the queries test for '__all'", v.Name, v.AllValue)
		}
		vars[v.Name] = []string{v.AllValue}
	}
	vars["campaign"] = append(vars["campaign"], "'c-alpha'")
	vars["domain"] = append(vars["domain"], "'gmail.com'")

	addr, database := chtest.Database(t)
	ctx := context.Background()
	c, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: database}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var settings ch.Settings
	if c.ServerVersion().Major < 19 {
		settings = ch.Settings{"allow_experimental_low_cardinality_type": 1}
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Database: database}, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range fixture {
		if err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}

	from := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if len(qs) < 10 {
		t.Fatalf("only %d queries in bounced.json", len(qs))
	}
	for i := range 2 { // 0: every variable at All; 1: one value each
		set := map[string]string{}
		for name, vs := range vars {
			set[name] = vs[i]
		}
		for _, q := range qs {
			sql := expand(t, q.where, q.sql, from, to, set)
			rows, err := conn.Query(ctx, sql)
			if err != nil {
				t.Errorf("%s (variables %v): %v\n%s", q.where, set, err, sql)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				t.Errorf("%s (variables %v): %v\n%s", q.where, set, err, sql)
			} else if n == 0 {
				t.Errorf("%s (variables %v): no rows over the fixture\n%s", q.where, set, sql)
			}
		}
	}
}

// TestDatasourceVariable: the dashboard picks its data source through a
// variable of the plugin's type, defaulting to the provisioned one, and no
// panel, target or query variable names a fixed uid (an imported dashboard
// must work with the user's ClickHouse data source, whatever its uid).
func TestDatasourceVariable(t *testing.T) {
	d, _ := load(t) // checks each panel's, target's and variable's data source
	found := false
	for _, v := range d.Templating.List {
		if v.Name != "datasource" {
			continue
		}
		found = true
		var q, cur string
		if v.Type != "datasource" || json.Unmarshal(v.Query, &q) != nil || q != pluginType {
			t.Errorf("variable datasource: type %q query %s, want type datasource and query %q", v.Type, v.Query, pluginType)
		}
		if json.Unmarshal(v.Current.Value, &cur) != nil || cur != provisioned {
			t.Errorf("variable datasource: current value %s, want the provisioned %q", v.Current.Value, provisioned)
		}
	}
	if !found {
		t.Fatal("bounced.json has no datasource variable")
	}

	// Every "uid" under a "datasource" key, anywhere in the panels and the
	// query variables, is the variable: a fixed uid the structs of load miss
	// (a nested panel type, a new field) fails here.
	b, err := os.ReadFile("bounced.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Panels     []any `json:"panels"`
		Templating struct {
			List []map[string]any `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if ds, ok := e.(map[string]any); ok && k == "datasource" {
					if uid, ok := ds["uid"]; ok && uid != datasourceVar {
						t.Errorf("%s.datasource: fixed uid %v, want %s", path, uid, datasourceVar)
					}
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("panels", raw.Panels)
	for i, v := range raw.Templating.List {
		if v["type"] != "datasource" {
			walk(fmt.Sprintf("templating.list[%d]", i), v)
		}
	}
}

// TestProvisionedDatasource: the provisioned data source has the uid the
// dashboard's variable defaults to and is never made the default data
// source, which would take over the one the user chose.
func TestProvisionedDatasource(t *testing.T) {
	b, err := os.ReadFile("provisioning/datasources/clickhouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			Name      string `yaml:"name"`
			UID       string `yaml:"uid"`
			Type      string `yaml:"type"`
			IsDefault *bool  `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("clickhouse.yaml: %v", err)
	}
	if len(f.Datasources) != 1 {
		t.Fatalf("clickhouse.yaml: %d data sources, want 1", len(f.Datasources))
	}
	ds := f.Datasources[0]
	if ds.UID != provisioned || ds.Type != pluginType {
		t.Errorf("data source %q: uid %q type %q, want uid %q type %q", ds.Name, ds.UID, ds.Type, provisioned, pluginType)
	}
	if ds.IsDefault != nil && *ds.IsDefault {
		t.Errorf("data source %q: isDefault: true; a provisioned data source must not replace the user's default", ds.Name)
	}
}
