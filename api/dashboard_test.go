package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// The fixture: one day of known rollup rows (2026-11-01, UTC) and a few rows
// outside it that every query must leave out.
const (
	dayFrom = "2026-11-01T00:00:00Z"
	dayTo   = "2026-11-02T00:00:00Z"
)

// alertsDDL is the alerts table as the dashboard expects it (columns agreed
// with the lead); created only where the migrations have none yet.
const alertsDDL = `CREATE TABLE IF NOT EXISTS alerts
(
    at        DateTime('UTC'),
    rule      String,
    scope     String,
    subject   String,
    severity  String,
    state     String,
    value     Float64,
    threshold Float64,
    volume    UInt64,
    message   String
)
ENGINE = MergeTree
ORDER BY (rule, scope, subject, at)`

var fixture = []string{
	`INSERT INTO campaign_sends_hourly (sent_hour, tenant, campaign_id, delivered, bounced, hard, soft, block) VALUES
		('2026-11-01 10:00:00', 't1', 'c-alpha', 90, 10, 2, 5, 3),
		('2026-11-01 11:00:00', 't1', 'c-alpha', 30, 5, 1, 1, 3),
		('2026-11-01 11:00:00', 't1', 'c-alpha', 10, 5, 0, 2, 3),
		('2026-11-01 10:00:00', 't1', 'c-beta', 196, 4, 4, 0, 0),
		('2026-10-31 23:00:00', 't1', 'c-alpha', 1000, 1000, 1000, 0, 0)`,
	`INSERT INTO domain_sends_hourly (sent_hour, recipient_domain, delivered, bounced, hard, soft, block) VALUES
		('2026-11-01 10:00:00', 'gmail.com', 250, 10, 5, 3, 2),
		('2026-11-01 11:00:00', 'gmail.com', 20, 5, 0, 2, 3),
		('2026-11-01 10:00:00', 'yahoo.com', 36, 4, 1, 2, 1),
		('2026-11-01 11:00:00', 'yahoo.com', 20, 5, 1, 1, 3),
		('2026-11-02 00:00:00', 'yahoo.com', 1, 1000, 0, 0, 1000)`,
	`INSERT INTO ip_hourly (hour, sending_ip, pool, attempts, delivered, deferred, bounced, hard, soft, block) VALUES
		('2026-11-01 10:00:00', '192.0.2.10', 'pool-a', 120, 95, 10, 15, 1, 2, 12),
		('2026-11-01 10:00:00', '192.0.2.11', 'pool-a', 50, 48, 0, 2, 1, 1, 0)`,
	`INSERT INTO reasons_daily (day, outcome, class, label, rule, smtp_code, smtp_enhanced, campaign_id, recipient_domain, attempts) VALUES
		('2026-11-01', 'bounced', 'hard', 'mailbox_unknown', 'text.user_unknown', 550, '5.1.1', 'c-alpha', 'gmail.com', 7),
		('2026-11-01', 'bounced', 'block', 'sender_blocked', 'text.blocklisted', 554, '5.7.1', 'c-alpha', 'yahoo.com', 9),
		('2026-11-01', 'deferred', 'soft', 'mailbox_full', 'text.mailbox_full', 452, '4.2.2', 'c-beta', 'gmail.com', 4),
		('2026-11-01', 'bounced', 'soft', 'mailbox_full', 'text.mailbox_full', 552, '5.2.2', 'c-alpha', 'gmail.com', 8),
		('2026-10-30', 'bounced', 'hard', 'mailbox_unknown', 'text.user_unknown', 550, '5.1.1', 'c-alpha', 'gmail.com', 100)`,
	`INSERT INTO alerts (at, rule, scope, subject, severity, state, value, threshold, volume, message) VALUES
		('2026-11-01 10:05:00', 'bounce_rate', 'domain', 'yahoo.com', 'critical', 'firing', 0.2, 0.05, 40, 'bounce rate 20% over 5%'),
		('2026-11-01 11:05:00', 'bounce_rate', 'domain', 'yahoo.com', 'ok', 'resolved', 0.01, 0.05, 65, 'back under 5%'),
		('2026-11-01 10:45:00', 'block_spike', 'ip', '192.0.2.10', 'critical', 'firing', 0.109, 0.05, 110, 'block spike on 192.0.2.10'),
		('2026-11-01 11:00:00', 'hard_rate', 'campaign', 'c-alpha', 'warning', 'firing', 0.02, 0.01, 150, 'hard rate 2% over 1%'),
		('2026-10-20 08:00:00', 'hard_rate', 'campaign', 'c-old', 'warning', 'resolved', 0.001, 0.01, 900, 'old')`,
	`INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak, source, evidence, deleted, version) VALUES
		('a@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', 'Hard bounce: the mailbox does not exist (550 5.1.1).', 'text.user_unknown',
		 '2026-11-01 10:10:00', '2026-11-01 10:10:00', 0, 'auto', '[{"at":"2026-11-01T10:10:00Z","campaign_id":"c-alpha"}]', 0, 1),
		('b@yahoo.com', 'yahoo.com', 'suppressed', 'soft', 'mailbox_full', '3 consecutive sends failed within 14 days.', 'text.mailbox_full',
		 '2026-11-01 11:20:00', '2026-11-01 11:20:00', 3, 'auto', '[{"at":"2026-11-01T11:20:00Z","campaign_id":"c-beta"}]', 0, 1),
		('c@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', 'lifted later', 'text.user_unknown',
		 '2026-11-01 09:00:00', '2026-11-01 09:00:00', 0, 'auto', '[]', 0, 1),
		('d@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', 'before the range', 'text.user_unknown',
		 '2026-10-01 09:00:00', '2026-10-01 09:00:00', 0, 'auto', '[]', 0, 1)`,
	`INSERT INTO suppressions (address, domain, status, class, label, reason, rule, since, updated_at, soft_streak, source, evidence, deleted, version) VALUES
		('c@gmail.com', 'gmail.com', 'suppressed', 'hard', 'mailbox_unknown', '', '', '2026-11-01 09:00:00', '2026-11-01 12:00:00', 0, 'operator', '[]', 1, 2)`,
}

