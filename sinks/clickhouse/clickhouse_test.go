package clickhouse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// open connects to a fresh database and migrates it.
func open(tb testing.TB, cfg clickhouse.Config) *clickhouse.Client {
	tb.Helper()
	if cfg.Addr == "" {
		cfg.Addr, cfg.Database = chtest.Database(tb)
	}
	c, err := clickhouse.Open(context.Background(), cfg, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if _, err := c.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return c
}

// reopen is a second, independent client on the same database: no cache.
func reopen(tb testing.TB, c *clickhouse.Client, addr string) *clickhouse.Client {
	tb.Helper()
	c2, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Database: c.Database()}, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c2.Close() })
	return c2
}

var (
	campaigns = []string{"cmp-a", "cmp-b", "cmp-c"}
	domains   = []string{"gmail.com", "yahoo.com", "example.org", "outlook.com", "web.de"}
	base      = time.Date(2026, 10, 31, 21, 0, 0, 0, time.UTC) // rows straddle a month: blocks span two partitions
)

// attempt builds a deterministic, varied attempt for an offset: every outcome,
// every counted class, nil verdicts, missing sent_at.
func attempt(off int64) *event.Attempt {
	dom := domains[off%int64(len(domains))]
	a := &event.Attempt{
		EventID:         fmt.Sprintf("ev-%d", off),
		OccurredAt:      base.Add(time.Duration(off%11) * 37 * time.Minute),
		Recipient:       fmt.Sprintf("User%d@%s", off%97, strings.ToUpper(dom)),
		RecipientNorm:   fmt.Sprintf("user%d@%s", off%97, dom),
		RecipientDomain: dom,
		CampaignID:      campaigns[off%int64(len(campaigns))],
		MessageID:       fmt.Sprintf("<m%d@example.net>", off/3),
		SendingIP:       fmt.Sprintf("192.0.2.%d", off%4+1),
		Pool:            "pool-1",
		Source:          event.Source{Kind: "postfix", Host: "mta1"},
		Attempt:         int(off%3) + 1,
	}
	if off%4 != 0 {
		a.SentAt = base.Add(time.Duration(off%7) * time.Hour)
	}
	switch off % 9 {
	case 0, 1, 2:
		a.Outcome = event.Delivered
		if off%2 == 0 {
			v := event.NewVerdict(event.LabelDelivered, "delivered")
			a.Verdict = &v
		}
	case 3:
		a.Outcome = event.Deferred
		v := event.NewVerdict(event.Greylisted, "text.greylist")
		a.Verdict = &v
		a.SMTP = event.SMTP{Code: 451, Enhanced: "4.7.1", Text: "greylisted, try again"}
	case 4:
		a.Outcome = event.Bounced
		v := event.NewVerdict(event.MailboxUnknown, "enh.5.1.1")
		a.Verdict = &v
		a.SMTP = event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "user unknown", Command: "RCPT"}
	case 5:
		a.Outcome = event.Expired
		v := event.NewVerdict(event.LabelExpired, "expired")
		a.Verdict = &v
		a.Diagnostic = "delivery time expired"
	case 6:
		a.Outcome = event.Bounced
		v := event.NewVerdict(event.SenderBlocked, "text.spamhaus")
		a.Verdict = &v
		a.SMTP = event.SMTP{Code: 554, Enhanced: "5.7.1", Text: "blocked using zen.spamhaus.org"}
	case 7:
		a.Outcome = event.Dropped
	case 8:
		if off%2 == 0 {
			a.Outcome = event.Delivered
			v := event.NewVerdict(event.LabelComplaint, "arf")
			a.Verdict = &v
		} else {
			a.Outcome = event.Bounced // unclassified bounce: counts as bounced, in no class
		}
	}
	return a
}

// rows builds attempt rows with send deltas as if every final attempt ended
// its own send (the known-answer test in outcomes_test.go folds real
// streaks instead).
func rows(topic string, partition int32, from, to int64) []clickhouse.AttemptRow {
	var out []clickhouse.AttemptRow
	for off := from; off < to; off++ {
		a := attempt(off)
		r := clickhouse.AttemptRow{Topic: topic, Partition: partition, Offset: off, Attempt: a}
		complaint := a.Verdict != nil && a.Verdict.Class == event.ClassComplaint
		switch {
		case complaint:
		case a.Outcome == event.Delivered:
			r.SendDelivered = 1
		case a.Outcome == event.Bounced || a.Outcome == event.Expired:
			r.SendBounced = 1
		}
		out = append(out, r)
	}
	return out
}

