package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// TestModernClickHouse runs every query bounced ships on two engines with the
// same fixture: the local 18.16 server (chtest) and a modern ClickHouse in
// process (chdb, through node and scripts/chdb/check.mjs). 18.16 is what every
// other test uses; without this test a query that only a modern server
// refuses (the analyzer's "no alias for subquery", say) would pass CI.
//
// The queries are: each one of schemas/clickhouse/queries/dashboard.sql, each
// panel's and variable's SQL in deploy/grafana/bounced.json (variables at All
// and at one value), and every SELECT the Client's read methods send
// (recorded off the connection while the methods run here on 18.16, with
// their arguments bound, so the test sees exactly the text the code builds).
// chdb gets every migration, the modern-only ones too. Both engines must
// run every query and return the same number of rows; a few answers are
// checked against the fixture's known numbers.
//
// Install: bash scripts/chdb/install.sh (node and npm from Debian when
// missing, then chdb from scripts/chdb/package-lock.json).
func TestModernClickHouse(t *testing.T) {
	node, script := chdbTools(t)
	addr, database := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Open(ctx, Config{Addr: addr, Database: database}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	// The fixture's day is yesterday, not a fixed date: the modern TTL
	// migrations (400 days on sent_at) would drop rows of a date that ages.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	fixture := splitStatements(strings.ReplaceAll(modernFixture, "{day}", day.Format(time.DateOnly)))
	for i, s := range fixture {
		if err := c.conn.Exec(ctx, s); err != nil {
			t.Fatalf("fixture statement %d on %s: %v\n%s", i+1, c.version, err, s)
		}
	}
	from, to := day, day.AddDate(0, 0, 2)

	var qs []namedQuery
	qs = append(qs, recordGoQueries(ctx, t, c, from, to)...)
	qs = append(qs, dashboardSQL(t, from, to)...)
	qs = append(qs, grafanaSQL(t, from, to)...)
	if len(qs) < 60 {
		t.Fatalf("only %d queries collected; the lists above lost some", len(qs))
	}

	// 18.16: each query runs; its row count is the reference for chdb.
	legacyRows := map[string]int{}
	for _, q := range qs {
		n, err := countRows(ctx, c.conn, q.SQL)
		if err != nil {
			t.Errorf("%s on %s: %v\n%s", q.Name, c.version, err, q.SQL)
			continue
		}
		legacyRows[q.Name] = n
	}

	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// schema_migrations first, as Migrate creates it before any file.
	pms := []planMigration{{Name: "schema_migrations", Statements: []string{schemaMigrations}}}
	for _, m := range ms {
		pms = append(pms, planMigration{m.Name, m.Version, m.Statements})
	}
	plan, err := json.Marshal(chdbPlan{Database: database, Migrations: pms, Fixture: fixture, Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planFile, plan, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, script, planFile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	runErr := cmd.Run()
	t.Logf("chdb check: %d migrations, %d queries in %s", len(ms), len(qs), time.Since(started).Round(time.Millisecond))
	if runErr != nil {
		t.Fatalf("node %s: %v\n%s", script, runErr, stderr.String())
	}
	var res chdbResult
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("node %s: read its answer: %v\n%s", script, err, stderr.String())
	}
	t.Logf("modern engine: chdb %s; legacy: %s", res.Version, c.version)

	modern := map[string][]map[string]any{}
	for _, r := range res.Results {
		modern[r.Name] = r.Rows
	}
	for _, q := range qs {
		rows, ok := modern[q.Name]
		if !ok {
			t.Errorf("%s: no answer from chdb", q.Name)
			continue
		}
		if why := engineDependent[q.SQL]; why != "" {
			continue
		}
		if n, ok := legacyRows[q.Name]; ok && n != len(rows) {
			t.Errorf("%s: %d rows on %s, %d on chdb %s\n%s", q.Name, n, c.version, len(rows), res.Version, q.SQL)
		}
	}

	// Known answers on the modern engine (the fixture's comments give them).
	at := func(query, keyCol, key, col string) float64 {
		t.Helper()
		for _, row := range modern[query] {
			if fmt.Sprint(row[keyCol]) == key {
				return number(t, query, col, row[col])
			}
		}
		t.Errorf("%s: no row with %s = %s on chdb", query, keyCol, key)
		return math.NaN()
	}
	for _, w := range []struct {
		query, keyCol, key, col string
		want                    float64
	}{
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "n_sends", 100},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "bounce_rate", 0.3},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "block_rate", 0.25},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "n_attempts", 120},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "deferral_rate", 20.0 / 120},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-alpha", "n_recipients", 100},
		{"dashboard.sql campaign_rates_table", "campaign_id", "c-beta", "soft_rate", 0.02},
		{"dashboard.sql ip_block_spikes", "sending_ip", "192.0.2.10", "n_block", 25},
		{"dashboard.sql ip_block_spikes", "sending_ip", "192.0.2.10", "block_rate", 0.25},
		{"dashboard.sql ip_block_spikes", "sending_ip", "192.0.2.10", "baseline", 0.05},
		{"Go RatesWhere(campaign) #1", "k", "c-alpha", "n_bounced", 30},
		{"Go RatesWhere(campaign) #2", "k", "c-alpha", "n_deferred", 20},
		{"Go RatesWhere(campaign, raw) #1", "k", "c-alpha", "n_block", 25},
		{"Go RatesWhere(campaign) #2", "k", "c-beta", "n_complaints", 2},
	} {
		if got := at(w.query, w.keyCol, w.key, w.col); math.Abs(got-w.want) > 1e-9 {
			t.Errorf("%s: %s of %s = %v on chdb, want %v", w.query, w.col, w.key, got, w.want)
		}
	}
	if n := len(modern["dashboard.sql ip_block_spikes"]); n != 1 {
		t.Errorf("dashboard.sql ip_block_spikes: %d rows on chdb, want 1 (192.0.2.10 at 10:00)", n)
	}
}

