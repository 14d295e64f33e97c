package alerts

import (
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

func TestDefaultRulesValid(t *testing.T) {
	if err := Validate(DefaultRules()); err != nil {
		t.Fatal(err)
	}
	bad := []Rule{{Name: "x", Metric: "rate", Scopes: []string{"domain"}, Threshold: 0.1, Severity: "warning"}}
	if err := Validate(bad); err == nil {
		t.Fatal("an unknown metric passed validation")
	}
	bad = []Rule{{Name: "x", Metric: HardRate, Scopes: []string{"ip"}, Threshold: 0.1, Severity: "warning"}}
	if err := Validate(bad); err == nil {
		t.Fatal("a send metric on ip scope passed validation")
	}
}

// TestHysteresis walks one campaign's bounce rate up through both
// thresholds, around them, and back down: each alert fires once and
// resolves once, and a rate hovering between clear and threshold changes
// nothing.
func TestHysteresis(t *testing.T) {
	e := New(DefaultRules())
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	camp := func(delivered, bounced, hard uint64) []Counts {
		return []Counts{{Scope: "campaign", Subject: "spring", Delivered: delivered, Bounced: bounced, Hard: hard}}
	}
	steps := []struct {
		name   string
		counts []Counts
		want   []string // rule:state changes
	}{
		{"healthy", camp(990, 10, 2), nil},
		{"too few sends to judge", camp(90, 10, 10), nil},
		{"warning", camp(975, 25, 5), []string{"bounce_rate_warning:firing"}},
		{"hovering above clear", camp(982, 18, 5), nil},
		{"critical and hard", camp(930, 70, 20), []string{"bounce_rate_critical:firing", "hard_rate:firing"}},
		{"critical hovering", camp(955, 45, 20), nil},
		{"down", camp(990, 10, 2), []string{"bounce_rate_critical:resolved", "bounce_rate_warning:resolved", "hard_rate:resolved"}},
		{"down stays down", camp(990, 10, 2), nil},
		{"up again", camp(960, 40, 2), []string{"bounce_rate_warning:firing"}},
		{"traffic ends", nil, []string{"bounce_rate_warning:resolved"}},
	}
	for _, s := range steps {
		now = now.Add(time.Minute)
		got := e.Evaluate(now, 24*time.Hour, s.counts)
		var names []string
		for _, a := range got {
			names = append(names, a.Rule+":"+a.State)
			if a.Message == "" || a.Subject != "spring" {
				t.Errorf("%s: alert %+v", s.name, a)
			}
		}
		if len(names) != len(s.want) {
			t.Fatalf("%s: got %v, want %v", s.name, names, s.want)
		}
		for i := range names {
			if names[i] != s.want[i] {
				t.Fatalf("%s: got %v, want %v", s.name, names, s.want)
			}
		}
	}
}

func TestBlockSpikeAndRestore(t *testing.T) {
	e := New(DefaultRules())
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	got := e.Evaluate(now, time.Hour, []Counts{{Scope: "ip", Subject: "192.0.2.7", Attempts: 1000, Block: 300}, {Scope: "domain", Subject: "ok.example", Attempts: 1000, Block: 5}})
	if len(got) != 1 || got[0].Rule != "block_spike" || got[0].Scope != "ip" || got[0].Value != 0.3 {
		t.Fatalf("got %+v", got)
	}
	// A member taking over restores from the alerts history and does not
	// fire the same alert again.
	e2 := New(DefaultRules())
	e2.Restore(append(got, event.Alert{Rule: "incident_guard", Scope: "domain", Subject: "x.example", State: event.AlertFiring}))
	if again := e2.Evaluate(now.Add(time.Minute), time.Hour, []Counts{{Scope: "ip", Subject: "192.0.2.7", Attempts: 1000, Block: 200}}); len(again) != 0 {
		t.Fatalf("restored evaluator emitted %+v", again)
	}
	if f := e2.Firing(); len(f) != 1 || f[0].Subject != "192.0.2.7" {
		t.Fatalf("firing %+v", f)
	}
}
