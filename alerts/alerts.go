// Package alerts turns bounce rates into alerts (docs/clickhouse.md): hard-rate,
// bounce-rate (warning and critical), complaint-rate (warning and critical)
// and block-spike rules per campaign, recipient domain and sending IP, with
// a minimum volume and hysteresis; and baseline rules (soft_spike,
// block_baseline_spike) that compare a subject's last hour with its own
// trailing baseline instead of a fixed threshold.
// An alert is emitted once when its rule starts to hold for a subject and
// once when it stops; the evaluator remembers what is firing in between.
package alerts

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Metrics an alert rule can watch.
const (
	HardRate   = "hard_rate"   // hard-bounced sends / ended sends
	BounceRate = "bounce_rate" // bounced sends / ended sends
	BlockRate  = "block_rate"  // attempts refused as block / attempts
	// ComplaintRate is spam reports / delivered sends: the complaint is
	// about a delivered message, so bounces are no part of its volume.
	ComplaintRate = "complaint_rate"
	// SoftSpike is a baseline metric: a campaign's or domain's soft-bounce
	// rate (soft bounces / ended sends) over the last hour, against Factor
	// times the same subject's rate over the Baseline before it.
	SoftSpike = "soft_spike"
	// BlockBaselineSpike is a baseline metric: a sending IP's block rate
	// (block refusals / attempts) over the last hour, against Factor times
	// the same IP's rate over the Baseline before it.
	BlockBaselineSpike = "block_baseline_spike"
)

// Defaults of the baseline rules' fields.
const (
	DefaultFactor   = 3.0
	DefaultBaseline = 7 * 24 * time.Hour
	// DefaultSoftFloor and DefaultBlockFloor are the lowest baseline rates
	// compared against: a subject that never soft-bounces must not fire on
	// a 0.1% hour (0 → 0.1% is an infinite factor, and noise).
	DefaultSoftFloor  = 0.005
	DefaultBlockFloor = 0.01
)

// IsBaseline reports whether metric is judged against the subject's own
// baseline (Factor, Baseline, Floor) rather than a fixed Threshold.
func IsBaseline(metric string) bool { return metric == SoftSpike || metric == BlockBaselineSpike }

// Rule is one alert condition.
type Rule struct {
	// Name identifies the rule in alerts (with the scope and the subject).
	Name string `koanf:"name"`
	// Metric is HardRate, BounceRate, BlockRate, ComplaintRate, or one of
	// the baseline metrics SoftSpike (scopes campaign, domain) and
	// BlockBaselineSpike (scope ip).
	Metric string `koanf:"metric"`
	// Scopes are where the rule applies: campaign, domain, ip.
	Scopes []string `koanf:"scopes"`
	// Threshold fires the alert when the rate exceeds it. Baseline metrics
	// have no threshold: leave it 0.
	Threshold float64 `koanf:"threshold"`
	// Clear resolves a firing alert when the rate falls below it; it is the
	// hysteresis that keeps a rate hovering at the threshold from flapping.
	// Default 0.8 × Threshold. For baseline metrics it is a multiple of
	// the baseline, like Factor: default 0.8 × Factor.
	Clear float64 `koanf:"clear"`
	// MinVolume is the fewest sends (attempts for BlockRate and
	// BlockBaselineSpike, delivered sends for ComplaintRate) behind a rate
	// that may fire or resolve the alert. A baseline rule needs it in the
	// last hour and in the baseline too: no history, no baseline to spike
	// from (the fixed-threshold rules judge new subjects).
	MinVolume uint64 `koanf:"min_volume"`
	// Factor (baseline metrics) fires the alert when the last hour's rate
	// is more than Factor × the subject's baseline rate. Default 3.
	Factor float64 `koanf:"factor"`
	// Baseline (baseline metrics) is the span before the last hour whose
	// rate is the subject's normal, in whole hours (the rollups are
	// hourly). Default 7d.
	Baseline time.Duration `koanf:"baseline"`
	// Floor (baseline metrics) is the lowest baseline rate compared
	// against: the baseline is max(measured, Floor). Default 0.005 for
	// SoftSpike, 0.01 for BlockBaselineSpike.
	Floor float64 `koanf:"floor"`
	// Severity is warning or critical.
	Severity string `koanf:"severity"`
}