// engineDependent names, by text, the queries whose row count rightly
// differs between 18.16 and a modern engine, and why.
var engineDependent = map[string]string{
	"SELECT DISTINCT version FROM schema_migrations": "a modern server also gets the modern-only migrations",
}

// chdbTools finds node and the check script with chdb installed beside it.
// Without them the test is skipped, except in CI (CI=true), where it fails:
// a CI run must not pass by skipping the modern engine.
func chdbTools(t *testing.T) (node, script string) {
	t.Helper()
	dir, err := filepath.Abs("../../scripts/chdb")
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(dir, "check.mjs")
	missing := ""
	if node, err = exec.LookPath("node"); err != nil {
		missing = "node is not installed (bash scripts/chdb/install.sh installs node, npm and chdb)"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "chdb", "package.json")); err != nil {
		missing = "chdb is not installed in scripts/chdb/node_modules (bash scripts/chdb/install.sh)"
	}
	if missing != "" {
		if ci := os.Getenv("CI"); strings.EqualFold(ci, "true") || ci == "1" {
			t.Fatal(missing + ": scripts/test installs it in CI")
		}
		t.Skip(missing)
	}
	return node, script
}

// namedQuery is one SQL text, ready to run, and where it comes from.
type namedQuery struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// chdbPlan is what scripts/chdb/check.mjs reads.
type chdbPlan struct {
	Database   string          `json:"database"`
	Migrations []planMigration `json:"migrations"`
	Fixture    []string        `json:"fixture"`
	Queries    []namedQuery    `json:"queries"`
}

// planMigration is one migration as check.mjs reads it: every file, the
// modern-only ones too (chdb is a modern engine).
type planMigration struct {
	Name string `json:"name"`
	// Version is recorded in schema_migrations once applied; 0 for
	// schema_migrations itself.
	Version    uint32   `json:"version"`
	Statements []string `json:"statements"`
}

