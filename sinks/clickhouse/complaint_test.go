package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// complaintStream is delivered sends and spam reports about some of them:
// reports with outcome complaint (classified, or carrying a foreign verdict
// or none, as an outside producer may write them) and older-style ones
// (outcome delivered, class complaint).
type complaintStream struct {
	rows []clickhouse.AttemptRow
	// want[by][key]: delivered sends, attempts and complaints per
	// campaign, domain and send hour (RFC 3339).
	want map[string]map[string]complaintTally
	// complaints is how many report rows the stream holds, outcome how
	// many of them have outcome complaint.
	complaints, outcome uint64
}

type complaintTally struct {
	Delivered  int64
	Attempts   uint64
	Complaints uint64
}

var complaintBase = time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)

// newComplaintStream: n delivered sends over two campaigns, two domains and
// three send hours; campaign spring gets a report every 200 sends (1%:
// 12 over its 1200 delivered sends), campaign autumn one (0.08%).
func newComplaintStream(n int) *complaintStream {
	cs := &complaintStream{want: map[string]map[string]complaintTally{
		clickhouse.ByCampaign: {}, clickhouse.ByDomain: {}, clickhouse.BySendHour: {},
	}}
	delivered := event.NewVerdict(event.LabelDelivered, "outcome.delivered")
	add := func(a *event.Attempt, send int8) {
		off := int64(len(cs.rows))
		cs.rows = append(cs.rows, clickhouse.AttemptRow{Topic: "bounced.attempts", Partition: 0, Offset: off, Attempt: a, SendDelivered: send})
		report := a.Outcome == event.Complaint || (a.Verdict != nil && a.Verdict.Class == event.ClassComplaint)
		for by, k := range map[string]string{
			clickhouse.ByCampaign: a.CampaignID, clickhouse.ByDomain: a.RecipientDomain,
			clickhouse.BySendHour: a.SendTime().UTC().Truncate(time.Hour).Format(time.RFC3339),
		} {
			t := cs.want[by][k]
			if report {
				t.Complaints++
			} else {
				t.Attempts++
				t.Delivered += int64(send)
			}
			cs.want[by][k] = t
		}
		if report {
			cs.complaints++
		}
		if a.Outcome == event.Complaint {
			cs.outcome++
		}
	}
	for i := range n {
		camp, dom := "spring", "gmail.com"
		if i%2 == 1 {
			camp = "autumn"
		}
		if i%3 == 0 {
			dom = "yahoo.com"
		}
		d := &event.Attempt{
			EventID: fmt.Sprintf("d%d", i), OccurredAt: complaintBase.Add(time.Duration(i%3)*time.Hour + time.Minute),
			SentAt: complaintBase.Add(time.Duration(i%3) * time.Hour), Recipient: fmt.Sprintf("u%d@%s", i, dom),
			RecipientNorm: fmt.Sprintf("u%d@%s", i, dom), RecipientDomain: dom, CampaignID: camp,
			MessageID: fmt.Sprintf("<m%d@example.net>", i), SendingIP: "192.0.2.1", Outcome: event.Delivered, Verdict: &delivered,
		}
		add(d, 1)
		if (camp == "spring" && i%200 == 0) || i == 1 {
			r := *d
			r.EventID = "r" + d.EventID // another event: never a duplicate of the delivery
			r.OccurredAt = d.OccurredAt.Add(26 * time.Hour)
			switch (i / 200) % 5 {
			case 0:
				r.Outcome = event.Complaint
				v := event.NewVerdict(event.LabelComplaint, "outcome.complaint")
				r.Verdict = &v
			case 1: // a foreign verdict that would count it as a delivery
				r.Outcome = event.Complaint
			case 2: // a foreign bounce verdict
				r.Outcome = event.Complaint
				v := event.NewVerdict(event.MailboxUnknown, "foreign")
				r.Verdict = &v
			case 3: // no verdict at all
				r.Outcome, r.Verdict = event.Complaint, nil
			case 4: // the older way: outcome delivered, the source's complaint
				v := event.NewVerdict(event.LabelComplaint, "source.complaint")
				r.Verdict = &v
			}
			add(&r, 0)
		}
	}
	return cs
}

