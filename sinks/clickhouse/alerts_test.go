package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/alerts"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// TestAlertCounts reads the alert rules' counts back from the rollups of
// the known stream, exactly, and drives the evaluator with them: the
// stream bounces far above every threshold, so each rule fires once per
// campaign and domain, and the changes store in the alerts table.
func TestAlertCounts(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db})
	ks := newKnownStream(600)
	ks.insert(t, c, 500)
	ctx := context.Background()
	since := kBase.Add(-24 * time.Hour)
	counts, err := c.AlertCounts(ctx, since, since)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]alerts.Counts{}
	for _, ac := range counts {
		got[ac.Scope+"|"+ac.Subject] = ac
	}
	for _, by := range []string{"campaign", "domain"} {
		for key, want := range ks.want[by] {
			ac := got[by+"|"+key]
			if int64(ac.Delivered) != want.Delivered || int64(ac.Bounced) != want.Bounced || int64(ac.Hard) != want.Hard {
				t.Errorf("%s %s: counts %+v, want delivered %d bounced %d hard %d", by, key, ac, want.Delivered, want.Bounced, want.Hard)
			}
			if by == "domain" && ac.Attempts != want.Attempts {
				t.Errorf("domain %s: %d attempts, want %d", key, ac.Attempts, want.Attempts)
			}
		}
	}
	rules := alerts.DefaultRules()
	for i := range rules {
		rules[i].MinVolume = 50 // the stream has 300 sends per campaign
	}
	e := alerts.New(rules)
	changes := e.Evaluate(kBase.Add(48*time.Hour), 72*time.Hour, counts)
	fired := map[string]int{}
	for _, a := range changes {
		if a.State != event.AlertFiring {
			t.Errorf("unexpected %+v", a)
		}
		fired[a.Rule]++
	}
	if fired["hard_rate"] == 0 || fired["bounce_rate_critical"] == 0 || fired["bounce_rate_warning"] == 0 {
		t.Fatalf("fired %v from %d subjects", fired, len(counts))
	}
	if err := c.InsertAlerts(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertAlerts(ctx, changes); err != nil { // a replay
		t.Fatal(err)
	}
	var n uint64
	if err := rawConn(t, db).QueryRow(ctx, "SELECT count() FROM alerts FINAL WHERE state = 'firing'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(changes)) {
		t.Fatalf("alerts table holds %d firing rows after a replay, want %d", n, len(changes))
	}
}