// chdbResult is what scripts/chdb/check.mjs prints.
type chdbResult struct {
	Version string `json:"version"`
	Results []struct {
		Name  string           `json:"name"`
		Rows  []map[string]any `json:"rows"`
		Error string           `json:"error"`
	} `json:"results"`
}

// recordGoQueries runs the Client's read methods over the fixture and returns
// every query they sent, arguments bound. A method that fails on 18.16 fails
// the test here. The list of calls is the one place to add a new read method.
func recordGoQueries(ctx context.Context, t *testing.T, c *Client, from, to time.Time) []namedQuery {
	t.Helper()
	rec := &recorder{Conn: c.conn}
	c.conn = rec
	defer func() { c.conn = rec.Conn }()

	f := Filter{From: from, To: to}
	fc := Filter{From: from, To: to, Campaign: "c-alpha"}
	fd := Filter{From: from, To: to, Domain: "gmail.com", Bucket: BucketDay}
	fcd := Filter{From: from, To: to, Campaign: "c-alpha", Domain: "gmail.com"}
	rf := ReportFilter{From: from, To: to}
	calls := []struct {
		name string
		run  func() error
	}{
		{"Rates(campaign)", func() error { _, err := c.Rates(ctx, ByCampaign, 0); return err }},
		{"RatesWhere(campaign)", func() error { _, err := c.RatesWhere(ctx, ByCampaign, rf, 10); return err }},
		{"RatesWhere(campaign, raw)", func() error {
			_, err := c.RatesWhere(ctx, ByCampaign, ReportFilter{From: from, To: to, Raw: true}, 10)
			return err
		}},
		{"RatesWhere(domain)", func() error {
			_, err := c.RatesWhere(ctx, ByDomain, ReportFilter{From: from, To: to, Domain: "gmail.com"}, 10)
			return err
		}},
		{"RatesWhere(domain, campaign)", func() error {
			_, err := c.RatesWhere(ctx, ByDomain, ReportFilter{Campaign: "c-alpha"}, 10)
			return err
		}},
		{"RatesWhere(send_hour)", func() error { _, err := c.RatesWhere(ctx, BySendHour, rf, 24); return err }},
		{"RatesWhere(send_hour, domain)", func() error {
			_, err := c.RatesWhere(ctx, BySendHour, ReportFilter{Domain: "gmail.com"}, 24)
			return err
		}},
		{"TopReasons", func() error { _, err := c.TopReasons(ctx, 0); return err }},
		{"TopReasonsWhere", func() error {
			_, err := c.TopReasonsWhere(ctx, ReportFilter{From: from, To: to, Campaign: "c-alpha", Domain: "gmail.com"}, 5)
			return err
		}},
		{"SourceVerdicts", func() error { _, err := c.SourceVerdicts(ctx, rf, 0); return err }},
		{"SourceVerdicts(campaign)", func() error {
			_, err := c.SourceVerdicts(ctx, ReportFilter{From: from, To: to, Campaign: "c-alpha", Domain: "gmail.com"}, 5)
			return err
		}},
		{"SendRates(campaign)", func() error { _, err := c.SendRates(ctx, ByCampaign, f, 0); return err }},
		{"SendRates(campaign, domain)", func() error { _, err := c.SendRates(ctx, ByCampaign, fd, 0); return err }},
		{"SendRates(domain)", func() error { _, err := c.SendRates(ctx, ByDomain, fc, 0); return err }},
		{"SendRates(ip)", func() error { _, err := c.SendRates(ctx, ByIP, fcd, 0); return err }},
		{"SendRates(send_hour)", func() error { _, err := c.SendRates(ctx, BySendHour, fcd, 0); return err }},
		{"Reasons", func() error { _, err := c.Reasons(ctx, fcd, 0); return err }},
		{"Alerts", func() error { _, err := c.Alerts(ctx, fcd, 0); return err }},
		{"RecentSuppressions", func() error { _, err := c.RecentSuppressions(ctx, fcd, 0); return err }},
		{"FilterChoices", func() error { _, err := c.FilterChoices(ctx, f, 0); return err }},
		{"AlertCounts", func() error { _, err := c.AlertCounts(ctx, from, from); return err }},
		{"Counts", func() error { _, err := c.Counts(ctx); return err }},
		{"Suppression", func() error { _, _, err := c.Suppression(ctx, "a@gmail.com"); return err }},
		{"History", func() error { _, err := c.History(ctx, "r1@gmail.com", 0, ""); return err }},
		{"Watermark", func() error { _, err := c.Watermark(ctx, "bounced.attempts", 0); return err }},
		{"readWatermark(outcomes)", func() error {
			_, err := c.readWatermark(ctx, partitionKey{tableOutcomes, "bounced.attempts", 0})
			return err
		}},
		{"storedOffsets", func() error {
			_, err := c.storedOffsets(ctx, partitionKey{tableAttempts, "bounced.attempts", 0}, 0, 50)
			return err
		}},
		{"DropPartitionsBefore", func() error {
			// A cutoff long before the fixture: it lists partitions and drops none.
			_, err := c.DropPartitionsBefore(ctx, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		}},
		{"AlertTrends", func() error { _, err := c.AlertTrends(ctx, from.Add(20*time.Hour), 7*24*time.Hour); return err }},
		{"AppliedMigrations", func() error { _, err := c.AppliedMigrations(ctx); return err }},
		{"Pending", func() error { _, err := c.Pending(ctx); return err }},
	}
	for _, call := range calls {
		rec.start(call.name)
		if err := call.run(); err != nil {
			t.Errorf("%s on %s: %v", call.name, c.version, err)
		}
		if rec.n == 0 {
			t.Errorf("%s sent no query", call.name)
		}
	}
	if rec.err != nil {
		t.Fatal(rec.err)
	}
	return rec.queries
}

// recorder is the real connection, noting the text of every query and
// exec with its arguments bound as clickhouse-go binds them.
type recorder struct {
	driver.Conn
	mu      sync.Mutex
	name    string // the call running
	n       int    // queries of that call so far
	queries []namedQuery
	err     error // the first argument bind could not format
}

func (r *recorder) start(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.name, r.n = name, 0
}

func (r *recorder) note(query string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	sql, err := bindArgs(query, args)
	if err != nil {
		r.err = errors.Join(r.err, fmt.Errorf("%s: %w", r.name, err))
		return
	}
	r.queries = append(r.queries, namedQuery{Name: fmt.Sprintf("Go %s #%d", r.name, r.n), SQL: sql})
}

func (r *recorder) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	r.note(query, args)
	return r.Conn.Query(ctx, query, args...)
}