// TestComplaintRollups: a spam report, with outcome complaint whatever its
// verdict or the older outcome delivered + class complaint, counts as a
// complaint per campaign, domain and send hour, and never as an attempt, a
// delivery or a send; outcomes gets no row for it; the alert counts and
// the complaint_rate rules read it back.
func TestComplaintRollups(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db, BatchSize: 300})
	cs := newComplaintStream(2400)
	ctx := context.Background()
	for i := 0; i < len(cs.rows); i += 500 {
		if err := c.InsertAttempts(ctx, cs.rows[i:min(i+500, len(cs.rows))]); err != nil {
			t.Fatal(err)
		}
	}
	if cs.complaints != 13 || cs.outcome != 11 || cs.want[clickhouse.ByCampaign]["spring"].Complaints != 12 {
		t.Fatalf("stream: %d complaints (%d outcome complaint, spring %d), want 13 (11, 12)", cs.complaints, cs.outcome, cs.want[clickhouse.ByCampaign]["spring"].Complaints)
	}

	conn := rawConn(t, db)
	scalar := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	checks := []struct {
		name string
		q    string
		want uint64
	}{
		{"complaint rows stored with outcome complaint", "SELECT count() FROM attempts WHERE outcome = 'complaint'", cs.outcome},
		{"every complaint row has class complaint", "SELECT count() FROM attempts WHERE outcome = 'complaint' AND (class != 'complaint' OR label != 'complaint')", 0},
		{"outcomes: one row per delivered send, none for a report", "SELECT count() FROM outcomes", 2400},
		{"campaign_hourly complaints", "SELECT toUInt64(sum(complaints)) FROM campaign_hourly", cs.complaints},
		{"campaign_hourly attempts", "SELECT toUInt64(sum(attempts)) FROM campaign_hourly", 2400},
		{"campaign_hourly delivered", "SELECT toUInt64(sum(delivered)) FROM campaign_hourly", 2400},
		{"domain_hourly complaints", "SELECT toUInt64(sum(complaints)) FROM domain_hourly", cs.complaints},
		{"domain_hourly attempts", "SELECT toUInt64(sum(attempts)) FROM domain_hourly", 2400},
		{"domain_hourly delivered", "SELECT toUInt64(sum(delivered)) FROM domain_hourly", 2400},
		{"send rollups delivered", "SELECT toUInt64(sum(delivered)) FROM campaign_sends_hourly", 2400},
		{"send rollups bounced", "SELECT toUInt64(sum(bounced)) FROM campaign_sends_hourly", 0},
		{"ip_hourly attempts", "SELECT toUInt64(sum(attempts)) FROM ip_hourly", 2400},
		{"reasons_daily complaints", "SELECT toUInt64(sum(attempts)) FROM reasons_daily WHERE class = 'complaint'", cs.complaints},
		{"reasons_daily outcome complaint", "SELECT toUInt64(sum(attempts)) FROM reasons_daily WHERE outcome = 'complaint'", cs.outcome},
		{"distinct recipients", "SELECT toUInt64(uniqMerge(recipients)) FROM campaign_daily_uniq", 2400},
	}
	for _, ck := range checks {
		if got := scalar(ck.q); got != ck.want {
			t.Errorf("%s: %d, want %d", ck.name, got, ck.want)
		}
	}

	for _, raw := range []bool{false, true} {
		for by, want := range cs.want {
			rates, err := c.RatesWhere(ctx, by, clickhouse.ReportFilter{Raw: raw}, 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]clickhouse.Rate{}
			for _, r := range rates {
				got[r.Key] = r
			}
			for k, w := range want {
				r := got[k]
				if r.Delivered != w.Delivered || r.Bounced != 0 || r.Sends != w.Delivered || r.Attempts != w.Attempts || r.Complaints != w.Complaints {
					t.Errorf("raw %v, by %s %s: delivered %d bounced %d sends %d attempts %d complaints %d, want %+v",
						raw, by, k, r.Delivered, r.Bounced, r.Sends, r.Attempts, r.Complaints, w)
				}
				if rate := float64(w.Complaints) / float64(w.Delivered); r.ComplaintRate != rate {
					t.Errorf("raw %v, by %s %s: complaint rate %v, want %v", raw, by, k, r.ComplaintRate, rate)
				}
			}
		}
	}

	counts, err := c.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Total.Complaints != cs.complaints || counts.Total.Attempts != 2400 || counts.Total.Delivered != 2400 {
		t.Errorf("raw counts %+v, want %d complaints, 2400 attempts and deliveries", counts.Total, cs.complaints)
	}

	ac, err := c.AlertCounts(ctx, complaintBase.Add(-time.Hour), complaintBase)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]alerts.Counts{}
	for _, x := range ac {
		got[x.Scope+"|"+x.Subject] = x
	}
	for _, by := range []string{clickhouse.ByCampaign, clickhouse.ByDomain} {
		for k, w := range cs.want[by] {
			x := got[by+"|"+k]
			if int64(x.Delivered) != w.Delivered || x.Bounced != 0 || x.Complaints != w.Complaints {
				t.Errorf("alert counts %s %s: %+v, want %+v", by, k, x, w)
			}
		}
	}
	// Spring: 12 reports over 1200 delivered sends, 1%: both complaint
	// rules fire; autumn's one in 1200 (0.08%) fires nothing.
	changes := alerts.New(alerts.DefaultRules()).Evaluate(complaintBase.Add(48*time.Hour), 24*time.Hour, ac)
	fired := map[string]bool{}
	for _, a := range changes {
		fired[a.Rule+"|"+a.Scope+"|"+a.Subject] = a.State == event.AlertFiring
	}
	for _, k := range []string{"complaint_rate_warning|campaign|spring", "complaint_rate_critical|campaign|spring"} {
		if !fired[k] {
			t.Errorf("%s did not fire; changes %+v", k, changes)
		}
	}
	for k := range fired {
		if k == "complaint_rate_warning|campaign|autumn" || k == "complaint_rate_critical|campaign|autumn" {
			t.Errorf("%s fired at 0.08%%", k)
		}
	}
}
