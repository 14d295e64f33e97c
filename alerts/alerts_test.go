package alerts

import (
	"strings"
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

// TestComplaintRate walks one campaign's and one domain's complaint rate
// (spam reports / delivered sends) through both thresholds: each alert
// fires and resolves once, hovering between clear (0.8 × threshold) and
// the threshold changes nothing, and under 1000 delivered sends nothing
// fires or resolves. Bounces are no part of the volume.
func TestComplaintRate(t *testing.T) {
	e := New(complaintRules(t))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	counts := func(delivered, bounced, complaints uint64) []Counts {
		return []Counts{
			{Scope: "campaign", Subject: "spring", Delivered: delivered, Bounced: bounced, Complaints: complaints},
			{Scope: "domain", Subject: "mail.example", Delivered: delivered, Bounced: bounced, Complaints: complaints},
		}
	}
	steps := []struct {
		name   string
		counts []Counts
		want   []string // scope:rule:state changes
	}{
		{"none", counts(2000, 0, 0), nil},
		{"at the warning threshold", counts(2000, 0, 2), nil},
		{"too few delivered sends to judge", counts(999, 0, 9), nil},
		{"bounces are no volume", counts(900, 400, 9), nil},
		{"warning", counts(2000, 0, 3), []string{"campaign:complaint_rate_warning:firing", "domain:complaint_rate_warning:firing"}},
		{"hovering above clear", counts(2000, 0, 2), nil},
		{"critical", counts(2000, 0, 7), []string{"campaign:complaint_rate_critical:firing", "domain:complaint_rate_critical:firing"}},
		{"critical hovering above its clear", counts(10000, 0, 25), nil},
		{"too few to resolve", counts(500, 0, 0), nil},
		{"critical clears, warning holds", counts(10000, 0, 23), []string{"campaign:complaint_rate_critical:resolved", "domain:complaint_rate_critical:resolved"}},
		{"down", counts(10000, 0, 7), []string{"campaign:complaint_rate_warning:resolved", "domain:complaint_rate_warning:resolved"}},
		{"down stays down", counts(10000, 0, 8), nil},
	}
	for _, s := range steps {
		now = now.Add(time.Minute)
		got := e.Evaluate(now, 24*time.Hour, s.counts)
		var names []string
		for _, a := range got {
			names = append(names, a.Scope+":"+a.Rule+":"+a.State)
		}
		if strings.Join(names, " ") != strings.Join(s.want, " ") {
			t.Fatalf("%s: got %v, want %v", s.name, names, s.want)
		}
	}
}

// complaintRules are the default complaint_rate rules alone.
func complaintRules(t *testing.T) []Rule {
	t.Helper()
	var out []Rule
	for _, r := range DefaultRules() {
		if r.Metric == ComplaintRate {
			out = append(out, r)
		}
	}
	if len(out) != 2 {
		t.Fatalf("%d default complaint_rate rules, want warning and critical", len(out))
	}
	return out
}

func TestComplaintRateMessage(t *testing.T) {
	e := New(complaintRules(t))
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	got := e.Evaluate(at, 24*time.Hour, []Counts{{Scope: "campaign", Subject: "X", Delivered: 2000, Bounced: 300, Hard: 0, Complaints: 7}})
	var msgs []string
	for _, a := range got {
		msgs = append(msgs, a.Rule+": "+a.Message)
		if a.Volume != 2000 || a.Value != 0.0035 || a.Severity != map[string]string{"complaint_rate_warning": "warning", "complaint_rate_critical": "critical"}[a.Rule] {
			t.Errorf("%s: %s value %v over %d, want 0.0035 over 2000 delivered sends", a.Rule, a.Severity, a.Value, a.Volume)
		}
	}
	want := []string{
		"complaint_rate_critical: The complaint rate of campaign X is 0.35% over the last 24h0m0s (2000 delivered sends), above 0.30%.",
		"complaint_rate_warning: The complaint rate of campaign X is 0.35% over the last 24h0m0s (2000 delivered sends), above 0.10%.",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateComplaintRate(t *testing.T) {
	ok := []Rule{{Name: "c", Metric: ComplaintRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.002, MinVolume: 1000, Severity: "critical"}}
	if err := Validate(ok); err != nil {
		t.Fatalf("a complaint_rate rule failed validation: %v", err)
	}
	bad := []Rule{{Name: "c", Metric: ComplaintRate, Scopes: []string{"ip"}, Threshold: 0.002, Severity: "warning"}}
	if err := Validate(bad); err == nil || !strings.Contains(err.Error(), "scope ip") {
		t.Fatalf("complaint_rate on scope ip: err %v, want the scope named", err)
	}
	bad = []Rule{{Name: "c", Metric: "complaints", Scopes: []string{"campaign"}, Threshold: 0.002, Severity: "warning"}}
	if err := Validate(bad); err == nil || !strings.Contains(err.Error(), ComplaintRate) {
		t.Fatalf("unknown metric: err %v, want the list of metrics with %s", err, ComplaintRate)
	}
}