func (r *recorder) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	r.note(query, args)
	return r.Conn.QueryRow(ctx, query, args...)
}

func (r *recorder) Exec(ctx context.Context, query string, args ...any) error {
	r.note(query, args)
	return r.Conn.Exec(ctx, query, args...)
}

// bindArgs replaces each ? outside quotes with its argument as a SQL literal,
// as clickhouse-go's client-side binding does for the types the Client uses.
func bindArgs(query string, args []any) (string, error) {
	var b strings.Builder
	var quote byte
	next := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case quote != 0:
			if ch == '\\' && i+1 < len(query) {
				b.WriteByte(ch)
				i++
				ch = query[i]
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '?':
			if next >= len(args) {
				return "", fmt.Errorf("bind %q: %d arguments, want more", query, len(args))
			}
			lit, err := literal(args[next])
			if err != nil {
				return "", err
			}
			b.WriteString(lit)
			next++
			continue
		}
		b.WriteByte(ch)
	}
	if next != len(args) {
		return "", fmt.Errorf("bind %q: %d arguments, %d placeholders", query, len(args), next)
	}
	return b.String(), nil
}

var quoteString = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return "'" + quoteString.Replace(v) + "'", nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case time.Time:
		return "toDateTime('" + v.UTC().Format(time.DateTime) + "', 'UTC')", nil
	}
	return "", fmt.Errorf("bind: argument %v of type %T: want a string, an integer or a time.Time", v, v)
}