// sendTally is a group's expected send counts and attempt counts.
type sendTally struct {
	Delivered, Bounced, Hard, Soft, Block int64
	Attempts, Deferred                    uint64
}

func rateTally(r clickhouse.Rate) sendTally {
	return sendTally{r.Delivered, r.Bounced, r.Hard, r.Soft, r.Block, r.Attempts, r.Deferred}
}

func (s *sendTally) add(r clickhouse.AttemptRow) {
	a := r.Attempt
	var class event.Class
	if a.Verdict != nil {
		class = a.Verdict.Class
	}
	if class != event.ClassComplaint {
		s.Attempts++
	}
	if a.Outcome == event.Deferred {
		s.Deferred++
	}
	s.Delivered += int64(r.SendDelivered)
	s.Bounced += int64(r.SendBounced)
	switch class {
	case event.ClassHard:
		s.Hard += int64(r.SendBounced)
	case event.ClassSoft:
		s.Soft += int64(r.SendBounced)
	case event.ClassBlock:
		s.Block += int64(r.SendBounced)
	}
}

// expectedSends groups rows' send deltas and attempts by campaign, domain
// and send hour (RFC 3339), as RatesWhere does.
func expectedSends(rs []clickhouse.AttemptRow) map[string]map[string]sendTally {
	out := map[string]map[string]sendTally{clickhouse.ByCampaign: {}, clickhouse.ByDomain: {}, clickhouse.BySendHour: {}}
	for _, r := range rs {
		a := r.Attempt
		for by, k := range map[string]string{
			clickhouse.ByCampaign: a.CampaignID, clickhouse.ByDomain: a.RecipientDomain,
			clickhouse.BySendHour: a.SendTime().UTC().Truncate(time.Hour).Format(time.RFC3339),
		} {
			t := out[by][k]
			t.add(r)
			out[by][k] = t
		}
	}
	return out
}

// assertRates checks RatesWhere (rollups, and raw when raw is set) against
// the rows' send deltas, grouped every way.
func assertRates(t *testing.T, c *clickhouse.Client, want []clickhouse.AttemptRow, raw bool) {
	t.Helper()
	for by, groups := range expectedSends(want) {
		rates, err := c.RatesWhere(context.Background(), by, clickhouse.ReportFilter{Raw: raw}, 100000)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]sendTally{}
		for _, r := range rates {
			got[r.Key] = rateTally(r)
			if r.Sends != r.Delivered+r.Bounced {
				t.Errorf("%s %s: sends %d != delivered+bounced", by, r.Key, r.Sends)
			}
		}
		for k, w := range groups {
			if w == (sendTally{}) {
				continue
			}
			if got[k] != w {
				t.Errorf("rates by %s (raw %v) %s = %+v, want %+v", by, raw, k, got[k], w)
			}
		}
		for k, g := range got {
			if _, ok := groups[k]; !ok {
				t.Errorf("rates by %s (raw %v): unexpected group %s = %+v", by, raw, k, g)
			}
		}
	}
}

// expected tallies rows in Go with SPEC §6's definitions.
func expected(rs []clickhouse.AttemptRow) (total clickhouse.Tally, byCampaign, byDomain map[string]clickhouse.Tally) {
	byCampaign, byDomain = map[string]clickhouse.Tally{}, map[string]clickhouse.Tally{}
	for _, r := range rs {
		a := r.Attempt
		var t clickhouse.Tally
		t.Attempts = 1
		var class event.Class
		if a.Verdict != nil {
			class = a.Verdict.Class
		}
		switch a.Outcome {
		case event.Delivered:
			t.Delivered = 1
		case event.Deferred:
			t.Deferred = 1
		case event.Bounced, event.Expired:
			t.Bounced = 1
			switch class {
			case event.ClassHard:
				t.Hard = 1
			case event.ClassSoft:
				t.Soft = 1
			case event.ClassBlock:
				t.Block = 1
			}
		case event.Dropped:
			t.Dropped = 1
		}
		if class == event.ClassComplaint {
			// A complaint is about a delivered message, not an attempt.
			t = clickhouse.Tally{Complaints: 1}
		}
		total = addTally(total, t)
		byCampaign[a.CampaignID] = addTally(byCampaign[a.CampaignID], t)
		byDomain[a.RecipientDomain] = addTally(byDomain[a.RecipientDomain], t)
	}
	return total, byCampaign, byDomain
}

