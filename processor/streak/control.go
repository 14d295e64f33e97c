package streak

import (
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Op is an operator's command on one address.
type Op string

// Operator commands (SPEC §5, `bounced suppress lift|add`).
const (
	OpLift     Op = "lift"     // remove the suppression and reset the state
	OpSuppress Op = "suppress" // suppress the address by hand
)

// Domain commands of the incident guard (SPEC §5). They are written to
// every partition of the attempts topic, so each owner applies them in
// order with its own events; Domain names the recipient domain.
const (
	OpHold    Op = "hold"    // hold the domain's new suppressions
	OpRelease Op = "release" // enforce the held suppressions and end the hold
	OpDiscard Op = "discard" // drop the held suppressions and end the hold
)

// Control is an operator command. It travels through the attempts topic,
// keyed like the address's events, so it is applied in order with them by
// whichever member owns the address.
type Control struct {
	Op      Op        `json:"op"`
	Address string    `json:"address,omitempty"`
	Domain  string    `json:"domain,omitempty"`
	Rule    string    `json:"rule,omitempty"` // hold: the rule whose verdicts triggered it
	Reason  string    `json:"reason,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
}

// ApplyControl folds an operator command into s, with the same replay guard
// as Apply.
func ApplyControl(s State, c Control, off int64) (State, Result, error) {
	if off >= 0 && off <= s.LastOff {
		return s, Result{Replay: true}, nil
	}
	switch c.Op {
	case OpLift:
		// A lift is a tombstone plus a full reset: the address starts over.
		return State{LastOff: off}, Result{Publish: true}, nil
	case OpSuppress:
		s.LastOff = off
		reason := c.Reason
		if reason == "" {
			reason = "Suppressed by an operator."
		}
		if c.By != "" {
			reason = fmt.Sprintf("%s (by %s)", reason, c.By)
		}
		rec := &event.Suppression{
			Address: c.Address, Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator",
			Reason: reason, Rule: "operator." + string(c.Op), Since: c.At, UpdatedAt: c.At,
			Evidence: []event.Evidence{}, Source: event.OriginOperator,
		}
		s.Mark, s.Streak = markOf(rec), nil
		return s, Result{Publish: true, Record: rec}, nil
	}
	return s, Result{}, fmt.Errorf("unknown control op %q", c.Op)
}