// dashboardSQL reads schemas/clickhouse/queries/dashboard.sql with the
// Grafana macros replaced by the range and the variables by fixture values.
func dashboardSQL(t *testing.T, from, to time.Time) []namedQuery {
	t.Helper()
	b, err := os.ReadFile("../../schemas/clickhouse/queries/dashboard.sql")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		"$__fromTime", "toDateTime('"+from.UTC().Format(time.DateTime)+"', 'UTC')",
		"$__toTime", "toDateTime('"+to.UTC().Format(time.DateTime)+"', 'UTC')",
		"$campaign", "c-alpha", "$domain", "gmail.com")
	var out []namedQuery
	for _, block := range strings.Split(string(b), "-- name: ")[1:] {
		name, body, _ := strings.Cut(block, "\n")
		stmts := splitStatements(r.Replace(body))
		if len(stmts) != 1 {
			t.Fatalf("dashboard.sql %s: %d statements, want 1", name, len(stmts))
		}
		out = append(out, namedQuery{"dashboard.sql " + strings.TrimSpace(name), stmts[0]})
	}
	if len(out) < 10 {
		t.Fatalf("dashboard.sql: only %d queries", len(out))
	}
	return out
}

var (
	grafanaTimeFilter = regexp.MustCompile(`\$__timeFilter\(\s*([\w.]+)\s*\)`)
	grafanaDateFilter = regexp.MustCompile(`\$__dateFilter\(\s*([\w.]+)\s*\)`)
	grafanaVariable   = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)
)

// grafanaSQL reads every panel's and query variable's SQL from
// deploy/grafana/bounced.json, macros expanded as grafana-clickhouse-datasource
// (v4) does, once with the variables at All and once at one value each.
func grafanaSQL(t *testing.T, from, to time.Time) []namedQuery {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/bounced.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int             `json:"id"`
		Title   string          `json:"title"`
		Panels  json.RawMessage `json:"panels"`
		Targets []struct {
			RefID  string `json:"refId"`
			RawSQL string `json:"rawSql"`
		} `json:"targets"`
	}
	var d struct {
		Panels     json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name     string          `json:"name"`
				Type     string          `json:"type"`
				Query    json.RawMessage `json:"query"`
				AllValue string          `json:"allValue"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("bounced.json: %v", err)
	}
	var raw []namedQuery
	var walk func(json.RawMessage)
	walk = func(m json.RawMessage) {
		if len(m) == 0 {
			return
		}
		var ps []panel
		if err := json.Unmarshal(m, &ps); err != nil {
			t.Fatalf("bounced.json panels: %v", err)
		}
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				raw = append(raw, namedQuery{fmt.Sprintf("grafana panel %d %q %s", p.ID, p.Title, tg.RefID), tg.RawSQL})
			}
		}
	}
	walk(d.Panels)
	values := []map[string]string{{}, {}} // at All, at one value
	one := map[string]string{"campaign": "'c-alpha'", "domain": "'gmail.com'"}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue // the data source variable: no SQL
		}
		var q struct {
			RawSQL string `json:"rawSql"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil || q.RawSQL == "" {
			t.Fatalf("bounced.json variable %s: no rawSql", v.Name)
		}
		raw = append(raw, namedQuery{"grafana variable " + v.Name, q.RawSQL})
		if one[v.Name] == "" {
			t.Fatalf("bounced.json variable %s: the test has no value for it", v.Name)
		}
		values[0][v.Name], values[1][v.Name] = v.AllValue, one[v.Name]
	}
	var out []namedQuery
	fs, ts := from.Unix(), to.Unix()
	for i, vars := range values {
		for _, q := range raw {
			s := grafanaTimeFilter.ReplaceAllString(q.SQL, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", fs, ts))
			s = grafanaDateFilter.ReplaceAllString(s, fmt.Sprintf("$1 >= toDate('%s') AND $1 <= toDate('%s')",
				from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly)))
			s = strings.ReplaceAll(s, "$__fromTime", fmt.Sprintf("toDateTime(%d)", fs))
			s = strings.ReplaceAll(s, "$__toTime", fmt.Sprintf("toDateTime(%d)", ts))
			s = grafanaVariable.ReplaceAllStringFunc(s, func(m string) string {
				sm := grafanaVariable.FindStringSubmatch(m)
				v, ok := vars[sm[1]+sm[3]]
				if !ok || (sm[2] != "" && sm[2] != "singlequote") {
					t.Errorf("%s: unknown macro or variable %s", q.Name, m)
				}
				return v
			})
			out = append(out, namedQuery{fmt.Sprintf("%s (variables %s)", q.Name, []string{"all", "one"}[i]), s})
		}
	}
	return out
}

