package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// A scenario is the life of one send, attempt by attempt, and what it must
// count as: the known answer, written down by hand.
type scenario struct {
	name  string
	steps []step
	// end is the send's final state: "delivered", "hard", "soft", "block",
	// or "" when it has not ended (still deferred, or dropped).
	end string
}

type step struct {
	outcome event.Outcome
	label   event.Label // "" for no verdict
	after   time.Duration
	dupe    bool // the shipper re-sends the previous record (same event id)
}

var scenarios = []scenario{
	{"first try", []step{{event.Delivered, event.LabelDelivered, time.Minute, false}}, "delivered"},
	{"deferred thrice then delivered", []step{
		{event.Deferred, event.Greylisted, time.Minute, false}, {event.Deferred, event.MailboxFull, 20 * time.Minute, false},
		{event.Deferred, event.MailboxFull, time.Hour, false}, {event.Delivered, event.LabelDelivered, 3 * time.Hour, false}}, "delivered"},
	{"deferred then expired", []step{
		{event.Deferred, event.MailboxFull, time.Minute, false}, {event.Deferred, event.MailboxFull, time.Hour, false},
		{event.Expired, event.LabelExpired, 50 * time.Hour, false}}, "soft"},
	{"hard bounce", []step{{event.Bounced, event.MailboxUnknown, time.Minute, false}}, "hard"},
	{"block", []step{{event.Bounced, event.SenderBlocked, time.Minute, false}}, "block"},
	{"late bounce (PowerMTA rb, KumoMTA OOB, SES)", []step{
		{event.Delivered, event.LabelDelivered, time.Minute, false}, {event.Bounced, event.MailboxUnknown, 30 * time.Hour, false}}, "hard"},
	{"delivered, reported twice", []step{
		{event.Delivered, event.LabelDelivered, time.Minute, false}, {event.Delivered, event.LabelDelivered, 2 * time.Minute, false}}, "delivered"},
	{"duplicate records", []step{
		{event.Deferred, event.Greylisted, time.Minute, false}, {event.Deferred, event.Greylisted, time.Minute, true},
		{event.Delivered, event.LabelDelivered, 15 * time.Minute, false}, {event.Delivered, event.LabelDelivered, 15 * time.Minute, true}}, "delivered"},
	{"delivered then complaint", []step{
		{event.Delivered, event.LabelDelivered, time.Minute, false}, {event.Delivered, event.LabelComplaint, 5 * time.Hour, false}}, "delivered"},
	{"still deferred", []step{{event.Deferred, event.MailboxFull, time.Minute, false}}, ""},
	{"dropped", []step{{event.Dropped, "", time.Minute, false}}, ""},
	{"soft bounce, then a stray delivery", []step{
		{event.Bounced, event.MailboxFull, time.Minute, false}, {event.Delivered, event.LabelDelivered, time.Hour, false}}, "soft"},
}

// knownStream is sends × scenarios folded through the real stage-2 fold
// (streak.Apply, duplicates dropped as stage 2 drops them), as rows of two
// partitions in offset order, plus the expected counts worked out from the
// scenarios alone.
type knownStream struct {
	parts [2][]clickhouse.AttemptRow
	want  map[string]map[string]sendTally // by → key → counts
	// recipients per campaign, for campaign_daily_uniq.
	recipients map[string]map[string]bool
	// finals is the expected current state per send key ("" = not ended).
	finals map[string]string
}

var (
	kCampaigns = []string{"spring", "news"}
	kDomains   = []string{"gmail.com", "example.org", "web.de"}
	kBase      = time.Date(2026, 10, 31, 22, 0, 0, 0, time.UTC) // send hours straddle a month
)