// emptyList is a loaded suppression list without records.
type emptyList struct{}

func (emptyList) Get(string) (event.Suppression, bool) { return event.Suppression{}, false }
func (emptyList) Ready() bool                          { return true }

// dashDB is a migrated database with the alerts table, and a raw connection
// to load rows with.
type dashDB struct {
	addr, database string
	raw            ch.Conn
}

func newDashDB(t *testing.T) dashDB {
	t.Helper()
	addr, database := chtest.Database(t)
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Database: database}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var settings ch.Settings
	if c.ServerVersion().Major < 19 {
		settings = ch.Settings{"allow_experimental_low_cardinality_type": 1}
	}
	raw, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Database: database}, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	d := dashDB{addr: addr, database: database, raw: raw}
	d.exec(t, alertsDDL)
	return d
}

// exec runs statements. An INSERT ... VALUES runs as one INSERT ... SELECT
// per row: over the native protocol the server expects VALUES data as blocks,
// and INSERT ... SELECT converts the literals to the column types on 18.16
// and on modern servers alike.
func (d dashDB) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		for _, q := range valuesToSelects(s) {
			if err := d.raw.Exec(context.Background(), q); err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
		}
	}
}

func valuesToSelects(stmt string) []string {
	head, values, ok := strings.Cut(stmt, ") VALUES")
	if !ok {
		return []string{stmt}
	}
	head += ")"
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(values); i++ {
		switch c := values[i]; {
		case quoted && c == '\\':
			i++
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			if depth == 0 {
				start = i + 1
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				out = append(out, head+" SELECT "+values[start:i])
			}
		}
	}
	return out
}