// DefaultRules are docs/clickhouse.md's: hard rate over 1%, total bounce rate over 2%
// (warning) and 5% (critical) per campaign and domain, complaint rate over
// 0.1% (warning) and 0.3% (critical) per campaign and domain, and block
// spikes per domain and sending IP; and the baseline warnings: a soft-bounce
// rate per campaign and domain, and a block rate per sending IP, more than 3×
// their own 7-day baseline over the last hour, on 200 sends (attempts).
//
// The complaint rules need 1000 delivered sends: at 0.1% a smaller volume
// fires on one or two reports (one in 500 is 0.2%), which is noise, while
// 1000 delivered sends put the warning at two reports and the critical at
// four. Mailbox providers judge complaint rates on daily volumes of this
// order (Gmail's 0.1% and 0.3% sender guidelines are the thresholds).
func DefaultRules() []Rule {
	return []Rule{
		{Name: "hard_rate", Metric: HardRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.01, MinVolume: 500, Severity: "warning"},
		{Name: "bounce_rate_warning", Metric: BounceRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.02, MinVolume: 500, Severity: "warning"},
		{Name: "bounce_rate_critical", Metric: BounceRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.05, MinVolume: 500, Severity: "critical"},
		{Name: "block_spike", Metric: BlockRate, Scopes: []string{"domain", "ip"}, Threshold: 0.10, MinVolume: 200, Severity: "warning"},
		{Name: "complaint_rate_warning", Metric: ComplaintRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.001, MinVolume: 1000, Severity: "warning"},
		{Name: "complaint_rate_critical", Metric: ComplaintRate, Scopes: []string{"campaign", "domain"}, Threshold: 0.003, MinVolume: 1000, Severity: "critical"},
		{Name: "soft_spike", Metric: SoftSpike, Scopes: []string{"campaign", "domain"}, Factor: DefaultFactor, Baseline: DefaultBaseline, Floor: DefaultSoftFloor, MinVolume: 200, Severity: "warning"},
		{Name: "block_baseline_spike", Metric: BlockBaselineSpike, Scopes: []string{"ip"}, Factor: DefaultFactor, Baseline: DefaultBaseline, Floor: DefaultBlockFloor, MinVolume: 200, Severity: "warning"},
	}
}

// WithDefaults fills the fields left 0: Clear, and for baseline metrics
// Factor, Baseline and Floor.
func (r Rule) WithDefaults() Rule {
	if IsBaseline(r.Metric) {
		if r.Factor == 0 {
			r.Factor = DefaultFactor
		}
		if r.Baseline == 0 {
			r.Baseline = DefaultBaseline
		}
		if r.Floor == 0 {
			r.Floor = DefaultSoftFloor
			if r.Metric == BlockBaselineSpike {
				r.Floor = DefaultBlockFloor
			}
		}
		if r.Clear == 0 {
			r.Clear = 0.8 * r.Factor
		}
		return r
	}
	if r.Clear == 0 {
		r.Clear = 0.8 * r.Threshold
	}
	return r
}