func newKnownStream(sends int) knownStream {
	ks := knownStream{
		want:       map[string]map[string]sendTally{clickhouse.ByCampaign: {}, clickhouse.ByDomain: {}, clickhouse.BySendHour: {}},
		recipients: map[string]map[string]bool{},
		finals:     map[string]string{},
	}
	type ev struct {
		a         *event.Attempt
		recipient int
	}
	var evs []ev
	for i := range sends {
		sc := scenarios[i%len(scenarios)]
		recipient := i / 2 // two sends per recipient, one per campaign
		dom := kDomains[recipient%len(kDomains)]
		camp := kCampaigns[i%2]
		sentAt := kBase.Add(time.Duration(i%4) * time.Hour).Add(time.Duration(i%53) * time.Second)
		addr := fmt.Sprintf("r%d@%s", recipient, dom)
		msg := fmt.Sprintf("<s%d@mta.example>", i)
		var prev *event.Attempt
		for j, st := range sc.steps {
			a := &event.Attempt{
				EventID: fmt.Sprintf("e%d-%d", i, j), OccurredAt: sentAt.Add(st.after), SentAt: sentAt,
				Recipient: addr, RecipientNorm: addr, RecipientDomain: dom, Outcome: st.outcome,
				CampaignID: camp, Tenant: "t1", MessageID: msg, SendingIP: fmt.Sprintf("192.0.2.%d", i%3+1), Pool: "p1",
				Source: event.Source{Kind: "pmta", Host: "mta1"},
			}
			if st.label != "" {
				v := event.NewVerdict(st.label, "r."+string(st.label))
				a.Verdict = &v
			}
			if st.dupe {
				dup := *prev
				a = &dup
			}
			prev = a
			evs = append(evs, ev{a, recipient})
		}
		// The known answer, from the scenario alone.
		hour := sentAt.Truncate(time.Hour).Format(time.RFC3339)
		for by, k := range map[string]string{clickhouse.ByCampaign: camp, clickhouse.ByDomain: dom, clickhouse.BySendHour: hour} {
			t := ks.want[by][k]
			for _, st := range sc.steps {
				if st.dupe || st.label == event.LabelComplaint {
					continue
				}
				t.Attempts++
				if st.outcome == event.Deferred {
					t.Deferred++
				}
			}
			switch sc.end {
			case "delivered":
				t.Delivered++
			case "hard":
				t.Bounced++
				t.Hard++
			case "soft":
				t.Bounced++
				t.Soft++
			case "block":
				t.Bounced++
				t.Block++
			}
			ks.want[by][k] = t
		}
		if sc.steps[0].outcome != event.Dropped {
			if ks.recipients[camp] == nil {
				ks.recipients[camp] = map[string]bool{}
			}
			ks.recipients[camp][addr] = true
			ks.finals[addr+"|m:"+msg] = sc.end
		}
	}
	// Stage 2 reads each partition in order of arrival, i.e. of time.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].a.OccurredAt.Before(evs[j].a.OccurredAt) })
	states := map[string]streak.State{}
	next := [2]int64{7, 7}
	for _, e := range evs {
		p := e.recipient % 2
		off := next[p]
		next[p] += 3 // gaps: not every offset is an attempt
		st, ok := states[e.a.RecipientNorm]
		if !ok {
			st = streak.New()
		}
		st, res := streak.Apply(streak.Policy{}, st, e.a, off)
		states[e.a.RecipientNorm] = st
		if res.Duplicate || res.Replay {
			continue
		}
		ks.parts[p] = append(ks.parts[p], clickhouse.AttemptRow{Topic: "bounced.attempts", Partition: int32(p), Offset: off,
			Attempt: e.a, SendDelivered: res.Send.Delivered, SendBounced: res.Send.Bounced})
	}
	return ks
}

