package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
)

// attemptJSON is one canonical attempt.
func attemptJSON(id, rcpt, outcome string, at time.Time, code int, enhanced, text string) demo.Record {
	ev := map[string]any{
		"event_id": id, "occurred_at": at.Format(time.RFC3339Nano), "sent_at": at.Add(-time.Minute).Format(time.RFC3339Nano),
		"recipient": rcpt, "outcome": outcome, "campaign_id": "spring", "message_id": "<" + id + "@mta.example>",
		"source": map[string]any{"kind": "test", "host": "mta1"},
	}
	if code != 0 {
		ev["smtp"] = map[string]any{"code": code, "enhanced": enhanced, "text": text}
	}
	b, _ := json.Marshal(ev)
	return demo.Record{Host: "mta1", Value: b}
}

// TestIncidentGuard simulates a provider outage: within minutes every
// recipient at outage.example bounces "550 5.1.1 user unknown". A genuine
// trickle of dead addresses at other domains, among normal deliveries,
// goes on at the same time. The guard must hold the outage domain's
// suppressions (an alert says so) while the trickle keeps being suppressed;
// an operator's discard drops the held ones, a release of a second held
// domain enforces them.
func TestIncidentGuard(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()

	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var recs []demo.Record
	var trickle []string
	const outage, outage2 = 2400, 1200
	for i := range outage {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond) // 4 minutes
		recs = append(recs, attemptJSON(fmt.Sprintf("o%d", i), fmt.Sprintf("user%d@outage.example", i), "bounced", at, 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."))
		if i < outage2 {
			recs = append(recs, attemptJSON(fmt.Sprintf("p%d", i), fmt.Sprintf("user%d@second.example", i), "bounced", at, 550, "5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table"))
		}
		// Normal traffic at ten healthy domains, with a dead address now
		// and then.
		d := fmt.Sprintf("ok%d.example", i%10)
		recs = append(recs, attemptJSON(fmt.Sprintf("d%d", i), fmt.Sprintf("user%d@%s", i, d), "delivered", at, 250, "2.0.0", "250 2.0.0 OK"))
		if i%80 == 0 {
			addr := fmt.Sprintf("gone%d@%s", i, d)
			trickle = append(trickle, addr)
			recs = append(recs, attemptJSON(fmt.Sprintf("g%d", i), addr, "bounced", at, 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."))
		}
	}
	if err := produce(ctx, n, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}

	view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(domain string, status event.Status) int {
		c := 0
		for _, r := range view.All() {
			if strings.HasSuffix(r.Address, "@"+domain) && r.Status == status {
				c++
			}
		}
		return c
	}
	for _, d := range []string{"outage.example", "second.example"} {
		held, sup := count(d, event.StatusHeld), count(d, event.StatusSuppressed)
		t.Logf("%s: %d held, %d suppressed", d, held, sup)
		if sup != 0 || held == 0 {
			t.Errorf("%s: %d suppressions enforced and %d held; the outage must be held entirely", d, sup, held)
		}
	}
	for _, addr := range trickle {
		if r, ok := view.Get(addr); !ok || r.Status != event.StatusSuppressed {
			t.Errorf("dead address %s at a healthy domain: %+v (suppressed: %v), want suppressed", addr, r, ok)
		}
	}
	alerts := readTopic(ctx, t, n, "bounced.alerts")
	firing := map[string]int{}
	for _, m := range alerts {
		var a event.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		if a.Rule == "incident_guard" && a.State == event.AlertFiring {
			firing[a.Subject]++
		}
	}
	if firing["outage.example"] != 1 || firing["second.example"] != 1 || len(firing) != 2 {
		t.Errorf("incident alerts %v, want one for each outage domain", firing)
	}

	// The operator decides: the first outage was the provider's fault
	// (discard), the second domain really closed those mailboxes (release).
	for _, cmd := range [][]string{{"discard", "outage.example"}, {"release", "second.example"}} {
		if err := suppressCmd(ctx, testIO(), append(cmd, "--kafka.brokers", n.e.conn.Brokers[0])); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	view = suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if h, s := count("outage.example", event.StatusHeld), count("outage.example", event.StatusSuppressed); h+s != 0 {
		t.Errorf("after discard, outage.example still has %d held and %d suppressed", h, s)
	}
	if h, s := count("second.example", event.StatusHeld), count("second.example", event.StatusSuppressed); h != 0 || s != outage2 {
		t.Errorf("after release, second.example has %d held and %d suppressed, want 0 and %d", h, s, outage2)
	}
}
