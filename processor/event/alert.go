package event

import "time"

// Alert is one state change of an alert rule for one subject: the value of
// a record on the alerts topic (docs/clickhouse.md, schemas/alert.schema.json), keyed
// by Key(). A rule fires once when its condition starts to hold and
// resolves once when it stops; nothing is written in between.
type Alert struct {
	At        time.Time `json:"at"`
	Rule      string    `json:"rule"`    // hard_rate, bounce_rate, block_spike, incident_guard, ...
	Scope     string    `json:"scope"`   // campaign, domain or ip
	Subject   string    `json:"subject"` // the campaign id, recipient domain or sending IP
	Severity  string    `json:"severity"`
	State     string    `json:"state"`     // firing or resolved
	Value     float64   `json:"value"`     // the measured rate (or share, for the incident guard)
	Threshold float64   `json:"threshold"` // the rate it crossed
	Volume    uint64    `json:"volume"`    // sends (or attempts) behind the value
	Window    string    `json:"window"`    // the period measured, e.g. "24h"
	Message   string    `json:"message"`   // one human sentence
}

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Key identifies the alert's rule and subject: one alert per rule, scope
// and subject is firing or not at any time.
func (a *Alert) Key() string { return a.Rule + "|" + a.Scope + "|" + a.Subject }