func (ks knownStream) insert(t *testing.T, c *clickhouse.Client, batch int) {
	t.Helper()
	for _, rs := range ks.parts {
		for start := 0; start < len(rs); start += batch {
			if err := c.InsertAttempts(context.Background(), rs[start:min(start+batch, len(rs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// check compares every reading of the send counts with the known answer:
// rollups and raw tables, the rates themselves, the current state of every
// send, IP rollup totals and unique recipients.
func (ks knownStream) check(t *testing.T, c *clickhouse.Client, db string) {
	t.Helper()
	ctx := context.Background()
	for _, raw := range []bool{false, true} {
		for by, want := range ks.want {
			rates, err := c.RatesWhere(ctx, by, clickhouse.ReportFilter{Raw: raw}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(rates) != len(want) {
				t.Errorf("by %s raw %v: %d groups, want %d", by, raw, len(rates), len(want))
			}
			for _, r := range rates {
				if got := rateTally(r); got != want[r.Key] {
					t.Errorf("by %s raw %v: %s = %+v, want %+v", by, raw, r.Key, got, want[r.Key])
				}
				w := want[r.Key]
				if exp := float64(w.Bounced) / float64(w.Delivered+w.Bounced); r.BounceRate != exp {
					t.Errorf("by %s: %s bounce rate %v, want %v", by, r.Key, r.BounceRate, exp)
				}
				if exp := float64(w.Deferred) / float64(w.Attempts); r.DeferralRate != exp {
					t.Errorf("by %s: %s deferral rate %v, want %v", by, r.Key, r.DeferralRate, exp)
				}
			}
		}
	}

	conn := rawConn(t, db)
	// Current state per send, with FINAL (send times all given: FINAL is exact).
	rows, err := conn.Query(ctx, `SELECT send_key, toString(outcome), class FROM outcomes FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var k, o, class string
		if err := rows.Scan(&k, &o, &class); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[k]; dup {
			t.Errorf("outcomes FINAL: send %s twice", k)
		}
		switch o {
		case "delivered":
			got[k] = "delivered"
		case "bounced", "expired":
			got[k] = class
		default:
			got[k] = ""
		}
	}
	rows.Close()
	if len(got) != len(ks.finals) {
		t.Errorf("outcomes FINAL holds %d sends, want %d", len(got), len(ks.finals))
	}
	for k, w := range ks.finals {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("send %s: state %q (present %v), want %q", k, g, ok, w)
		}
	}

	// ip_hourly sums to the attempt totals; campaign_daily_uniq counts recipients.
	var total sendTally
	for _, w := range ks.want[clickhouse.ByCampaign] {
		total.Attempts += w.Attempts
		total.Deferred += w.Deferred
	}
	var ipAttempts, ipDeferred uint64
	if err := conn.QueryRow(ctx, `SELECT sum(attempts), sum(deferred) FROM ip_hourly`).Scan(&ipAttempts, &ipDeferred); err != nil {
		t.Fatal(err)
	}
	if ipAttempts != total.Attempts || ipDeferred != total.Deferred {
		t.Errorf("ip_hourly: %d attempts %d deferred, want %d and %d", ipAttempts, ipDeferred, total.Attempts, total.Deferred)
	}
	for camp, rs := range ks.recipients {
		var n uint64
		if err := conn.QueryRow(ctx, `SELECT uniqMerge(recipients) FROM campaign_daily_uniq WHERE campaign_id = ?`, camp).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != uint64(len(rs)) {
			t.Errorf("campaign_daily_uniq %s: %d recipients, want %d", camp, n, len(rs))
		}
	}
}

func rawConn(t *testing.T, db string) ch.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{chtest.Addr(t)}, Auth: ch.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// The known answer: rates count sends (deferrals, retries, repeats,
// complaints and duplicates aside, late bounces moved), per campaign,
// domain and send hour, from the rollups and from the raw tables.
func TestOutcomesKnownAnswer(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db, BatchSize: 50})
	ks := newKnownStream(600)
	ks.insert(t, c, 137)
	ks.check(t, c, db)

	// The whole stream again from a restarted member (watermarks read back
	// on assignment), in other batch sizes: nothing changes.
	c2 := reopen(t, c, addr)
	for p := range ks.parts {
		if _, err := c2.Watermark(context.Background(), "bounced.attempts", int32(p)); err != nil {
			t.Fatal(err)
		}
	}
	ks.insert(t, c2, 61)
	ks.insert(t, c, 1000) // and from the first client's warm cache
	ks.check(t, c, db)

	// After merges, too.
	conn := rawConn(t, db)
	for _, table := range []string{"outcomes", "campaign_sends_hourly", "domain_sends_hourly", "ip_hourly", "campaign_daily_uniq"} {
		if err := conn.Exec(context.Background(), "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	ks.check(t, c, db)
}

// A crash between the attempts INSERT and the outcomes INSERT: the replay
// finds the attempts stored and must still write the outcomes, once.
func TestCrashBetweenAttemptsAndOutcomes(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	ks := newKnownStream(240)
	crash := errors.New("killed")
	n := 0
	clickhouse.SetBeforeOutcomes(c, func() error {
		n++
		if n%2 == 1 {
			return crash
		}
		return nil
	})
	for _, rs := range ks.parts {
		for start := 0; start < len(rs); start += 40 {
			batch := rs[start:min(start+40, len(rs))]
			if err := c.InsertAttempts(context.Background(), batch); !errors.Is(err, crash) {
				t.Fatalf("first try: %v, want the crash", err)
			}
			// The caller retries the same batch (the pipeline's retry).
			if err := c.InsertAttempts(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	ks.check(t, c, db)

	// And a restarted member replaying everything, crashing again once.
	c2 := reopen(t, c, addr)
	once := true
	clickhouse.SetBeforeOutcomes(c2, func() error {
		if once {
			once = false
			return crash
		}
		return nil
	})
	for _, rs := range ks.parts {
		_ = c2.InsertAttempts(context.Background(), rs)
		if err := c2.InsertAttempts(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
	}
	ks.check(t, c, db)
}

func TestRatesFilters(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	ks := newKnownStream(600)
	ks.insert(t, c, 500)
	ctx := context.Background()

	// One send hour, by campaign: rollups against raw.
	from := kBase.Add(time.Hour)
	f := clickhouse.ReportFilter{From: from.Add(10 * time.Minute), To: from.Add(50 * time.Minute)} // rounded out to the hour
	hour := from.Format(time.RFC3339)
	want := ks.want[clickhouse.BySendHour][hour]
	for _, raw := range []bool{false, true} {
		f.Raw = raw
		rates, err := c.RatesWhere(ctx, clickhouse.ByCampaign, f, 10)
		if err != nil {
			t.Fatal(err)
		}
		var sum sendTally
		for _, r := range rates {
			g := rateTally(r)
			sum.Delivered += g.Delivered
			sum.Bounced += g.Bounced
			sum.Hard += g.Hard
			sum.Soft += g.Soft
			sum.Block += g.Block
			sum.Attempts += g.Attempts
			sum.Deferred += g.Deferred
		}
		if sum != want {
			t.Errorf("hour %s by campaign (raw %v) sums to %+v, want %+v", hour, raw, sum, want)
		}
	}

	// Campaign × domain crosses the rollups: raw tables, by hour, must
	// add up to the campaign's totals over every domain.
	camp := kCampaigns[0]
	var sum sendTally
	for _, dom := range kDomains {
		rates, err := c.RatesWhere(ctx, clickhouse.BySendHour, clickhouse.ReportFilter{Campaign: camp, Domain: dom}, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rates {
			g := rateTally(r)
			sum.Delivered += g.Delivered
			sum.Bounced += g.Bounced
			sum.Hard += g.Hard
			sum.Attempts += g.Attempts
		}
	}
	w := ks.want[clickhouse.ByCampaign][camp]
	if sum.Delivered != w.Delivered || sum.Bounced != w.Bounced || sum.Hard != w.Hard || sum.Attempts != w.Attempts {
		t.Errorf("campaign %s over its domains: %+v, want %+v", camp, sum, w)
	}
	rates, err := c.RatesWhere(ctx, clickhouse.ByDomain, clickhouse.ReportFilter{Campaign: camp, Domain: kDomains[1]}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 1 || rates[0].Key != kDomains[1] {
		t.Errorf("by domain, filtered to one: %+v", rates)
	}
	reasons, err := c.TopReasonsWhere(ctx, clickhouse.ReportFilter{Campaign: camp, From: kBase, To: kBase.Add(24 * time.Hour)}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) == 0 {
		t.Error("no reasons for a campaign with bounces")
	}
	if _, err := c.RatesWhere(ctx, "tenant", clickhouse.ReportFilter{}, 10); err == nil {
		t.Error("by tenant: no error")
	}
}

func TestOutcomeVersionPrecedence(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	v := func(o event.Outcome, d time.Duration, off int64) uint64 {
		return clickhouse.OutcomeVersion(&event.Attempt{Outcome: o, OccurredAt: at.Add(d)}, off)
	}
	for _, tc := range []struct {
		name        string
		lower, high uint64
	}{
		{"delivery over an earlier deferral", v(event.Deferred, 0, 1), v(event.Delivered, time.Hour, 2)},
		{"delivery over a later deferral (out of order)", v(event.Deferred, time.Hour, 2), v(event.Delivered, 0, 1)},
		{"late bounce over the delivery", v(event.Delivered, 0, 1), v(event.Bounced, 48*time.Hour, 2)},
		{"bounce over a later stray delivery", v(event.Delivered, time.Hour, 2), v(event.Bounced, 0, 1)},
		{"expiry over deferrals", v(event.Deferred, time.Hour, 9), v(event.Expired, 0, 1)},
		{"later deferral over earlier", v(event.Deferred, 0, 5), v(event.Deferred, time.Second, 1)},
		{"same second: later offset", v(event.Deferred, 0, 5), v(event.Deferred, 0, 6)},
	} {
		if tc.lower >= tc.high {
			t.Errorf("%s: %x >= %x", tc.name, tc.lower, tc.high)
		}
	}
	a := &event.Attempt{RecipientNorm: "a@b.c", MessageID: "<m@x>"}
	if k := clickhouse.SendKey(a); k != "a@b.c|m:<m@x>" {
		t.Errorf("SendKey = %q", k)
	}
}

func TestDropPartitionsBefore(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	ctx := context.Background()
	var rs []clickhouse.AttemptRow
	for i, month := range []time.Month{time.August, time.September, time.October, time.November} {
		for j := range 3 {
			a := attempt(int64(i*3 + j))
			a.SentAt = time.Date(2026, month, 15, 10, 0, 0, 0, time.UTC)
			a.OccurredAt = a.SentAt.Add(time.Minute)
			a.Outcome, a.Verdict = event.Delivered, nil
			rs = append(rs, clickhouse.AttemptRow{Topic: "t", Partition: 0, Offset: int64(i*3 + j), Attempt: a, SendDelivered: 1})
		}
	}
	if err := c.InsertAttempts(ctx, rs); err != nil {
		t.Fatal(err)
	}
	// Cutoff inside October: August and September go, October stays.
	for range 2 { // idempotent
		dropped, err := c.DropPartitionsBefore(ctx, time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		_ = dropped
	}
	conn := rawConn(t, db)
	for table, want := range map[string]uint64{"attempts": 6, "outcomes": 6, "campaign_sends_hourly": 12} {
		var n uint64
		q := "SELECT count() FROM " + table
		if table == "campaign_sends_hourly" {
			q = "SELECT toUInt64(sum(delivered)) FROM " + table // rollups are kept
		}
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d after retention, want %d", table, n, want)
		}
	}
	dropped, err := c.DropPartitionsBefore(ctx, time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC))
	if err != nil || len(dropped) != 0 {
		t.Errorf("second run dropped %v, %v; want nothing", dropped, err)
	}
}
