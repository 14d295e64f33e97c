package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// historyAttempt is an attempt to rcpt at t in campaign, with event id id.
func historyAttempt(id, rcpt, campaign string, t time.Time, outcome event.Outcome, text string) *event.Attempt {
	domain := rcpt[strings.LastIndexByte(rcpt, '@')+1:]
	a := &event.Attempt{
		EventID: id, OccurredAt: t, SentAt: t.Add(-time.Minute), Recipient: rcpt, RecipientNorm: rcpt, RecipientDomain: domain,
		Outcome: outcome, CampaignID: campaign, MessageID: "<" + id + "@mta>", Source: event.Source{Kind: "postfix", Host: "mta1"},
		SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1", Text: text},
	}
	if outcome != event.Delivered {
		a.Verdict = &event.Verdict{Class: "hard", Label: "no_such_user", Scope: "recipient", Rule: "no-such-user"}
	}
	return a
}

// TestHistoryPaging walks one address's attempts back a page at a time,
// across campaigns and months, with several attempts in the same second:
// every attempt once, newest first, none of another address.
func TestHistoryPaging(t *testing.T) {
	c := open(t, clickhouse.Config{})
	ctx := context.Background()
	const addr = "ann@example.org"
	t0 := time.Date(2026, 10, 30, 23, 59, 0, 0, time.UTC) // the pages cross a month (a table partition)
	var rows []clickhouse.AttemptRow
	var want []string // event ids, newest first
	off := int64(0)
	add := func(a *event.Attempt) {
		off++
		rows = append(rows, clickhouse.AttemptRow{Topic: "bounced.attempts", Partition: 0, Offset: off, Attempt: a})
	}
	for i := range 10 {
		at := t0.Add(time.Duration(i/3) * 24 * time.Hour) // three attempts share each second
		id := fmt.Sprintf("e%02d", i)
		add(historyAttempt(id, addr, fmt.Sprintf("c%d", i%3), at, event.Bounced, "user unknown"))
		// Neighbours: the same domain, and the same local part elsewhere.
		add(historyAttempt("o"+id, "bob@example.org", "c0", at, event.Bounced, "x"))
		add(historyAttempt("d"+id, "ann@example.net", "c0", at, event.Bounced, "x"))
	}
	// Newest first: by time, then by event id descending within a second.
	for i := 9; i >= 0; {
		grp := i / 3
		var ids []string
		for j := i; j >= 0 && j/3 == grp; j-- {
			ids = append(ids, fmt.Sprintf("e%02d", j))
		}
		want = append(want, ids...)
		i -= len(ids)
	}
	if err := c.InsertAttempts(ctx, rows); err != nil {
		t.Fatal(err)
	}

	for _, limit := range []int{1, 2, 3, 4, 10, 50} {
		var got []string
		before := ""
		pages := 0
		for {
			p, err := c.History(ctx, addr, limit, before)
			if err != nil {
				t.Fatalf("limit %d, page %d: %v", limit, pages, err)
			}
			pages++
			if len(p.Attempts) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(p.Attempts))
			}
			for _, a := range p.Attempts {
				got = append(got, a.EventID)
			}
			if p.Next == "" {
				break
			}
			if pages > 20 {
				t.Fatalf("limit %d: no end", limit)
			}
			before = p.Next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("limit %d: got %v\nwant %v", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages && pages != wantPages+1 {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}

	p, err := c.History(ctx, addr, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	a := p.Attempts[0]
	if a.Outcome != "bounced" || a.Code != 550 || a.Enhanced != "5.1.1" || a.Text != "user unknown" || a.Class != "hard" ||
		a.Label != "no_such_user" || a.Rule != "no-such-user" || a.SourceKind != "postfix" || a.SourceHost != "mta1" ||
		a.MessageID != "<e09@mta>" || a.Campaign != "c0" || !a.OccurredAt.Equal(t0.Add(72*time.Hour)) || !a.SentAt.Equal(t0.Add(72*time.Hour-time.Minute)) {
		t.Errorf("newest attempt: %+v", a)
	}

	if p, err := c.History(ctx, "nobody@example.org", 10, ""); err != nil || len(p.Attempts) != 0 || p.Next != "" {
		t.Errorf("an address never seen: %+v, %v", p, err)
	}
}

// A complaint is an attempt with outcome complaint.
func TestHistoryComplaint(t *testing.T) {
	c := open(t, clickhouse.Config{})
	ctx := context.Background()
	a := historyAttempt("cmp", "ann@example.org", "c1", time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), event.Complaint, "")
	a.SMTP = event.SMTP{}
	a.Verdict = &event.Verdict{Class: event.ClassComplaint, Label: "complaint", Rule: "complaint"}
	if err := c.InsertAttempts(ctx, []clickhouse.AttemptRow{{Topic: "t", Offset: 1, Attempt: a}}); err != nil {
		t.Fatal(err)
	}
	p, err := c.History(ctx, "ann@example.org", 0, "")
	if err != nil || len(p.Attempts) != 1 || p.Attempts[0].Outcome != "complaint" {
		t.Fatalf("complaint: %+v, %v", p, err)
	}
}

func TestHistoryErrors(t *testing.T) {
	c := open(t, clickhouse.Config{})
	ctx := context.Background()
	for _, cur := range []string{"!!", "aDE6eA", "eDox"} { // not base64; "h1:x"; "x:1"
		if _, err := c.History(ctx, "ann@example.org", 10, cur); !errors.Is(err, clickhouse.ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", cur, err)
		}
		if err := clickhouse.CheckCursor(cur); !errors.Is(err, clickhouse.ErrBadCursor) {
			t.Errorf("CheckCursor(%q): %v", cur, err)
		}
	}
	if _, err := c.History(ctx, "ann@example.org", clickhouse.MaxHistoryLimit+1, ""); err == nil {
		t.Error("a limit above the maximum was accepted")
	}
	if _, err := c.History(ctx, "not-an-address", 10, ""); err == nil {
		t.Error("an address without a domain was accepted")
	}
	// A database that was never migrated: said so, and not created.
	addr, db := chtest.Database(t)
	bare, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, Database: db}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if _, err := bare.History(ctx, "ann@example.org", 10, ""); !errors.Is(err, clickhouse.ErrNoAttemptsTable) {
		t.Errorf("without the table: %v, want ErrNoAttemptsTable", err)
	}
	if _, err := bare.History(ctx, "ann@example.org", 10, ""); !errors.Is(err, clickhouse.ErrNoAttemptsTable) {
		t.Errorf("History created the table: %v", err)
	}
}