// Validate names the first rule that cannot work.
func Validate(rules []Rule) error {
	seen := map[string]bool{}
	for i, r := range rules {
		where := fmt.Sprintf("alerts.rules[%d] (%s)", i, r.Name)
		switch {
		case r.Name == "":
			return fmt.Errorf("alerts.rules[%d]: name is empty", i)
		case seen[r.Name]:
			return fmt.Errorf("%s: name used twice", where)
		case r.Metric != HardRate && r.Metric != BounceRate && r.Metric != BlockRate && r.Metric != ComplaintRate && !IsBaseline(r.Metric):
			return fmt.Errorf("%s: metric %q is not one of %s, %s, %s, %s, %s, %s", where, r.Metric, HardRate, BounceRate, BlockRate, ComplaintRate, SoftSpike, BlockBaselineSpike)
		case r.Severity != "warning" && r.Severity != "critical":
			return fmt.Errorf("%s: severity %q is not warning or critical", where, r.Severity)
		case len(r.Scopes) == 0:
			return fmt.Errorf("%s: no scopes", where)
		case IsBaseline(r.Metric):
			if err := validateBaseline(r); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		case r.Factor != 0 || r.Baseline != 0 || r.Floor != 0:
			return fmt.Errorf("%s: factor, baseline and floor belong to the baseline metrics %s and %s; metric %s uses threshold", where, SoftSpike, BlockBaselineSpike, r.Metric)
		case r.Threshold <= 0 || r.Threshold >= 1:
			return fmt.Errorf("%s: threshold %v is not a rate in (0, 1)", where, r.Threshold)
		case r.Clear < 0 || r.Clear > r.Threshold:
			return fmt.Errorf("%s: clear %v must lie between 0 and the threshold %v", where, r.Clear, r.Threshold)
		}
		for _, s := range r.Scopes {
			switch {
			case s != "campaign" && s != "domain" && s != "ip":
				return fmt.Errorf("%s: scope %q is not campaign, domain or ip", where, s)
			case r.Metric == SoftSpike && s == "ip":
				return fmt.Errorf("%s: scope ip has attempt counts only; metric %s takes scopes campaign and domain (use %s for ip)", where, SoftSpike, BlockBaselineSpike)
			case r.Metric == BlockBaselineSpike && s != "ip":
				return fmt.Errorf("%s: scope %s: metric %s is measured per sending IP only; use scope ip", where, s, BlockBaselineSpike)
			case s == "ip" && r.Metric != BlockRate && r.Metric != BlockBaselineSpike:
				return fmt.Errorf("%s: scope ip has attempt counts only; use metric %s", where, BlockRate)
			}
		}
		seen[r.Name] = true
	}
	return nil
}

// validateBaseline checks a baseline rule's own fields (0 means the default).
func validateBaseline(r Rule) error {
	switch {
	case r.Threshold != 0:
		return fmt.Errorf("threshold %v: metric %s has no fixed threshold; set factor (a multiple of the subject's baseline) instead", r.Threshold, r.Metric)
	case r.Factor != 0 && r.Factor <= 1:
		return fmt.Errorf("factor %v must be above 1 (a multiple of the baseline rate)", r.Factor)
	case r.Baseline < 0 || (r.Baseline != 0 && (r.Baseline < 2*time.Hour || r.Baseline%time.Hour != 0)):
		return fmt.Errorf("baseline %s must be a whole number of hours, at least 2h (the rollups are hourly)", r.Baseline)
	case r.Floor < 0 || r.Floor >= 1:
		return fmt.Errorf("floor %v is not a rate in [0, 1)", r.Floor)
	}
	d := r.WithDefaults()
	if d.Clear < 0 || d.Clear > d.Factor {
		return fmt.Errorf("clear %v must lie between 0 and the factor %v (both multiples of the baseline)", d.Clear, d.Factor)
	}
	return nil
}

// Counts are one subject's numbers over the evaluation window.
type Counts struct {
	Scope, Subject string
	// Send counts (campaign and domain): ended sends by final state.
	Delivered, Bounced, Hard uint64
	// Complaints (campaign and domain) are spam reports about messages
	// sent in the window; never part of the send counts.
	Complaints uint64
	// Attempt counts (domain and ip): attempts, and those refused as block.
	Attempts, Block uint64
}

func (c Counts) value(metric string) (rate float64, volume uint64) {
	switch metric {
	case BlockRate:
		if c.Attempts == 0 {
			return 0, 0
		}
		return float64(c.Block) / float64(c.Attempts), c.Attempts
	case ComplaintRate:
		if c.Delivered == 0 {
			return 0, 0
		}
		return float64(c.Complaints) / float64(c.Delivered), c.Delivered
	}
	sends := c.Delivered + c.Bounced
	if sends == 0 {
		return 0, 0
	}
	n := c.Bounced
	if metric == HardRate {
		n = c.Hard
	}
	return float64(n) / float64(sends), sends
}

// Trend is one subject's last hour against its own baseline: what the
// baseline rules judge.
type Trend struct {
	Scope, Subject string
	// Baseline is the span Base covers, ending where Hour begins; a rule
	// judges the trends measured over its own Baseline.
	Baseline time.Duration
	// Hour is the last hour, Base the baseline before it.
	Hour, Base Tally
}