func addTally(a, b clickhouse.Tally) clickhouse.Tally {
	return clickhouse.Tally{
		Attempts: a.Attempts + b.Attempts, Delivered: a.Delivered + b.Delivered, Deferred: a.Deferred + b.Deferred,
		Bounced: a.Bounced + b.Bounced, Dropped: a.Dropped + b.Dropped, Hard: a.Hard + b.Hard, Soft: a.Soft + b.Soft,
		Block: a.Block + b.Block, Complaints: a.Complaints + b.Complaints,
	}
}

// assertExact checks raw counts AND every rollup against rows computed in Go.
func assertExact(t *testing.T, c *clickhouse.Client, want []clickhouse.AttemptRow) {
	t.Helper()
	ctx := context.Background()
	total, byCampaign, byDomain := expected(want)
	got, err := c.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != total {
		t.Errorf("raw total = %+v, want %+v", got.Total, total)
	}
	for k, w := range byCampaign {
		if got.ByCampaign[k] != w {
			t.Errorf("raw campaign %s = %+v, want %+v", k, got.ByCampaign[k], w)
		}
	}
	for k, w := range byDomain {
		if got.ByDomain[k] != w {
			t.Errorf("raw domain %s = %+v, want %+v", k, got.ByDomain[k], w)
		}
	}
	assertRates(t, c, want, false)
	reasons, err := c.TopReasons(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, r := range reasons {
		n += r.Attempts
	}
	// reasons_daily holds every attempt not delivered, plus delivered complaints.
	if w := total.Attempts - total.Delivered + total.Complaints; n != w {
		t.Errorf("reasons sum to %d attempts, want %d", n, w)
	}
}

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: db}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var wantVersions []uint32
	for _, m := range all {
		if c.ServerVersion().Major >= m.MinMajor {
			want = append(want, m.Name)
			wantVersions = append(wantVersions, m.Version)
		}
	}
	applied, err := c.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Errorf("first Migrate applied %v, want %v", applied, want)
	}
	t.Logf("server %s applied %v", c.ServerVersion(), applied)
	if !c.ServerVersion().Modern() {
		for _, a := range applied {
			if strings.HasSuffix(a, "_modern") {
				t.Errorf("modern-only %s applied on %s", a, c.ServerVersion())
			}
		}
	}
	for i := range 2 {
		again, err := c.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("Migrate #%d applied %v, want nothing", i+2, again)
		}
	}
	again, err := reopen(t, c, addr).Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("Migrate from a new client = %v, %v; want nothing", again, err)
	}
	versions, err := c.AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(versions) != fmt.Sprint(wantVersions) {
		t.Errorf("recorded versions %v, want %v", versions, wantVersions)
	}
}

