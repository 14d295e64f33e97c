// Package streak is the per-recipient decision core of docs/suppressions.md as a pure fold:
// Apply(policy, state, event, offset) returns the next state and, when the
// address's suppression changes, the record to publish. It reads no clock and
// no Kafka or ClickHouse client, so windows, streaks, duplicates and replays
// are table-tested and fuzzed in isolation.
package streak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Action is what a verdict's label does to the recipient's state.
type Action string

// The actions of docs/suppressions.md.
const (
	Suppress Action = "suppress" // suppress at the first event
	Count    Action = "streak"   // a failed send counts toward the soft streak
	Ignore   Action = "ignore"   // no effect on the recipient
)

// Policy holds the streak rules. The zero value means the defaults of docs/suppressions.md.
type Policy struct {
	// SoftThreshold consecutive failed sends suppress the address. Default 3.
	SoftThreshold int `koanf:"soft_threshold"`
	// SoftWindow bounds the streak: sends whose first failure lies further
	// back than this from the newest one drop out. Default 14 days.
	SoftWindow time.Duration `koanf:"soft_window"`
	// Labels overrides the action per label, e.g. {"greylisted": "streak"}.
	Labels map[string]Action `koanf:"labels"`
	// Evidence is how many events a suppression record keeps. Default 5.
	Evidence int `koanf:"evidence"`
	// DuplicateWindow is how long the duplicate guard remembers a
	// recipient's event ids, counted back from the newest attempt's
	// occurred_at, to the hour: an attempt re-sent with an id seen within
	// it is a duplicate and changes nothing. At most 32 ids per recipient
	// are kept, the oldest dropped first. Default 7 days.
	DuplicateWindow time.Duration `koanf:"duplicate_window"`
	// Expire ends a suppression by itself, per label, this long after the
	// event that made it (policy.expire.<label>): the record carries
	// expires_at, and at that time the partition's owner writes an expire
	// command that turns it into a tombstone and resets the address, as a
	// lift does. Off for every label by default. Hard and complaint labels
	// may expire too, though a bad mailbox rarely comes back; the
	// recommended setting is mailbox_full: 90d (a full mailbox is often
	// emptied, or abandoned and later deleted, which a new hard bounce
	// then shows).
	Expire map[event.Label]time.Duration `koanf:"expire"`
}

// Defaults of Policy.
const (
	DefaultSoftThreshold = 3
	DefaultSoftWindow    = 14 * 24 * time.Hour
	DefaultEvidence      = 5
	// DefaultDuplicateWindow covers shippers re-sending a backlog after an
	// outage of days; the guard's memory for a recipient grows with the
	// attempts in it, 8 bytes each.
	DefaultDuplicateWindow = 7 * 24 * time.Hour
	// MaxDuplicateWindow: beyond a year the 32-id bound decides anyway.
	MaxDuplicateWindow = 365 * 24 * time.Hour
	// MinExpire and MaxExpire bound Policy.Expire: an expiry shorter than
	// an hour would undo a suppression before the next campaign could
	// heed it; one beyond ten years is "never", which is the default.
	MinExpire = time.Hour
	MaxExpire = 10 * 365 * 24 * time.Hour
)

// WithDefaults returns p with every unset field at its default.
func (p Policy) WithDefaults() Policy {
	if p.SoftThreshold == 0 {
		p.SoftThreshold = DefaultSoftThreshold
	}
	if p.SoftWindow == 0 {
		p.SoftWindow = DefaultSoftWindow
	}
	if p.Evidence == 0 {
		p.Evidence = DefaultEvidence
	}
	if p.DuplicateWindow == 0 {
		p.DuplicateWindow = DefaultDuplicateWindow
	}
	return p
}

// duplicateHours is DuplicateWindow in whole hours, rounded up; a window
// Validate would refuse falls back to the default rather than disabling the
// guard.
func (p Policy) duplicateHours() uint32 {
	d := p.DuplicateWindow
	if d <= 0 || d > MaxDuplicateWindow {
		d = DefaultDuplicateWindow
	}
	return uint32((d + time.Hour - 1) / time.Hour)
}

// Validate names the first setting that cannot work.
func (p Policy) Validate() error {
	if p.SoftThreshold < 0 || p.SoftThreshold > 100 {
		return fmt.Errorf("policy.soft_threshold: %d is outside 1..100", p.SoftThreshold)
	}
	if p.SoftWindow < 0 || (p.SoftWindow > 0 && p.SoftWindow < time.Minute) {
		return fmt.Errorf("policy.soft_window: %s is too short; use at least 1m (default 336h, 14 days)", p.SoftWindow)
	}
	if p.DuplicateWindow < 0 || (p.DuplicateWindow > 0 && p.DuplicateWindow < time.Hour) || p.DuplicateWindow > MaxDuplicateWindow {
		return fmt.Errorf("policy.duplicate_window: %s is outside 1h..8760h (default 168h, 7 days)", p.DuplicateWindow)
	}
	if p.Evidence < 0 || p.Evidence > 50 {
		return fmt.Errorf("policy.evidence: %d is outside 1..50", p.Evidence)
	}
	for _, l := range slices.Sorted(maps.Keys(p.Expire)) {
		d := p.Expire[l]
		c, _, ok := l.Taxonomy()
		switch {
		case !ok:
			return fmt.Errorf("policy.expire.%s: unknown label; labels are %s", l, labelList())
		case c == event.ClassDelivered || c == event.ClassAutoReply:
			return fmt.Errorf("policy.expire.%s: a %s never suppresses, so it cannot expire", l, c)
		case d < MinExpire || d > MaxExpire:
			return fmt.Errorf("policy.expire.%s: %s is outside 1h..87600h (10 years); e.g. 90d, or leave it unset for never", l, d)
		}
	}
	for l, a := range p.Labels {
		if _, _, ok := event.Label(l).Taxonomy(); !ok {
			return fmt.Errorf("policy.labels.%s: unknown label; labels are %s", l, labelList())
		}
		switch a {
		case Suppress, Count, Ignore:
		default:
			return fmt.Errorf("policy.labels.%s: action %q is not one of suppress, streak, ignore", l, a)
		}
		if c, _, _ := event.Label(l).Taxonomy(); c == event.ClassDelivered {
			return fmt.Errorf("policy.labels.%s: deliveries always reset the streak; no action can be set", l)
		}
	}
	return nil
}

func labelList() string {
	var s []string
	for _, l := range event.Labels() {
		s = append(s, string(l))
	}
	return strings.Join(s, ", ")
}

// Action returns what a verdict does under p.
func (p Policy) Action(v event.Verdict) Action {
	if v.Local {
		// Our own MTA failed; the recipient is not to blame (docs/classification.md).
		return Ignore
	}
	if a, ok := p.Labels[string(v.Label)]; ok {
		return a
	}
	switch v.Label {
	case event.Greylisted, event.Suppressed:
		// Greylisting is a deliberate first-attempt deferral. An upstream
		// ESP's suppression is not new evidence about the address (docs/classification.md).
		return Ignore
	}
	switch v.Class {
	case event.ClassHard, event.ClassComplaint:
		return Suppress
	case event.ClassSoft:
		return Count
	}
	return Ignore
}

// expiry returns when a suppression made under label at the event time at
// ends by itself, zero when it never does.
func (p Policy) expiry(label event.Label, at time.Time) time.Time {
	d, ok := p.Expire[label]
	if !ok || d <= 0 {
		return time.Time{}
	}
	// UTC: a state that went through the changelog must publish
	// byte-identical records to one that did not.
	return at.Add(d).UTC()
}
