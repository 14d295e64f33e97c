package api_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// suppressionList holds one loaded record.
type suppressionList map[string]event.Suppression

func (l suppressionList) Get(a string) (event.Suppression, bool) { s, ok := l[a]; return s, ok }
func (l suppressionList) Ready() bool                            { return true }

// chTimeline reads attempts from ClickHouse and gives a fixed state: the
// page test needs no Kafka.
type chTimeline struct {
	c     *clickhouse.Client
	state *api.StreakState
}

func (t chTimeline) History(ctx context.Context, address string, limit int, before string) (api.History, error) {
	p, err := t.c.History(ctx, address, limit, before)
	return api.History{State: t.state, Attempts: p.Attempts, Next: p.Next}, err
}

// TestDashboardAddressLookup looks an address up on the page (the lookup
// form's GET, ?address=, as typing it and pressing Enter gives): its
// suppression reason, its state, its attempts newest first, and a hostile
// reply text shown as text.
func TestDashboardAddressLookup(t *testing.T) {
	chromium(t)
	db := newDashDB(t)
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: db.addr, Database: db.database}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const addr = "ann@example.org"
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	hostile := `<script>document.body.setAttribute("data-pwned","1")</script><img src=x onerror=alert(1)>`
	var rows []clickhouse.AttemptRow
	for i, o := range []event.Outcome{event.Deferred, event.Bounced, event.Bounced, event.Complaint} {
		a := &event.Attempt{EventID: "e" + string(rune('1'+i)), OccurredAt: t0.Add(time.Duration(i) * time.Hour), SentAt: t0,
			Recipient: addr, RecipientNorm: addr, RecipientDomain: "example.org", Outcome: o, CampaignID: "c-alpha",
			MessageID: "<m1@mta>", Source: event.Source{Kind: "postfix", Host: "mta1"},
			SMTP:    event.SMTP{Code: 452, Enhanced: "4.2.2", Text: "mailbox full"},
			Verdict: &event.Verdict{Class: "soft", Label: "mailbox_full", Rule: "mailbox-full"}}
		if i == 2 {
			a.SMTP = event.SMTP{Code: 550, Enhanced: "5.1.1", Text: hostile}
			a.Verdict = &event.Verdict{Class: "hard", Label: "mailbox_unknown", Rule: "user-unknown"}
		}
		if o == event.Complaint {
			a.SMTP = event.SMTP{}
			a.Verdict = &event.Verdict{Class: event.ClassComplaint, Label: "complaint", Rule: "complaint"}
		}
		rows = append(rows, clickhouse.AttemptRow{Topic: "bounced.attempts", Offset: int64(i + 1), Attempt: a})
	}
	if err := c.InsertAttempts(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	list := suppressionList{addr: {Address: addr, Status: event.StatusSuppressed, Class: "hard", Label: "mailbox_unknown",
		Reason: "550 5.1.1 user unknown <b>twice</b>", Rule: "user-unknown", Since: t0.Add(2 * time.Hour), Source: event.OriginAuto,
		ExpiresAt: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)}}
	start := t0.Add(time.Hour)
	tl := chTimeline{c: c, state: &api.StreakState{Partition: 2, Offset: 41, SoftStreak: 1, WindowStart: &start, LastApplied: 17}}
	srv := httptest.NewServer(api.Handler(prometheus.NewRegistry(), list, func() error { return nil }, slog.New(slog.DiscardHandler),
		api.WithDashboard(c), api.WithTimeline(tl)))
	defer srv.Close()

	page := srv.URL + "/dashboard?" + url.Values{"address": {" Ann@EXAMPLE.org "}}.Encode()
	dom := render(t, page)
	if path := os.Getenv("BOUNCED_DASHBOARD_SCREENSHOT"); path != "" {
		screenshot(t, page, strings.TrimSuffix(path, ".png")+"-address.png")
	}
	if testing.Verbose() {
		t.Log(dom)
	}
	checkNoJSErrors(t, dom)
	if b := elems(dom, "body", "", ""); b[0].attrs["data-pwned"] != "" {
		t.Fatal("the reply text ran as a script")
	}
	if in := elems(dom, "input", "id", "l-address"); len(in) != 1 {
		t.Errorf("lookup input: %v", in)
	}
	if h := elems(dom, "h3", "data-address", addr); len(h) != 1 {
		t.Errorf("no heading for the normalised address: %s", inner(dom, `id="lookup-panel"`))
	}
	txt := inner(dom, `id="lookup-panel"`)
	if rec := elems(dom, "dl", "data-status", "suppressed"); len(rec) != 1 || !strings.Contains(txt, "550 5.1.1 user unknown <b>twice</b>") {
		t.Errorf("suppression reason not shown as text: %s", txt)
	}
	if !strings.Contains(txt, "expires (UTC) 2027-02-01 00:00") {
		t.Errorf("expires_at not shown: %s", txt)
	}
	if st := elems(dom, "dl", "data-soft-streak", "1"); len(st) != 1 || !strings.Contains(txt, "since 2026-11-01 11:00 UTC") {
		t.Errorf("state: %s", txt)
	}
	var got []string
	for _, e := range elems(dom, "tr", "data-event-id", "") {
		got = append(got, e.attrs["data-event-id"]+"="+e.attrs["data-outcome"])
	}
	if strings.Join(got, " ") != "e4=complaint e3=bounced e2=bounced e1=deferred" {
		t.Errorf("attempts: %v", got)
	}
	// The hostile text is in the page as text: escaped in the DOM, no
	// element made of it.
	if !strings.Contains(dom, "&lt;script&gt;document.body.setAttribute") || len(elems(dom, "img", "src", "x")) != 0 {
		t.Errorf("reply text not escaped: %s", txt)
	}
	if !strings.Contains(txt, hostile) {
		t.Errorf("reply text not shown: %s", txt)
	}
	// One page: the more button is hidden, without a cursor.
	if m := elems(dom, "button", "class", "more"); len(m) != 1 || m[0].attrs["data-next"] != "" {
		t.Errorf("more button: %v", m)
	}

	// An address never seen: the page says so; a bad one gets the reason.
	dom = render(t, srv.URL+"/dashboard?address=nobody@example.org")
	checkNoJSErrors(t, dom)
	if e := elems(dom, "p", "data-empty", "true"); len(e) == 0 || !strings.Contains(inner(dom, `id="lookup-panel"`), "Not on the suppression list") {
		t.Errorf("unknown address: %s", inner(dom, `id="lookup-panel"`))
	}
	dom = render(t, srv.URL+"/dashboard?address=not-an-address")
	if e := elems(dom, "p", "data-status", "400"); len(e) != 1 {
		t.Errorf("bad address: %s", inner(dom, `id="lookup-panel"`))
	}
}

// The more button carries the cursor of the next page.
func TestDashboardAddressMore(t *testing.T) {
	chromium(t)
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	tl := pagedTimeline{at: at}
	srv := httptest.NewServer(api.Handler(prometheus.NewRegistry(), suppressionList{}, func() error { return nil }, slog.New(slog.DiscardHandler),
		api.WithTimeline(tl)))
	defer srv.Close()
	dom := render(t, srv.URL+"/dashboard?address=ann@example.org")
	checkNoJSErrors(t, dom)
	if m := elems(dom, "button", "class", "more"); len(m) != 1 || m[0].attrs["data-next"] != "page2" {
		t.Errorf("more button: %v", m)
	}
}

type pagedTimeline struct{ at time.Time }

func (p pagedTimeline) History(_ context.Context, _ string, _ int, before string) (api.History, error) {
	return api.History{Attempts: []clickhouse.HistoryAttempt{{EventID: "e1" + before, OccurredAt: p.at, SentAt: p.at, Outcome: "bounced"}}, Next: "page2"}, nil
}