// Tally is the counts behind a baseline rate.
type Tally struct {
	// Sends and Soft (campaign and domain): ended sends, and the soft
	// bounces among them.
	Sends, Soft uint64
	// Attempts and Block (ip): attempts, and the block refusals among them.
	Attempts, Block uint64
}

func (t Tally) value(metric string) (rate float64, volume uint64) {
	n, of := t.Soft, t.Sends
	if metric == BlockBaselineSpike {
		n, of = t.Block, t.Attempts
	}
	if of == 0 {
		return 0, 0
	}
	return float64(n) / float64(of), of
}

// Evaluator holds the rules and what is firing.
type Evaluator struct {
	rules  []Rule
	firing map[string]event.Alert
}

// New returns an evaluator with nothing firing.
func New(rules []Rule) *Evaluator {
	rs := make([]Rule, len(rules))
	for i, r := range rules {
		rs[i] = r.WithDefaults()
	}
	return &Evaluator{rules: rs, firing: map[string]event.Alert{}}
}

// Restore sets what is firing from earlier alerts, oldest first (the alerts
// topic read back by a member that takes over the evaluation).
func (e *Evaluator) Restore(history []event.Alert) {
	for _, a := range history {
		if a.Rule == "incident_guard" {
			continue // the guard's alerts are the stage-2 owners' business
		}
		if a.State == event.AlertFiring {
			e.firing[a.Key()] = a
		} else {
			delete(e.firing, a.Key())
		}
	}
}