// TestMigrateSideBySide: members that start together migrate one fresh
// database at once; none fails on a statement another already ran (18.16
// has no ADD COLUMN IF NOT EXISTS).
func TestMigrateSideBySide(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	const members = 4
	errs := make(chan error, members)
	for range members {
		go func() {
			c, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: db}, testLogger(t))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_, err = c.Migrate(ctx)
			errs <- err
		}()
	}
	for range members {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestInsertAttemptsExactCountsAndRollups(t *testing.T) {
	c := open(t, clickhouse.Config{BatchSize: 700}) // several INSERTs per call
	rs := rows("bounced.attempts", 3, 0, 5000)
	if err := c.InsertAttempts(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	assertExact(t, c, rs)

	rates, err := c.Rates(context.Background(), clickhouse.ByCampaign, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rates {
		if r.Sends == 0 {
			t.Fatalf("%s: no sends", r.Key)
		}
		if want := float64(r.Bounced) / float64(r.Delivered+r.Bounced); r.BounceRate != want {
			t.Errorf("%s bounce rate %v, want %v", r.Key, r.BounceRate, want)
		}
		if want := float64(r.Hard) / float64(r.Sends); r.HardRate != want {
			t.Errorf("%s hard rate %v, want %v", r.Key, r.HardRate, want)
		}
		if want := float64(r.Deferred) / float64(r.Attempts); r.DeferralRate != want {
			t.Errorf("%s deferral rate %v, want %v", r.Key, r.DeferralRate, want)
		}
	}
	hours, err := c.Rates(context.Background(), clickhouse.BySendHour, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 3 || hours[0].Key >= hours[2].Key {
		t.Errorf("send_hour: want the 3 latest hours oldest first, got %v", keys(hours))
	}
}

func keys(rs []clickhouse.Rate) []string {
	var k []string
	for _, r := range rs {
		k = append(k, r.Key)
	}
	return k
}

func TestResentBatchIsNotDuplicated(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	rs := rows("bounced.attempts", 0, 0, 1000)
	for range 2 { // the second time from the cached watermark
		if err := c.InsertAttempts(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	assertExact(t, c, rs)
	// The same batch from a restarted process (watermark read back from the server).
	if err := reopen(t, c, addr).InsertAttempts(ctx, rs); err != nil {
		t.Fatal(err)
	}
	assertExact(t, c, rs)
}

func TestBatchOverlappingWatermarkInsertsOnlyNewRows(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	if err := c.InsertAttempts(ctx, rows("t", 1, 0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAttempts(ctx, rows("t", 1, 50, 150)); err != nil {
		t.Fatal(err)
	}
	// And from a cold client, overlapping again.
	if err := reopen(t, c, addr).InsertAttempts(ctx, rows("t", 1, 120, 200)); err != nil {
		t.Fatal(err)
	}
	assertExact(t, c, rows("t", 1, 0, 200))
}

func TestWatermarkSurvivesNewClient(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	if err := c.InsertAttempts(ctx, rows("t", 2, 10, 42)); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAttempts(ctx, rows("t", 5, 1000, 1001)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2 := reopen(t, c, addr)
	for _, tc := range []struct {
		topic string
		part  int32
		want  int64
	}{{"t", 2, 41}, {"t", 5, 1000}, {"t", 3, -1}, {"other", 2, -1}} {
		got, err := c2.Watermark(ctx, tc.topic, tc.part)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Watermark(%s, %d) = %d, want %d", tc.topic, tc.part, got, tc.want)
		}
	}
}

// A partition that moved to another member and back: the cache is stale, and
// Watermark (called on assignment) or ForgetWatermark (on revocation) must
// refresh it, or the other member's rows would be written twice.
func TestReassignedPartitionRefreshesWatermark(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	a := open(t, clickhouse.Config{Addr: addr, Database: db})
	b := reopen(t, a, addr)
	for i, refresh := range []func() error{
		func() error { _, err := a.Watermark(ctx, "t", 0); return err },
		func() error { a.ForgetWatermark("t", 0); return nil },
	} {
		base := int64(i * 100)
		if err := a.InsertAttempts(ctx, rows("t", 0, base, base+10)); err != nil { // a caches base+9
			t.Fatal(err)
		}
		if err := b.InsertAttempts(ctx, rows("t", 0, base+10, base+50)); err != nil { // b owns it for a while
			t.Fatal(err)
		}
		if err := refresh(); err != nil {
			t.Fatal(err)
		}
		if err := a.InsertAttempts(ctx, rows("t", 0, base+10, base+100)); err != nil { // back to a, replayed
			t.Fatal(err)
		}
	}
	assertExact(t, a, rows("t", 0, 0, 200))
}

// A failed INSERT that nevertheless landed (a timeout after the server wrote
// it) must not be written twice by the caller's retry.
func TestRetryAfterFailedInsertRereadsWatermark(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	if err := c.InsertAttempts(ctx, rows("t", 0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.InsertAttempts(cancelled, rows("t", 0, 10, 20)); err == nil {
		t.Fatal("insert with a cancelled context succeeded")
	}
	// The "lost" insert landed after all (written here by another client).
	if err := reopen(t, c, addr).InsertAttempts(ctx, rows("t", 0, 10, 20)); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAttempts(ctx, rows("t", 0, 10, 25)); err != nil { // the caller's retry, plus new rows
		t.Fatal(err)
	}
	assertExact(t, c, rows("t", 0, 0, 25))
}

// A cold client fills gaps below the watermark (an INSERT that landed in part)
// instead of skipping everything up to max(src_offset).
func TestColdInsertFillsGapsBelowWatermark(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	if err := c.InsertAttempts(ctx, rows("t", 0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAttempts(ctx, rows("t", 0, 20, 30)); err != nil {
		t.Fatal(err)
	}
	if err := reopen(t, c, addr).InsertAttempts(ctx, rows("t", 0, 0, 35)); err != nil {
		t.Fatal(err)
	}
	assertExact(t, c, rows("t", 0, 0, 35))
}

func TestInsertAttemptsRejectsBadInput(t *testing.T) {
	c := open(t, clickhouse.Config{})
	good := rows("t", 0, 0, 3)
	bad := map[string][]clickhouse.AttemptRow{
		"two partitions": append(rows("t", 0, 0, 2), rows("t", 1, 2, 3)...),
		"two topics":     append(rows("t", 0, 0, 2), rows("u", 0, 2, 3)...),
		"descending":     {good[1], good[0]},
		"repeated":       {good[0], good[0]},
		"negative":       {{Topic: "t", Offset: -1, Attempt: attempt(1)}},
		"nil attempt":    {{Topic: "t", Offset: 5}},
		"bad outcome":    {{Topic: "t", Offset: 5, Attempt: &event.Attempt{Outcome: "lost"}}},
	}
	for name, rs := range bad {
		if err := c.InsertAttempts(context.Background(), rs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n, _ := c.Counts(context.Background()); n.Total.Attempts != 0 {
		t.Errorf("rejected input wrote %d rows", n.Total.Attempts)
	}
}

func TestTopReasons(t *testing.T) {
	c := open(t, clickhouse.Config{})
	if err := c.InsertAttempts(context.Background(), rows("t", 0, 0, 900)); err != nil {
		t.Fatal(err)
	}
	reasons, err := c.TopReasons(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range reasons {
		if r.Label == string(event.MailboxUnknown) {
			found = true
			if r.Class != "hard" || r.Rule != "enh.5.1.1" || r.Enhanced != "5.1.1" || r.Code != 550 || r.Attempts != 100 {
				t.Errorf("mailbox_unknown reason = %+v", r)
			}
		}
	}
	if !found {
		t.Errorf("no mailbox_unknown in %+v", reasons)
	}
}

func TestSuppressionsFinalAndTombstones(t *testing.T) {
	ctx := context.Background()
	c := open(t, clickhouse.Config{})
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rec := func(addr string, label event.Label, streak int) *event.Suppression {
		v := event.NewVerdict(label, "r."+string(label))
		return &event.Suppression{
			Address: addr, Status: event.StatusSuppressed, Class: v.Class, Label: label,
			Reason: "because " + string(label), Rule: v.Rule, Since: at, UpdatedAt: at.Add(time.Hour),
			SoftStreak: streak, Source: event.OriginAuto,
			Evidence: []event.Evidence{{At: at, CampaignID: "cmp-a", Code: 550, Enhanced: "5.1.1", Text: "no such user"}},
		}
	}
	batch := []clickhouse.SuppressionRow{
		{Address: "a@x.com", Record: rec("a@x.com", event.MailboxFull, 2), Version: 1},
		{Address: "a@x.com", Record: rec("a@x.com", event.MailboxUnknown, 0), Version: 5}, // wins
		{Address: "b@y.com", Record: rec("b@y.com", event.MailboxUnknown, 0), Version: 2},
		{Address: "b@y.com", Record: nil, Version: 3},                                     // lifted
		{Address: "c@z.com", Record: nil, Version: 1},                                     // lifted, then
		{Address: "c@z.com", Record: rec("c@z.com", event.LabelComplaint, 0), Version: 4}, // suppressed again
		{Address: "d@z.com", Record: rec("d@z.com", event.MailboxUnknown, 0), Version: 9},
		{Address: "d@z.com", Record: rec("d@z.com", event.MailboxFull, 3), Version: 7}, // stale, loses
	}
	for range 2 { // replayed: no effect
		if err := c.InsertSuppressions(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Suppressed != 3 {
		t.Errorf("suppressed = %d, want 3 (a, c, d)", n.Suppressed)
	}
	for addr, want := range map[string]string{"a@x.com": "mailbox_unknown", "b@y.com": "", "c@z.com": "complaint", "d@z.com": "mailbox_unknown"} {
		s, ok, err := c.Suppression(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (want != "") || s.Label != want {
			t.Errorf("Suppression(%s) = %q, %v; want %q", addr, s.Label, ok, want)
		}
		if ok && (s.Domain != addr[strings.IndexByte(addr, '@')+1:] || !s.Since.Equal(at) || !strings.Contains(s.Evidence, `"enhanced":"5.1.1"`)) {
			t.Errorf("Suppression(%s) = %+v", addr, s)
		}
	}
}

func TestOpenExplainsRefusedConnection(t *testing.T) {
	_, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: "127.0.0.1:1", DialTimeout: time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "scripts/clickhouse.sh start") || !strings.Contains(err.Error(), "clickhouse.addr") {
		t.Fatalf("Open error = %v; want a hint naming scripts/clickhouse.sh and clickhouse.addr", err)
	}
}

func TestOpenExplainsBadPassword(t *testing.T) {
	addr := chtest.Addr(t)
	_, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Username: "nobody", Password: "x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "clickhouse.password") {
		t.Fatalf("Open error = %v; want a hint naming clickhouse.password", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg clickhouse.Config
		key string // "" = valid
	}{
		{clickhouse.Config{}, ""},
		{clickhouse.Config{Addr: "ch.internal:9440", TLS: true, Database: "mail_2", BatchSize: 100000}, ""},
		{clickhouse.Config{Addr: "[::1]:9000"}, ""},
		{clickhouse.Config{Addr: "localhost"}, "clickhouse.addr"},
		{clickhouse.Config{Addr: ":9000"}, "clickhouse.addr"},
		{clickhouse.Config{Addr: "h:http"}, "clickhouse.addr"},
		{clickhouse.Config{Addr: "h:70000"}, "clickhouse.addr"},
		{clickhouse.Config{Database: "bounced-prod"}, "clickhouse.database"},
		{clickhouse.Config{Database: "1db"}, "clickhouse.database"},
		{clickhouse.Config{DialTimeout: -time.Second}, "clickhouse.dial_timeout"},
		{clickhouse.Config{BatchSize: -1}, "clickhouse.batch_size"},
		{clickhouse.Config{BatchSize: clickhouse.MaxBatchSize + 1}, "clickhouse.batch_size"},
		{clickhouse.Config{MaxConns: -1}, "clickhouse.max_conns"},
		{clickhouse.Config{InsertLinger: -1}, ""}, // off
		{clickhouse.Config{InsertLinger: time.Second}, ""},
		{clickhouse.Config{InsertLinger: clickhouse.MaxInsertLinger + 1}, "clickhouse.insert_linger"},
		{clickhouse.Config{TLSInsecureSkipVerify: true}, "clickhouse.tls_insecure_skip_verify"},
		{clickhouse.Config{Compression: "zstd"}, ""},
		{clickhouse.Config{Compression: "gzip"}, "clickhouse.compression"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tc.cfg, err)
		case tc.key != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.key+":")):
			t.Errorf("%+v: error %v, want one starting with %q", tc.cfg, err, tc.key+":")
		}
	}
	if _, err := clickhouse.Open(context.Background(), clickhouse.Config{BatchSize: -1}, nil); err == nil {
		t.Error("Open accepted an invalid config")
	}
}

func TestConfigLogValueHidesPassword(t *testing.T) {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "clickhouse", clickhouse.Config{Password: "hunter2"})
	if strings.Contains(b.String(), "hunter2") {
		t.Errorf("password logged: %s", b.String())
	}
}

// BenchmarkInsertAttempts measures InsertAttempts end to end (encoding, the
// INSERT, the three materialized views) with send times inside one month, the
// common case; a block spanning two months writes twice the parts.
func BenchmarkInsertAttempts(b *testing.B) {
	for _, size := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			c := open(b, clickhouse.Config{BatchSize: size})
			ctx := context.Background()
			batch := rows("bench", 0, 0, int64(size))
			for _, r := range batch {
				r.Attempt.OccurredAt = r.Attempt.OccurredAt.Add(72 * time.Hour)
				r.Attempt.SentAt = r.Attempt.SendTime().Add(72 * time.Hour)
			}
			var n int
			cpu0 := clientCPU()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.InsertAttempts(ctx, batch); err != nil {
					b.Fatal(err)
				}
				n += len(batch)
				for i := range batch { // next offsets, same events: no generation cost in the loop
					batch[i].Offset += int64(size)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(clientCPU()-cpu0)/float64(n), "client-cpu-ns/row")
		})
	}
}

// clientCPU is this process's user+system CPU time in ns.
func clientCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
