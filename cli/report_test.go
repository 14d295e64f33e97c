package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

var update = flag.Bool("update", false, "rewrite testdata/report/*.golden from the current output")

// reportRows is a small stream with a known answer, with the send deltas
// stage 2 gives it: per campaign c1 4 sends (3 delivered... one of them
// bounced late), c2 3 ended sends and one still deferred.
func reportRows() []clickhouse.AttemptRow {
	h9 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h10 := h9.Add(time.Hour)
	type at struct {
		outcome      event.Outcome
		label        event.Label
		code         int
		enhanced     string
		after        time.Duration
		dDel, dBounc int8
	}
	del := at{event.Delivered, event.LabelDelivered, 250, "2.0.0", time.Minute, 1, 0}
	sends := []struct {
		campaign, domain string
		sent             time.Time
		steps            []at
	}{
		// Delivered, then reported as spam: one delivered send and one
		// complaint, never a second attempt.
		{"c1", "a.example", h9, []at{del, {event.Complaint, event.LabelComplaint, 0, "", 3 * time.Hour, 0, 0}}},
		{"c1", "a.example", h9, []at{{event.Deferred, event.Greylisted, 451, "4.7.1", time.Minute, 0, 0},
			{event.Deferred, event.Greylisted, 451, "4.7.1", 10 * time.Minute, 0, 0}, {event.Delivered, event.LabelDelivered, 250, "2.0.0", 30 * time.Minute, 1, 0}}},
		{"c1", "b.example", h9, []at{{event.Bounced, event.MailboxUnknown, 550, "5.1.1", time.Minute, 0, 1}}},
		{"c1", "b.example", h10, []at{del, {event.Bounced, event.MailboxUnknown, 550, "5.1.1", 26 * time.Hour, -1, 1}}},
		{"c2", "a.example", h10, []at{{event.Deferred, event.MailboxFull, 452, "4.2.2", time.Minute, 0, 0},
			{event.Expired, event.LabelExpired, 0, "", 72 * time.Hour, 0, 1}}},
		{"c2", "b.example", h10, []at{{event.Bounced, event.SenderBlocked, 554, "5.7.1", time.Minute, 0, 1}}},
		{"c2", "b.example", h10, []at{del}},
		{"c2", "a.example", h10, []at{{event.Deferred, event.MailboxFull, 452, "4.2.2", time.Minute, 0, 0}}},
	}
	var out []clickhouse.AttemptRow
	for i, s := range sends {
		addr := fmt.Sprintf("u%d@%s", i, s.domain)
		for j, st := range s.steps {
			v := event.NewVerdict(st.label, "r."+string(st.label))
			out = append(out, clickhouse.AttemptRow{Topic: "bounced.attempts", Offset: int64(len(out)),
				SendDelivered: st.dDel, SendBounced: st.dBounc,
				Attempt: &event.Attempt{
					EventID: fmt.Sprintf("e%d-%d", i, j), OccurredAt: s.sent.Add(st.after), SentAt: s.sent,
					Recipient: addr, RecipientNorm: addr, RecipientDomain: s.domain, Outcome: st.outcome,
					CampaignID: s.campaign, MessageID: fmt.Sprintf("<m%d@x>", i), SendingIP: "192.0.2.1",
					SMTP: event.SMTP{Code: st.code, Enhanced: st.enhanced}, Verdict: &v,
				}})
		}
	}
	return out
}

func TestReport(t *testing.T) {
	addr, db := chtest.Database(t)
	ctx := context.Background()
	c, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: db}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAttempts(ctx, reportRows()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"campaign_table", nil},
		{"campaign_json", []string{"--format", "json"}},
		{"campaign_csv", []string{"--format", "csv"}},
		{"domain_table", []string{"--by", "domain"}},
		{"hour_table", []string{"--by", "hour", "--from", "2026-11-01T09:00:00Z", "--to", "2026-11-01T11:00:00Z"}},
		{"hour_campaign_csv", []string{"--by", "hour", "--campaign", "c1", "--format", "csv"}},
		{"campaign_domain_table", []string{"--campaign", "c1", "--domain", "b.example"}},
		{"campaign_raw_csv", []string{"--raw", "--format", "csv"}},
		{"reason_csv", []string{"--by", "reason", "--format", "csv"}},
		{"empty_range_table", []string{"--from", "2025-01-01", "--to", "2025-02-01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io := testIO()
			args := append([]string{"report", "--clickhouse.addr", addr, "--clickhouse.database", db, "--log.level", "warn"}, tc.args...)
			if code := Main(ctx, args, io); code != 0 {
				t.Fatalf("exit %d: %s", code, io.Err.(*bytes.Buffer))
			}
			golden(t, filepath.Join("testdata", "report", tc.name+".golden"), io.Out.(*bytes.Buffer).Bytes())
		})
	}
	// Every reading agrees: the rollups and the raw tables.
	for _, by := range []string{clickhouse.ByCampaign, clickhouse.ByDomain, clickhouse.BySendHour} {
		roll, err := c.RatesWhere(ctx, by, clickhouse.ReportFilter{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.RatesWhere(ctx, by, clickhouse.ReportFilter{Raw: true}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(roll) != fmt.Sprint(raw) {
			t.Errorf("by %s: rollups %+v\nraw %+v", by, roll, raw)
		}
	}
}

func TestReportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--by", "tenant"}, {"--format", "xml"}, {"--from", "yesterday"},
		{"--from", "2026-11-02", "--to", "2026-11-01"}, {"--limit", "0"},
	} {
		io := testIO()
		if code := Main(context.Background(), append([]string{"report"}, args...), io); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, io.Err.(*bytes.Buffer))
		}
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          {},
		"2026-10-01":                time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		"2026-10-01T08:30":          time.Date(2026, 10, 1, 8, 30, 0, 0, time.UTC),
		"2026-10-01T08:30:00+02:00": time.Date(2026, 10, 1, 6, 30, 0, 0, time.UTC),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"-36h":                      now.Add(-36 * time.Hour),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWhen("soon", now); err == nil {
		t.Error("parseWhen(soon): no error")
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, strings.TrimSpace(string(want)))
	}
}

// TestReportReadOnly: a read-only command creates no database and applies
// no migration; it says which migrations are missing instead.
func TestReportReadOnly(t *testing.T) {
	addr, db := chtest.Database(t) // exists, but empty: no migration applied
	run := func(database string) (int, string) {
		var errb bytes.Buffer
		code := Main(context.Background(), []string{"report", "--clickhouse.addr", addr, "--clickhouse.database", database},
			IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb, Environ: []string{}})
		return code, errb.String()
	}
	if code, msg := run(db); code != 1 || !strings.Contains(msg, "lacks migration(s) 001_attempts") || !strings.Contains(msg, "bounced migrate") {
		t.Errorf("empty database: exit %d: %s", code, msg)
	}
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Database: db}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if pending, err := c.Pending(context.Background()); err != nil || len(pending) == 0 {
		t.Errorf("report changed the schema: pending %v, %v", pending, err)
	}
	missing := db + "_missing"
	if code, msg := run(missing); code != 1 || !strings.Contains(msg, "has no database "+missing) {
		t.Errorf("missing database: exit %d: %s", code, msg)
	}
	if _, err := clickhouse.OpenReadOnly(context.Background(), clickhouse.Config{Addr: addr, Database: missing}, nil); err == nil || !strings.Contains(err.Error(), "has no database") {
		t.Errorf("report created database %s (%v)", missing, err)
	}
}