// Firing returns the alerts firing now, in key order.
func (e *Evaluator) Firing() []event.Alert {
	out := make([]event.Alert, 0, len(e.firing))
	for _, a := range e.firing {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Baselines returns the distinct Baseline spans of the baseline rules: the
// trends to measure for an evaluation.
func (e *Evaluator) Baselines() []time.Duration {
	var out []time.Duration
	for _, r := range e.rules {
		if IsBaseline(r.Metric) && !slices.Contains(out, r.Baseline) {
			out = append(out, r.Baseline)
		}
	}
	return out
}

// Evaluate applies the threshold rules to counts measured over window at
// now, and returns the alerts whose state changed, in a stable order. A
// firing alert whose subject has no counts at all any more resolves: its
// traffic ended. The baseline rules are left as they are: see EvaluateAll.
func (e *Evaluator) Evaluate(now time.Time, window time.Duration, counts []Counts) []event.Alert {
	return e.evaluate(now, window, counts, nil, false)
}

// EvaluateAll is Evaluate with the baseline rules too, applied to trends
// (measured over each rule's Baseline, see Baselines). A firing baseline
// alert whose subject has no trend any more resolves likewise.
func (e *Evaluator) EvaluateAll(now time.Time, window time.Duration, counts []Counts, trends []Trend) []event.Alert {
	return e.evaluate(now, window, counts, trends, true)
}

func (e *Evaluator) evaluate(now time.Time, window time.Duration, counts []Counts, trends []Trend, withTrends bool) []event.Alert {
	var out []event.Alert
	seen := map[string]bool{}
	baseline := map[string]bool{} // the baseline rules, by name
	for _, r := range e.rules {
		if IsBaseline(r.Metric) {
			baseline[r.Name] = true
			if withTrends {
				out = append(out, e.judgeTrends(now, r, trends, seen)...)
			}
			continue
		}
		for _, c := range counts {
			if !contains(r.Scopes, c.Scope) {
				continue
			}
			rate, vol := c.value(r.Metric)
			a := event.Alert{At: now.UTC(), Rule: r.Name, Scope: c.Scope, Subject: c.Subject, Severity: r.Severity,
				Value: rate, Threshold: r.Threshold, Volume: vol, Window: window.String()}
			key := a.Key()
			if vol > 0 {
				seen[key] = true
			}
			_, on := e.firing[key]
			switch {
			case !on && vol >= r.MinVolume && rate > r.Threshold:
				a.State = event.AlertFiring
				a.Message = fmt.Sprintf("%s of %s %s is %.2f%% over the last %s (%d %s), above %.2f%%.",
					describe(r.Metric), c.Scope, c.Subject, 100*rate, window, vol, unit(r.Metric), 100*r.Threshold)
				e.firing[key] = a
				out = append(out, a)
			case on && vol >= r.MinVolume && rate < r.Clear:
				a.State = event.AlertResolved
				a.Message = fmt.Sprintf("%s of %s %s is back to %.2f%% over the last %s (%d %s), below %.2f%%.",
					describe(r.Metric), c.Scope, c.Subject, 100*rate, window, vol, unit(r.Metric), 100*r.Clear)
				delete(e.firing, key)
				out = append(out, a)
			}
		}
	}
	for key, a := range e.firing {
		if seen[key] || (!withTrends && baseline[a.Rule]) {
			continue
		}
		a.At, a.State, a.Volume = now.UTC(), event.AlertResolved, 0
		a.Message = fmt.Sprintf("%s %s had no traffic over the last %s; the alert is resolved.", a.Scope, a.Subject, a.Window)
		delete(e.firing, key)
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// judgeTrends applies one baseline rule to the trends measured over its
// Baseline, marking in seen the subjects with traffic in the last hour.
func (e *Evaluator) judgeTrends(now time.Time, r Rule, trends []Trend, seen map[string]bool) []event.Alert {
	var out []event.Alert
	for _, t := range trends {
		if t.Baseline != r.Baseline || !contains(r.Scopes, t.Scope) {
			continue
		}
		rate, vol := t.Hour.value(r.Metric)
		base, baseVol := t.Base.value(r.Metric)
		ref := max(base, r.Floor) // the floor keeps 0 → 0.1% from being a spike
		a := event.Alert{At: now.UTC(), Rule: r.Name, Scope: t.Scope, Subject: t.Subject, Severity: r.Severity,
			Value: rate, Threshold: r.Factor * ref, Volume: vol, Window: time.Hour.String()}
		key := a.Key()
		if vol > 0 {
			seen[key] = true
		}
		_, on := e.firing[key]
		switch {
		case !on && vol >= r.MinVolume && baseVol >= r.MinVolume && rate > r.Factor*ref:
			a.State = event.AlertFiring
			a.Message = fmt.Sprintf("%s of %s %s is %s over the last hour (%d %s), %.1f× %s.",
				describe(r.Metric), t.Scope, t.Subject, pct(rate), vol, unit(r.Metric), rate/ref, baselineText(r, base))
			e.firing[key] = a
			out = append(out, a)
		case on && vol >= r.MinVolume && rate < r.Clear*ref:
			a.State = event.AlertResolved
			a.Message = fmt.Sprintf("%s of %s %s is back to %s over the last hour (%d %s), %.1f× %s, below %.1f×.",
				describe(r.Metric), t.Scope, t.Subject, pct(rate), vol, unit(r.Metric), rate/ref, baselineText(r, base), r.Clear)
			delete(e.firing, key)
			out = append(out, a)
		}
	}
	return out
}

// baselineText names what a baseline rate was compared with: the subject's
// baseline, or the floor when the baseline lies under it.
func baselineText(r Rule, base float64) string {
	span := fmt.Sprintf("%d-hour", int(r.Baseline/time.Hour))
	if r.Baseline%(24*time.Hour) == 0 {
		span = fmt.Sprintf("%d-day", int(r.Baseline/(24*time.Hour)))
	}
	if base < r.Floor {
		return fmt.Sprintf("the floor of %s (its %s baseline is %s)", pct(r.Floor), span, pct(base))
	}
	return fmt.Sprintf("its %s baseline of %s", span, pct(base))
}

// pct prints a rate as a percentage with one decimal, two under 1% (a
// 0.25% baseline must not read as 0.3%).
func pct(rate float64) string {
	if rate < 0.01 {
		return fmt.Sprintf("%.2f%%", 100*rate)
	}
	return fmt.Sprintf("%.1f%%", 100*rate)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func describe(metric string) string {
	switch metric {
	case HardRate:
		return "The hard-bounce rate"
	case BlockRate:
		return "The block rate"
	case ComplaintRate:
		return "The complaint rate"
	case SoftSpike:
		return "The soft-bounce rate"
	case BlockBaselineSpike:
		return "The block rate"
	}
	return "The bounce rate"
}

func unit(metric string) string {
	switch metric {
	case BlockRate, BlockBaselineSpike:
		return "attempts"
	case ComplaintRate:
		return "delivered sends"
	}
	return "sends"
}