// serve starts the HTTP handler reading ClickHouse at addr (a proxy in the
// unavailability test).
func serve(t *testing.T, addr, database string) *httptest.Server {
	t.Helper()
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Database: database, DialTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	now := func() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }
	h := api.Handler(prometheus.NewRegistry(), emptyList{}, func() error { return nil }, slog.New(slog.DiscardHandler),
		api.WithDashboard(c), api.WithClock(now))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) int {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Errorf("%s: %d without a JSON error: %s", path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return resp.StatusCode
}

type ratesResp struct {
	Filter struct {
		From, To         time.Time
		Bucket           string
		Campaign, Domain string
	}
	Data struct {
		By      string
		Source  string
		Ignored []string
		Series  []clickhouse.Series
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDashboardEndpoints(t *testing.T) {
	db := newDashDB(t)
	db.exec(t, fixture...)
	srv := serve(t, db.addr, db.database)
	day := "from=" + dayFrom + "&to=" + dayTo

	var r ratesResp
	if code := getJSON(t, srv, "/v1/dashboard/rates?by=campaign&"+day, &r); code != 200 {
		t.Fatalf("rates by campaign: %d", code)
	}
	if r.Filter.Bucket != "hour" || r.Data.Source != "campaign_sends_hourly" || len(r.Data.Series) != 2 {
		t.Fatalf("rates by campaign: %+v", r)
	}
	beta, alpha := r.Data.Series[0], r.Data.Series[1]
	if beta.Key != "c-beta" || beta.Total.Sends != 200 || !near(beta.Total.BounceRate, 0.02) || !near(beta.Total.HardRate, 0.02) {
		t.Errorf("c-beta: %+v", beta)
	}
	if alpha.Key != "c-alpha" || alpha.Total.Sends != 150 || alpha.Total.Bounced != 20 || !near(alpha.Total.BounceRate, 20.0/150) ||
		!near(alpha.Total.HardRate, 3.0/150) || !near(alpha.Total.SoftRate, 8.0/150) || !near(alpha.Total.BlockRate, 9.0/150) {
		t.Errorf("c-alpha total: %+v", alpha.Total)
	}
	if len(alpha.Points) != 2 || !alpha.Points[0].At.Equal(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)) ||
		!near(alpha.Points[0].BounceRate, 0.1) || !near(alpha.Points[1].BounceRate, 0.2) || alpha.Points[1].Sends != 50 {
		t.Errorf("c-alpha points: %+v", alpha.Points)
	}

	if getJSON(t, srv, "/v1/dashboard/rates?by=campaign&limit=1&"+day, &r); len(r.Data.Series) != 1 || r.Data.Series[0].Key != "c-beta" {
		t.Errorf("limit 1: %+v", r.Data.Series)
	}
	r = ratesResp{}
	if getJSON(t, srv, "/v1/dashboard/rates?by=campaign&campaign=c-alpha&"+day, &r); len(r.Data.Series) != 1 || r.Data.Series[0].Total.Sends != 150 {
		t.Errorf("campaign filter: %+v", r.Data.Series)
	}
	r = ratesResp{}
	if getJSON(t, srv, "/v1/dashboard/rates?by=campaign&bucket=day&"+day, &r); len(r.Data.Series) != 2 || len(r.Data.Series[1].Points) != 1 ||
		!near(r.Data.Series[1].Points[0].BounceRate, 20.0/150) {
		t.Errorf("daily buckets: %+v", r.Data.Series)
	}

	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=domain&"+day, &r)
	if r.Data.Source != "domain_sends_hourly" || len(r.Data.Series) != 2 || r.Data.Series[0].Key != "gmail.com" ||
		r.Data.Series[0].Total.Sends != 285 || !near(r.Data.Series[0].Total.BounceRate, 15.0/285) ||
		r.Data.Series[1].Key != "yahoo.com" || !near(r.Data.Series[1].Total.BounceRate, 9.0/65) {
		t.Errorf("rates by domain: %+v", r.Data)
	}

	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=send_hour&"+day, &r)
	if len(r.Data.Series) != 1 || r.Data.Series[0].Key != "all" || r.Data.Series[0].Total.Sends != 350 ||
		!near(r.Data.Series[0].Total.BounceRate, 24.0/350) || len(r.Data.Series[0].Points) != 2 {
		t.Errorf("rates by send hour: %+v", r.Data)
	}

	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=ip&campaign=c-alpha&"+day, &r)
	if r.Data.Source != "ip_hourly" || len(r.Data.Ignored) != 1 || r.Data.Ignored[0] != "campaign" || len(r.Data.Series) != 2 ||
		r.Data.Series[0].Key != "192.0.2.10" || !near(r.Data.Series[0].Total.BlockRate, 12.0/110) {
		t.Errorf("rates by ip: %+v", r.Data)
	}

	var reasons struct {
		Data struct{ Reasons []clickhouse.ReasonCount }
	}
	getJSON(t, srv, "/v1/dashboard/reasons?"+day, &reasons)
	want := []clickhouse.ReasonCount{
		{Class: "soft", Label: "mailbox_full", Rule: "text.mailbox_full", Attempts: 12, Bounced: 8, Deferred: 4, Enhanced: "5.2.2", Code: 552},
		{Class: "block", Label: "sender_blocked", Rule: "text.blocklisted", Attempts: 9, Bounced: 9, Enhanced: "5.7.1", Code: 554},
		{Class: "hard", Label: "mailbox_unknown", Rule: "text.user_unknown", Attempts: 7, Bounced: 7, Enhanced: "5.1.1", Code: 550},
	}
	if fmt.Sprint(reasons.Data.Reasons) != fmt.Sprint(want) {
		t.Errorf("reasons:\n got %+v\nwant %+v", reasons.Data.Reasons, want)
	}
	reasons.Data.Reasons = nil
	if getJSON(t, srv, "/v1/dashboard/reasons?domain=yahoo.com&"+day, &reasons); len(reasons.Data.Reasons) != 1 || reasons.Data.Reasons[0].Label != "sender_blocked" {
		t.Errorf("reasons for yahoo.com: %+v", reasons.Data.Reasons)
	}

	var alerts struct{ Data clickhouse.Alerts }
	getJSON(t, srv, "/v1/dashboard/alerts?"+day, &alerts)
	var got []string
	for _, a := range alerts.Data.Alerts {
		got = append(got, a.Rule+"/"+a.Scope+"/"+a.Subject+"/"+a.Severity+"/"+a.State)
	}
	if w := "[block_spike/ip/192.0.2.10/critical/firing hard_rate/campaign/c-alpha/warning/firing bounce_rate/domain/yahoo.com/ok/resolved]"; fmt.Sprint(got) != w || alerts.Data.Missing {
		t.Errorf("alerts:\n got %v\nwant %s", got, w)
	}
	alerts.Data = clickhouse.Alerts{}
	if getJSON(t, srv, "/v1/dashboard/alerts?domain=gmail.com&"+day, &alerts); len(alerts.Data.Alerts) != 2 {
		t.Errorf("alerts for gmail.com (yahoo.com's left out, the others kept): %+v", alerts.Data.Alerts)
	}

	var sup struct{ Data clickhouse.Suppressions }
	getJSON(t, srv, "/v1/dashboard/suppressions?"+day, &sup)
	if sup.Data.Total != 2 || sup.Data.ByClass["hard"] != 1 || sup.Data.ByClass["soft"] != 1 || len(sup.Data.Recent) != 2 ||
		sup.Data.Recent[0].Address != "b@yahoo.com" || sup.Data.Recent[1].Address != "a@gmail.com" || sup.Data.Recent[0].SoftStreak != 3 {
		t.Errorf("suppressions: %+v", sup.Data)
	}
	sup.Data = clickhouse.Suppressions{}
	if getJSON(t, srv, "/v1/dashboard/suppressions?campaign=c-alpha&"+day, &sup); len(sup.Data.Recent) != 1 || sup.Data.Recent[0].Address != "a@gmail.com" {
		t.Errorf("suppressions of c-alpha: %+v", sup.Data)
	}

	var choices struct{ Data clickhouse.Choices }
	getJSON(t, srv, "/v1/dashboard/filters?"+day, &choices)
	if fmt.Sprint(choices.Data.Campaigns) != "[c-beta c-alpha]" || fmt.Sprint(choices.Data.Domains) != "[gmail.com yahoo.com]" {
		t.Errorf("filters: %+v", choices.Data)
	}

	// The default range ends at the handler's clock (2026-11-02) and spans 7 days, daily points.
	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=campaign", &r)
	if r.Filter.Bucket != "day" || !r.Filter.From.Equal(time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC)) || len(r.Data.Series) != 2 ||
		r.Data.Series[0].Key != "c-alpha" || r.Data.Series[0].Total.Sends != 2150 || len(r.Data.Series[0].Points) != 2 {
		t.Errorf("default range: %+v", r)
	}

	for _, bad := range []string{"by=tenant", "from=yesterday", "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
		"range=0d", "bucket=minute", "limit=0", "limit=51", "from=2020-01-01&to=2026-01-01"} {
		if code := getJSON(t, srv, "/v1/dashboard/rates?"+bad, &r); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// TestDashboardOutcomes loads sends through outcomes (and so, where the
// migrations have them, through the send rollups' materialized views), and
// checks that a campaign chart narrowed to a domain reads outcomes exactly:
// a late bounce replaces its send's delivery.
func TestDashboardOutcomes(t *testing.T) {
	db := newDashDB(t)
	row := func(key, campaign, domain, outcome, class string, version, dDel, dBou, dHard, dSoft, dBlock int) string {
		return fmt.Sprintf(`('%s', 'r@%s', '%s', '%s', 't1', '<%s>', '2026-11-01 10:15:00', '2026-11-01 10:20:00', '192.0.2.10', 'p',
			'%s', '%s', '', '', %d, %d, %d, %d, %d, %d, 'bounced.attempts', 0, %d)`,
			key, domain, domain, campaign, key, outcome, class, version, dDel, dBou, dHard, dSoft, dBlock, version)
	}
	db.exec(t, `INSERT INTO outcomes (send_key, recipient, recipient_domain, campaign_id, tenant, message_id, sent_at, updated_at,
		sending_ip, pool, outcome, class, label, rule, version, d_delivered, d_bounced, d_hard, d_soft, d_block,
		src_topic, src_partition, src_offset) VALUES `+strings.Join([]string{
		row("s1", "c-alpha", "gmail.com", "delivered", "", 1, 1, 0, 0, 0, 0),
		row("s2", "c-alpha", "gmail.com", "delivered", "", 2, 1, 0, 0, 0, 0),
		row("s2", "c-alpha", "gmail.com", "bounced", "block", 3, -1, 1, 0, 0, 1), // late bounce
		row("s3", "c-alpha", "gmail.com", "deferred", "soft", 4, 0, 0, 0, 0, 0),
		row("s4", "c-alpha", "yahoo.com", "bounced", "hard", 5, 0, 1, 1, 0, 0),
		row("s5", "c-beta", "gmail.com", "expired", "soft", 6, 0, 1, 0, 1, 0),
	}, ","))
	srv := serve(t, db.addr, db.database)
	day := "from=" + dayFrom + "&to=" + dayTo
	var r ratesResp
	getJSON(t, srv, "/v1/dashboard/rates?by=campaign&domain=gmail.com&"+day, &r)
	if r.Data.Source != "outcomes" || len(r.Data.Series) != 2 {
		t.Fatalf("campaign x domain: %+v", r.Data)
	}
	a := r.Data.Series[0].Total
	if r.Data.Series[0].Key != "c-alpha" || a.Sends != 2 || a.Delivered != 1 || a.Block != 1 || !near(a.BounceRate, 0.5) {
		t.Errorf("c-alpha at gmail.com: %+v", r.Data.Series[0])
	}
	if b := r.Data.Series[1].Total; r.Data.Series[1].Key != "c-beta" || b.Sends != 1 || !near(b.SoftRate, 1) {
		t.Errorf("c-beta at gmail.com: %+v", r.Data.Series[1])
	}
	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=domain&campaign=c-alpha&"+day, &r)
	if len(r.Data.Series) != 2 || r.Data.Series[0].Key != "gmail.com" || r.Data.Series[1].Key != "yahoo.com" || !near(r.Data.Series[1].Total.HardRate, 1) {
		t.Errorf("domain x campaign: %+v", r.Data)
	}
	// The same sends through the rollups (fed by the migrations' views).
	r = ratesResp{}
	getJSON(t, srv, "/v1/dashboard/rates?by=campaign&"+day, &r)
	if len(r.Data.Series) != 2 || r.Data.Series[0].Key != "c-alpha" || r.Data.Series[0].Total.Sends != 3 || r.Data.Series[0].Total.Bounced != 2 {
		t.Errorf("campaign rollup from outcomes: %+v", r.Data)
	}
}

func TestDashboardNoAlertsTable(t *testing.T) {
	db := newDashDB(t)
	db.exec(t, "DROP TABLE alerts")
	srv := serve(t, db.addr, db.database)
	var alerts struct{ Data clickhouse.Alerts }
	if code := getJSON(t, srv, "/v1/dashboard/alerts", &alerts); code != 200 || !alerts.Data.Missing || alerts.Data.Alerts == nil {
		t.Errorf("without an alerts table: %d %+v", code, alerts.Data)
	}
}

// TestDashboardWithoutClickHouse: a member without ClickHouse (ingest only)
// serves the page, and its endpoints answer 503.
func TestDashboardWithoutClickHouse(t *testing.T) {
	srv := httptest.NewServer(api.Handler(prometheus.NewRegistry(), emptyList{}, func() error { return nil }, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	var v any
	if code := getJSON(t, srv, "/v1/dashboard/rates", &v); code != http.StatusServiceUnavailable {
		t.Errorf("rates without ClickHouse: %d", code)
	}
	resp, err := http.Get(srv.URL + "/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `src="/dashboard/app.js"`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("page: %d %s", resp.StatusCode, b)
	}
	for _, f := range []string{"app.js", "errors.js", "app.css"} {
		if resp, err := http.Get(srv.URL + "/dashboard/" + f); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", f, resp, err)
		} else {
			resp.Body.Close()
		}
	}
}

// proxy forwards TCP to addr until stop; then it refuses new connections and
// cuts the open ones, as a ClickHouse that went down.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, addr string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// ---- the page in a real browser ----

// chromium returns the path of a headless Chromium. scripts/test installs
// Debian's chromium package; without it the test skips, except in CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("BOUNCED_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: apt-get install chromium (scripts/test does), or set BOUNCED_CHROMIUM"
	if ci := os.Getenv("CI"); strings.EqualFold(ci, "true") || ci == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// render loads url in headless Chromium and returns the DOM once the page's
// scripts settled (virtual time runs fetches and timers to completion).
func render(t *testing.T, url string) string {
	t.Helper()
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=10000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// screenshot saves a PNG of the page, for a person to look at:
// BOUNCED_DASHBOARD_SCREENSHOT=/tmp/dash.png go test -run TestDashboardPage ./api
func screenshot(t *testing.T, url, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--hide-scrollbars", "--user-data-dir="+t.TempDir(), "--window-size=1400,2600",
		"--virtual-time-budget=10000", "--screenshot="+path, url).CombinedOutput()
	if err != nil {
		t.Errorf("screenshot: %v\n%s", err, out)
	}
}

var (
	startTag = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*/?>`)
	attrRe   = regexp.MustCompile(`([^\s=>/]+)(?:="([^"]*)")?`)
	tagRe    = regexp.MustCompile(`<[^>]+>`)
)

// elem is a start tag of the dumped DOM and the text up to the next start tag.
type elem struct {
	tag   string
	attrs map[string]string
}

// elems lists the start tags named tag (any when empty) with an attribute
// key=value (any when key is empty).
func elems(dom, tag, key, value string) []elem {
	var out []elem
	for _, m := range startTag.FindAllStringSubmatch(dom, -1) {
		if tag != "" && m[1] != tag {
			continue
		}
		e := elem{tag: m[1], attrs: map[string]string{}}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			e.attrs[a[1]] = htmlUnescape(a[2])
		}
		if key != "" {
			if v, ok := e.attrs[key]; !ok || (value != "" && v != value) {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'").Replace(s)
}

// inner returns the text from the start tag holding marker to the end of its
// section.
func inner(dom, marker string) string { return innerUntil(dom, marker, "</section>") }

func innerUntil(dom, marker, until string) string {
	i := strings.Index(dom, marker)
	if i < 0 {
		return ""
	}
	rest := dom[i:]
	end := strings.Index(rest, until)
	if end < 0 {
		end = len(rest)
	}
	return strings.Join(strings.Fields(htmlUnescape(tagRe.ReplaceAllString(rest[:end], " "))), " ")
}

func rate(t *testing.T, e elem, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attrs[key], 64)
	if err != nil {
		t.Fatalf("%s %v: %s: %v", e.tag, e.attrs, key, err)
	}
	return v
}

func checkNoJSErrors(t *testing.T, dom string) {
	t.Helper()
	if b := elems(dom, "body", "", ""); len(b) != 1 || b[0].attrs["data-js-errors"] != "" {
		t.Errorf("JavaScript errors on the page: %s", innerUntil(dom, `id="js-errors"`, "</ul>"))
	}
	if es := elems(dom, "ul", "id", "js-errors"); len(es) != 1 {
		t.Errorf("no #js-errors element")
	} else if _, hidden := es[0].attrs["hidden"]; !hidden {
		t.Errorf("#js-errors shown: %s", innerUntil(dom, `id="js-errors"`, "</ul>"))
	}
}

func TestDashboardPage(t *testing.T) {
	chromium(t)
	db := newDashDB(t)
	db.exec(t, fixture...)
	srv := serve(t, db.addr, db.database)
	q := url.Values{"from": {dayFrom}, "to": {dayTo}}
	dom := render(t, srv.URL+"/dashboard?"+q.Encode())
	if testing.Verbose() {
		t.Log(dom)
	}
	checkNoJSErrors(t, dom)
	if path := os.Getenv("BOUNCED_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, srv.URL+"/dashboard?"+q.Encode(), path)
	}
	body := elems(dom, "body", "", "")[0]
	if body.attrs["data-state"] != "ready" || body.attrs["data-unavailable"] != "" {
		t.Fatalf("page did not finish: body %v\n%s", body.attrs, dom)
	}
	if l := elems(dom, "p", "id", "range-label"); len(l) != 1 || l[0].attrs["data-bucket"] != "hour" || l[0].attrs["data-from"] != dayFrom {
		t.Errorf("range label: %v", l)
	}

	// Overview tiles.
	kpi := map[string]string{}
	for _, e := range elems(dom, "div", "data-kpi", "") {
		kpi[e.attrs["data-kpi"]] = e.attrs["data-value"]
	}
	if kpi["sends"] != "350" || kpi["bounced"] != "24" || kpi["bounce_rate"] != fmt.Sprintf("%.6f", 24.0/350) || kpi["block_rate"] != fmt.Sprintf("%.6f", 9.0/350) {
		t.Errorf("KPIs: %v", kpi)
	}
	if txt := inner(dom, `id="kpis"`); !strings.Contains(txt, "Bounce rate 6.86%") || !strings.Contains(txt, "Sends 350") {
		t.Errorf("KPI text: %s", txt)
	}

	// Campaign chart: one <g class="series"> per campaign with its total
	// rate, one circle per send hour with that hour's rate, and the legend.
	series := func(chart string) (map[string]elem, []elem) {
		i := strings.Index(dom, `id="`+chart+`"`)
		if i < 0 {
			t.Fatalf("no #%s", chart)
		}
		part := dom[i:]
		if j := strings.Index(part, "</section>"); j > 0 {
			part = part[:j]
		}
		m := map[string]elem{}
		for _, e := range elems(part, "g", "class", "series") {
			m[e.attrs["data-key"]] = e
		}
		return m, elems(part, "circle", "data-t", "")
	}
	camp, points := series("chart-campaign")
	if len(camp) != 2 || rate(t, camp["c-alpha"], "data-rate") != 0.133333 || camp["c-alpha"].attrs["data-sends"] != "150" ||
		rate(t, camp["c-beta"], "data-rate") != 0.02 || camp["c-alpha"].attrs["data-points"] != "2" {
		t.Errorf("campaign series: %v", camp)
	}
	hourly := map[string]string{}
	for _, p := range points {
		hourly[p.attrs["data-t"]+" "+p.attrs["data-sends"]] = p.attrs["data-rate"]
	}
	if hourly["2026-11-01T10:00:00Z 100"] != "0.100000" || hourly["2026-11-01T11:00:00Z 50"] != "0.200000" || hourly["2026-11-01T10:00:00Z 200"] != "0.020000" {
		t.Errorf("campaign points: %v", hourly)
	}
	if txt := inner(dom, `id="chart-campaign"`); !strings.Contains(txt, "c-alpha 13.33% of 150 sends") || !strings.Contains(txt, "c-beta 2.00% of 200 sends") {
		t.Errorf("campaign legend: %s", txt)
	}
	if rows := elems(dom, "tr", "data-key", "c-alpha"); len(rows) != 1 || rows[0].attrs["data-hard-rate"] != "0.020000" || rows[0].attrs["data-block-rate"] != "0.060000" {
		t.Errorf("campaign totals row: %v", rows)
	}

	dom2, _ := series("chart-domain")
	if len(dom2) != 2 || dom2["gmail.com"].attrs["data-rate"] != fmt.Sprintf("%.6f", 15.0/285) || dom2["yahoo.com"].attrs["data-rate"] != fmt.Sprintf("%.6f", 9.0/65) {
		t.Errorf("domain series: %v", dom2)
	}
	ips, _ := series("chart-ip")
	if len(ips) != 2 || ips["192.0.2.10"].attrs["data-rate"] != fmt.Sprintf("%.6f", 12.0/110) {
		t.Errorf("ip series (block rate): %v", ips)
	}
	total, _ := series("chart-total")
	if len(total) != 4 || total["hard"].attrs["data-rate"] != "0.020000" {
		t.Errorf("overview series: %v", total)
	}

	// Reasons, alerts, suppressions.
	var reasons []string
	for _, e := range elems(dom, "tr", "class", "reason") {
		reasons = append(reasons, e.attrs["data-label"]+"="+e.attrs["data-attempts"])
	}
	if fmt.Sprint(reasons) != "[mailbox_full=12 sender_blocked=9 mailbox_unknown=7]" {
		t.Errorf("reasons: %v", reasons)
	}
	if txt := inner(dom, `id="reasons"`); !strings.Contains(txt, "552 5.2.2") {
		t.Errorf("reasons text: %s", txt)
	}
	var alerts []string
	for _, e := range elems(dom, "tr", "data-state", "") {
		alerts = append(alerts, e.attrs["data-subject"]+"/"+e.attrs["data-state"])
	}
	if fmt.Sprint(alerts) != "[192.0.2.10/firing c-alpha/firing yahoo.com/resolved]" {
		t.Errorf("alerts: %v", alerts)
	}
	if txt := inner(dom, `id="alerts"`); !strings.Contains(txt, "2 firing, 1 resolved") || !strings.Contains(txt, "10.90% (limit 5.00%)") {
		t.Errorf("alerts text: %s", txt)
	}
	var sups []string
	for _, e := range elems(dom, "tr", "class", "suppression") {
		sups = append(sups, e.attrs["data-address"])
	}
	if fmt.Sprint(sups) != "[b@yahoo.com a@gmail.com]" {
		t.Errorf("suppressions: %v", sups)
	}
	if txt := inner(dom, `id="suppressions"`); !strings.Contains(txt, "2 current suppressions updated in range: hard 1, soft 1") {
		t.Errorf("suppressions text: %s", txt)
	}
	if opts := elems(dom, "option", "value", "c-alpha"); len(opts) != 1 {
		t.Errorf("campaign suggestions: %v", opts)
	}

	// Filtered by campaign: the filter reaches every panel, and the form shows it.
	q.Set("campaign", "c-alpha")
	dom = render(t, srv.URL+"/dashboard?"+q.Encode())
	checkNoJSErrors(t, dom)
	camp, _ = series("chart-campaign")
	if len(camp) != 1 || camp["c-alpha"].attrs["data-sends"] != "150" {
		t.Errorf("filtered campaign series: %v", camp)
	}
	if in := elems(dom, "input", "id", "f-campaign"); len(in) != 1 {
		t.Errorf("campaign input: %v", in)
	}
	if got := len(elems(dom, "tr", "class", "suppression")); got != 1 {
		t.Errorf("filtered suppressions: %d rows", got)
	}

	// No alerts: the panel says so.
	db.exec(t, "DROP TABLE alerts")
	dom = render(t, srv.URL+"/dashboard?"+q.Encode())
	checkNoJSErrors(t, dom)
	if e := elems(dom, "p", "data-missing", "true"); len(e) != 1 || !strings.Contains(inner(dom, `id="alerts"`), "No alerts") {
		t.Errorf("alerts panel without a table: %s", inner(dom, `id="alerts"`))
	}
}

// TestDashboardPageClickHouseDown: ClickHouse goes away under a running
// server; the endpoints answer 503 and the page says so.
func TestDashboardPageClickHouseDown(t *testing.T) {
	db := newDashDB(t)
	db.exec(t, fixture...)
	px := newProxy(t, db.addr)
	srv := serve(t, px.addr(), db.database)
	var r ratesResp
	if code := getJSON(t, srv, "/v1/dashboard/rates?from="+dayFrom+"&to="+dayTo, &r); code != 200 {
		t.Fatalf("before: %d", code)
	}
	px.stop()
	for _, ep := range []string{"rates", "rates?by=domain", "reasons", "alerts", "suppressions", "filters"} {
		resp, err := http.Get(srv.URL + "/v1/dashboard/" + ep)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "clickhouse unavailable") {
			t.Errorf("%s with ClickHouse down: %d %s", ep, resp.StatusCode, b)
		}
	}
	if _, err := exec.LookPath("chromium"); err != nil && os.Getenv("BOUNCED_CHROMIUM") == "" {
		chromium(t) // skips, or fails in CI
	}
	dom := render(t, srv.URL+"/dashboard")
	checkNoJSErrors(t, dom)
	body := elems(dom, "body", "", "")[0]
	if body.attrs["data-unavailable"] != "true" || body.attrs["data-state"] != "unavailable" {
		t.Errorf("body: %v", body.attrs)
	}
	if txt := inner(dom, `id="status"`); !strings.Contains(txt, "ClickHouse is unavailable.") {
		t.Errorf("status banner: %q", txt)
	}
	if n := len(elems(dom, "p", "data-status", "503")); n != 7 {
		t.Errorf("%d panels say unavailable, want 7", n)
	}
}
