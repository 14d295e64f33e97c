package alerts

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestSoftSpike walks one domain's soft-bounce rate against its own
// baseline with synthetic rates: it fires above 3× the baseline (never
// under the 0.5% floor), holds between 2.4× and 3×, resolves below 2.4×,
// and needs 200 sends in the last hour and in the baseline.
func TestSoftSpike(t *testing.T) {
	e := New(baselineRules(t, SoftSpike))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	// hour soft/sends, baseline soft/sends
	tr := func(soft, sends, bsoft, bsends uint64) []Trend {
		return []Trend{{Scope: "domain", Subject: "example.org", Baseline: week,
			Hour: Tally{Sends: sends, Soft: soft}, Base: Tally{Sends: bsends, Soft: bsoft}}}
	}
	steps := []struct {
		name   string
		trends []Trend
		want   string // state changes, space separated
	}{
		{"steady at 2%", tr(20, 1000, 2000, 100000), ""},
		{"2.9× its baseline", tr(58, 1000, 2000, 100000), ""},
		{"too few sends in the hour", tr(30, 150, 2000, 100000), ""},
		{"no baseline to spike from", tr(300, 1000, 2, 150), ""},
		{"0 → 0.1% is under the floor", tr(1, 1000, 0, 100000), ""},
		{"0 → 1.4% is under 3× the floor", tr(14, 1000, 0, 100000), ""},
		{"3.1× its baseline", tr(62, 1000, 2000, 100000), "firing"},
		{"hovering at 2.5×", tr(50, 1000, 2000, 100000), ""},
		{"too few sends to resolve", tr(0, 100, 2000, 100000), ""},
		{"2.3×: resolved", tr(46, 1000, 2000, 100000), "resolved"},
		{"0 → 1.6%: 3.2× the floor", tr(16, 1000, 0, 100000), "firing"},
		{"domain measured over another span: not this rule's, so no traffic", []Trend{{Scope: "domain", Subject: "example.org", Baseline: 24 * time.Hour, Hour: Tally{Sends: 1000, Soft: 16}}}, "resolved"},
		{"campaign scope", []Trend{{Scope: "campaign", Subject: "spring", Baseline: week, Hour: Tally{Sends: 400, Soft: 40}, Base: Tally{Sends: 5000, Soft: 100}}}, "firing"},
		{"campaign traffic ends (ip is not soft_spike's scope)", []Trend{{Scope: "ip", Subject: "192.0.2.1", Baseline: week, Hour: Tally{Sends: 400, Soft: 40, Attempts: 400}, Base: Tally{Sends: 5000, Soft: 100, Attempts: 5000}}}, "resolved"},
	}
	for _, s := range steps {
		now = now.Add(time.Minute)
		var got []string
		for _, a := range e.EvaluateAll(now, 24*time.Hour, nil, s.trends) {
			got = append(got, a.State)
			if a.Rule != "soft_spike" || a.Window != "1h0m0s" || a.Message == "" {
				t.Errorf("%s: %+v", s.name, a)
			}
		}
		if strings.Join(got, " ") != s.want {
			t.Fatalf("%s: got %v, want %q", s.name, got, s.want)
		}
	}
}

// TestBlockBaselineSpike: an IP's block rate against its own baseline;
// a send-only trend (campaign, domain) is not its business.
func TestBlockBaselineSpike(t *testing.T) {
	week := 7 * 24 * time.Hour
	cases := []struct {
		name  string
		trend Trend
		fires bool
	}{
		{"4× a 2% baseline", Trend{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 500, Block: 40}, Base: Tally{Attempts: 50000, Block: 1000}}, true},
		{"2× a 2% baseline", Trend{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 500, Block: 20}, Base: Tally{Attempts: 50000, Block: 1000}}, false},
		{"0 → 2%: under 3× the 1% floor", Trend{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 500, Block: 10}, Base: Tally{Attempts: 50000}}, false},
		{"0 → 4%: over 3× the floor", Trend{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 500, Block: 20}, Base: Tally{Attempts: 50000}}, true},
		{"199 attempts", Trend{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 199, Block: 100}, Base: Tally{Attempts: 50000, Block: 10}}, false},
		{"domain scope", Trend{Scope: "domain", Subject: "x.example", Baseline: week, Hour: Tally{Attempts: 500, Block: 400, Sends: 500}, Base: Tally{Attempts: 50000, Block: 10, Sends: 50000}}, false},
	}
	for _, c := range cases {
		e := New(baselineRules(t, BlockBaselineSpike))
		got := e.EvaluateAll(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 24*time.Hour, nil, []Trend{c.trend})
		if fired := len(got) == 1 && got[0].Rule == "block_baseline_spike"; fired != c.fires || len(got) > 1 {
			t.Errorf("%s: got %+v, want firing %v", c.name, got, c.fires)
		}
	}
}