// BenchmarkHistory measures one page of an address's history in a table of
// 300,000 attempts (50 campaigns, 20 domains, three months), the address's
// domain holding a twentieth of them: what the recipient_domain filter
// leaves the server to read.
//
//	go test ./sinks/clickhouse -run '^$' -bench History -benchtime 20x
func BenchmarkHistory(b *testing.B) {
	c := open(b, clickhouse.Config{})
	ctx := context.Background()
	const total, chunk = 300_000, 20_000
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]clickhouse.AttemptRow, 0, chunk)
	for i := range total {
		rcpt := fmt.Sprintf("user%d@domain%d.example", i%15_000, i%20)
		if i%10_000 == 0 {
			rcpt = "target@domain0.example"
		}
		at := t0.Add(time.Duration(i) * 26 * time.Second) // about 90 days
		a := historyAttempt(fmt.Sprintf("e%07d", i), rcpt, fmt.Sprintf("camp%02d", i%50), at, event.Bounced, "452 4.2.2 mailbox full")
		rows = append(rows, clickhouse.AttemptRow{Topic: "bench", Offset: int64(i + 1), Attempt: a})
		if len(rows) == chunk {
			if err := c.InsertAttempts(ctx, rows); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	b.ResetTimer()
	for b.Loop() {
		p, err := c.History(ctx, "target@domain0.example", 50, "")
		if err != nil || len(p.Attempts) != total/10_000 {
			b.Fatalf("%d attempts, %v", len(p.Attempts), err)
		}
	}
}