// countRows runs q and counts its rows.
func countRows(ctx context.Context, conn driver.Conn, q string) (int, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// number reads a JSON cell as a float64: chdb may quote 64-bit integers.
func number(t *testing.T, query, col string, v any) float64 {
	t.Helper()
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		t.Errorf("%s: column %s = %v (%T): want a number", query, col, v, v)
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Errorf("%s: column %s = %q: want a number", query, col, s)
		return math.NaN()
	}
	return f
}

// modernFixture is the rows both engines get, on {day} (yesterday, UTC).
// Only the raw tables, suppressions and alerts are written: the rollups
// fill through their materialized views, so the views are checked too.
//
//	c-alpha  gmail.com 192.0.2.10 pool-a, sent 10:00: 100 sends, 20 deferred
//	         first (attempts 120); 70 delivered, 5 hard, 25 block
//	         (bounce rate 0.30, block rate 0.25); the blocks carry a source
//	         classification of hard (disagreements)
//	c-beta   web.de    192.0.2.11 pool-b, sent 11:00: 200 sends, 196
//	         delivered, 4 soft; 2 complaints at 12:00
//	c-gamma  gmail.com 192.0.2.10 pool-a, sent 14:00: 400 delivered
//
// So 192.0.2.10 at 10:00 has 25 blocks of 100 ended attempts against a
// range baseline of 25 / 500: the one block spike.
const modernFixture = `
INSERT INTO attempts (event_id, occurred_at, sent_at, recipient, recipient_domain, campaign_id, tenant,
    sending_ip, pool, source_kind, outcome, attempt, smtp_code, smtp_enhanced, class, label, scope, rule,
    src_topic, src_partition, src_offset)
SELECT concat('d-', toString(number)), toDateTime('{day} 10:01:00', 'UTC'), toDateTime('{day} 10:00:00', 'UTC'),
    concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-alpha', 't1',
    '192.0.2.10', 'pool-a', 'postfix', 'deferred', 1, 451, '4.7.1', 'soft', 'greylisted', 'recipient', 'text.greylist',
    'bounced.attempts', 0, number
FROM system.numbers LIMIT 20;

INSERT INTO attempts (event_id, occurred_at, sent_at, recipient, recipient_domain, campaign_id, tenant,
    sending_ip, pool, source_kind, outcome, attempt, smtp_code, smtp_enhanced, class, label, scope, rule,
    source_scheme, source_value, source_class, source_label, src_topic, src_partition, src_offset)
SELECT concat('a-', toString(number)), toDateTime('{day} 10:05:00', 'UTC'), toDateTime('{day} 10:00:00', 'UTC'),
    concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-alpha', 't1',
    '192.0.2.10', 'pool-a', 'postfix', if(number < 70, 'delivered', 'bounced'), 1 + (number < 20),
    multiIf(number < 70, 250, number < 75, 550, 554), multiIf(number < 70, '2.0.0', number < 75, '5.1.1', '5.7.1'),
    multiIf(number < 70, '', number < 75, 'hard', 'block'),
    multiIf(number < 70, '', number < 75, 'mailbox_unknown', 'blocklisted'),
    if(number < 70, '', 'recipient'),
    multiIf(number < 70, '', number < 75, 'text.user_unknown', 'text.blocklist'),
    if(number < 75, '', 'smtp'), if(number < 75, '', '5.7.1'), if(number < 75, '', 'hard'), if(number < 75, '', 'mailbox_unknown'),
    'bounced.attempts', 0, 100 + number
FROM system.numbers LIMIT 100;

INSERT INTO attempts (event_id, occurred_at, sent_at, recipient, recipient_domain, campaign_id, tenant,
    sending_ip, pool, source_kind, outcome, attempt, smtp_code, smtp_enhanced, class, label, scope, rule,
    src_topic, src_partition, src_offset)
SELECT concat('b-', toString(number)), toDateTime('{day} 11:05:00', 'UTC'), toDateTime('{day} 11:00:00', 'UTC'),
    concat('s', toString(number), '@web.de'), 'web.de', 'c-beta', 't1',
    '192.0.2.11', 'pool-b', 'postfix', if(number < 196, 'delivered', 'bounced'), 1,
    if(number < 196, 250, 552), if(number < 196, '2.0.0', '5.2.2'), if(number < 196, '', 'soft'),
    if(number < 196, '', 'mailbox_full'), if(number < 196, '', 'recipient'), if(number < 196, '', 'text.mailbox_full'),
    'bounced.attempts', 1, number
FROM system.numbers LIMIT 200;

INSERT INTO attempts (event_id, occurred_at, sent_at, recipient, recipient_domain, campaign_id, tenant,
    sending_ip, pool, source_kind, outcome, attempt, class, label, scope, rule, src_topic, src_partition, src_offset)
SELECT concat('x-', toString(number)), toDateTime('{day} 12:00:00', 'UTC'), toDateTime('{day} 11:00:00', 'UTC'),
    concat('s', toString(number), '@web.de'), 'web.de', 'c-beta', 't1',
    '192.0.2.11', 'pool-b', 'arf', 'complaint', 0, 'complaint', 'complaint', 'recipient', 'arf.abuse',
    'bounced.attempts', 1, 200 + number
FROM system.numbers LIMIT 2;

INSERT INTO attempts (event_id, occurred_at, sent_at, recipient, recipient_domain, campaign_id, tenant,
    sending_ip, pool, source_kind, outcome, attempt, smtp_code, smtp_enhanced, src_topic, src_partition, src_offset)
SELECT concat('g-', toString(number)), toDateTime('{day} 14:05:00', 'UTC'), toDateTime('{day} 14:00:00', 'UTC'),
    concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-gamma', 't1',
    '192.0.2.10', 'pool-a', 'postfix', 'delivered', 1, 250, '2.0.0', 'bounced.attempts', 2, number
FROM system.numbers LIMIT 400;

INSERT INTO outcomes (send_key, recipient, recipient_domain, campaign_id, tenant, sent_at, updated_at,
    sending_ip, pool, outcome, class, label, rule, version, d_delivered, d_bounced, d_hard, d_soft, d_block,
    src_topic, src_partition, src_offset)
SELECT concat('c-alpha/', toString(number)), concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-alpha', 't1',
    toDateTime('{day} 10:00:00', 'UTC'), toDateTime('{day} 10:01:00', 'UTC'), '192.0.2.10', 'pool-a',
    'deferred', 'soft', 'greylisted', 'text.greylist', 1, 0, 0, 0, 0, 0, 'bounced.attempts', 0, number
FROM system.numbers LIMIT 20;

INSERT INTO outcomes (send_key, recipient, recipient_domain, campaign_id, tenant, sent_at, updated_at,
    sending_ip, pool, outcome, class, label, rule, version, d_delivered, d_bounced, d_hard, d_soft, d_block,
    src_topic, src_partition, src_offset)
SELECT concat('c-alpha/', toString(number)), concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-alpha', 't1',
    toDateTime('{day} 10:00:00', 'UTC'), toDateTime('{day} 10:05:00', 'UTC'), '192.0.2.10', 'pool-a',
    if(number < 70, 'delivered', 'bounced'), multiIf(number < 70, '', number < 75, 'hard', 'block'),
    multiIf(number < 70, '', number < 75, 'mailbox_unknown', 'blocklisted'),
    multiIf(number < 70, '', number < 75, 'text.user_unknown', 'text.blocklist'),
    1 + (number < 20), number < 70, number >= 70, number >= 70 AND number < 75, 0, number >= 75,
    'bounced.attempts', 0, 100 + number
FROM system.numbers LIMIT 100;

INSERT INTO outcomes (send_key, recipient, recipient_domain, campaign_id, tenant, sent_at, updated_at,
    sending_ip, pool, outcome, class, label, rule, version, d_delivered, d_bounced, d_hard, d_soft, d_block,
    src_topic, src_partition, src_offset)
SELECT concat('c-beta/', toString(number)), concat('s', toString(number), '@web.de'), 'web.de', 'c-beta', 't1',
    toDateTime('{day} 11:00:00', 'UTC'), toDateTime('{day} 11:05:00', 'UTC'), '192.0.2.11', 'pool-b',
    if(number < 196, 'delivered', 'bounced'), if(number < 196, '', 'soft'), if(number < 196, '', 'mailbox_full'),
    if(number < 196, '', 'text.mailbox_full'), 1, number < 196, number >= 196, 0, number >= 196, 0,
    'bounced.attempts', 1, number
FROM system.numbers LIMIT 200;

INSERT INTO outcomes (send_key, recipient, recipient_domain, campaign_id, tenant, sent_at, updated_at,
    sending_ip, pool, outcome, class, label, rule, version, d_delivered, d_bounced, d_hard, d_soft, d_block,
    src_topic, src_partition, src_offset)
SELECT concat('c-gamma/', toString(number)), concat('r', toString(number), '@gmail.com'), 'gmail.com', 'c-gamma', 't1',
    toDateTime('{day} 14:00:00', 'UTC'), toDateTime('{day} 14:05:00', 'UTC'), '192.0.2.10', 'pool-a',
    'delivered', '', '', '', 1, 1, 0, 0, 0, 0, 'bounced.attempts', 2, number
FROM system.numbers LIMIT 400;

INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak,
    source, evidence, deleted, version)
SELECT 'r70@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', 'Hard bounce.', 'text.user_unknown',
    toDateTime('{day} 10:05:00', 'UTC'), toDateTime('{day} 10:05:00', 'UTC'), 0, 'auto',
    '[{"campaign_id":"c-alpha"}]', 0, 1;

INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak,
    source, evidence, deleted, version)
SELECT 'a@gmail.com', 'gmail.com', 'suppressed', 'block', 'blocklisted', 'Blocked.', 'text.blocklist',
    toDateTime('{day} 10:05:00', 'UTC'), toDateTime('{day} 10:06:00', 'UTC'), 0, 'auto',
    '[{"campaign_id":"c-alpha"}]', 0, 1;

INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak,
    source, evidence, deleted, version)
SELECT 'a@gmail.com', 'gmail.com', 'suppressed', 'block', 'blocklisted', 'Lifted.', 'text.blocklist',
    toDateTime('{day} 10:05:00', 'UTC'), toDateTime('{day} 12:00:00', 'UTC'), 0, 'operator', '[]', 1, 2;

INSERT INTO alerts (at, rule, scope, subject, severity, state, value, threshold, volume, period, message)
SELECT toDateTime('{day} 10:30:00', 'UTC'), 'hard_rate', 'campaign', 'c-alpha', 'warning', 'firing', 0.05, 0.01, 100,
    '1h', 'hard rate 5% over 1%';

INSERT INTO alerts (at, rule, scope, subject, severity, state, value, threshold, volume, period, message)
SELECT toDateTime('{day} 10:30:00', 'UTC'), 'block_spike', 'ip', '192.0.2.10', 'critical', 'resolved', 0.25, 0.15, 100,
    '1h', 'block rate back under 15%';
`