func TestBaselineMessages(t *testing.T) {
	e := New(DefaultRules())
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	fire := e.EvaluateAll(at, 24*time.Hour, nil, []Trend{
		{Scope: "domain", Subject: "example.org", Baseline: week, Hour: Tally{Sends: 420, Soft: 50}, Base: Tally{Sends: 10000, Soft: 290}},
		{Scope: "ip", Subject: "192.0.2.7", Baseline: week, Hour: Tally{Attempts: 1200, Block: 108}, Base: Tally{Attempts: 90000, Block: 90}},
	})
	clear := e.EvaluateAll(at.Add(time.Minute), 24*time.Hour, nil, []Trend{
		{Scope: "domain", Subject: "example.org", Baseline: week, Hour: Tally{Sends: 400, Soft: 12}, Base: Tally{Sends: 10000, Soft: 290}},
	})
	var got []string
	for _, a := range append(fire, clear...) {
		got = append(got, a.Rule+" "+a.State+": "+a.Message)
	}
	want := []string{
		"block_baseline_spike firing: The block rate of ip 192.0.2.7 is 9.0% over the last hour (1200 attempts), 9.0× the floor of 1.0% (its 7-day baseline is 0.10%).",
		"soft_spike firing: The soft-bounce rate of domain example.org is 11.9% over the last hour (420 sends), 4.1× its 7-day baseline of 2.9%.",
		"block_baseline_spike resolved: ip 192.0.2.7 had no traffic over the last 1h0m0s; the alert is resolved.",
		"soft_spike resolved: The soft-bounce rate of domain example.org is back to 3.0% over the last hour (400 sends), 1.0× its 7-day baseline of 2.9%, below 2.4×.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if math.Abs(fire[1].Threshold-3*0.029) > 1e-12 || fire[1].Value != 50.0/420 || fire[1].Volume != 420 {
		t.Errorf("soft_spike record %+v: want threshold 3 × 2.9%%, value 50/420, volume 420", fire[1])
	}
}

// TestEvaluateLeavesBaselineAlerts: Evaluate (threshold rules only) does
// not resolve a firing baseline alert for want of trends.
func TestEvaluateLeavesBaselineAlerts(t *testing.T) {
	e := New(DefaultRules())
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tr := []Trend{{Scope: "ip", Subject: "192.0.2.7", Baseline: 7 * 24 * time.Hour, Hour: Tally{Attempts: 1000, Block: 100}, Base: Tally{Attempts: 9000, Block: 90}}}
	if got := e.EvaluateAll(at, 24*time.Hour, nil, tr); len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	if got := e.Evaluate(at.Add(time.Minute), 24*time.Hour, nil); len(got) != 0 {
		t.Fatalf("Evaluate changed a baseline alert: %+v", got)
	}
	if got := e.Baselines(); len(got) != 1 || got[0] != 7*24*time.Hour {
		t.Fatalf("baselines %v, want [168h]", got)
	}
}

func TestValidateBaseline(t *testing.T) {
	rule := func(edit func(*Rule)) []Rule {
		r := Rule{Name: "s", Metric: SoftSpike, Scopes: []string{"domain"}, MinVolume: 200, Severity: "warning"}
		edit(&r)
		return []Rule{r}
	}
	cases := []struct {
		name  string
		rules []Rule
		want  string // in the error; empty: valid
	}{
		{"defaults", rule(func(*Rule) {}), ""},
		{"all set", rule(func(r *Rule) { r.Factor, r.Baseline, r.Floor, r.Clear = 4, 48*time.Hour, 0.01, 3 }), ""},
		{"threshold", rule(func(r *Rule) { r.Threshold = 0.05 }), "no fixed threshold"},
		{"factor 1", rule(func(r *Rule) { r.Factor = 1 }), "factor 1 must be above 1"},
		{"baseline 90m", rule(func(r *Rule) { r.Baseline = 90 * time.Minute }), "whole number of hours"},
		{"baseline 1h", rule(func(r *Rule) { r.Baseline = time.Hour }), "at least 2h"},
		{"floor 1", rule(func(r *Rule) { r.Floor = 1 }), "floor 1 is not a rate"},
		{"clear above factor", rule(func(r *Rule) { r.Clear = 3.5 }), "clear 3.5 must lie between 0 and the factor 3"},
		{"soft on ip", rule(func(r *Rule) { r.Scopes = []string{"ip"} }), "use block_baseline_spike for ip"},
		{"block on domain", rule(func(r *Rule) { r.Metric = BlockBaselineSpike }), "use scope ip"},
		{"block on ip", rule(func(r *Rule) { r.Metric, r.Scopes = BlockBaselineSpike, []string{"ip"} }), ""},
		{"factor on a threshold rule", []Rule{{Name: "b", Metric: BounceRate, Scopes: []string{"domain"}, Threshold: 0.02, Factor: 3, Severity: "warning"}}, "metric bounce_rate uses threshold"},
	}
	for _, c := range cases {
		err := Validate(c.rules)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// baselineRules are the default rules of one baseline metric.
func baselineRules(t *testing.T, metric string) []Rule {
	t.Helper()
	var out []Rule
	for _, r := range DefaultRules() {
		if r.Metric == metric {
			out = append(out, r)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d default %s rules, want 1", len(out), metric)
	}
	return out
}
