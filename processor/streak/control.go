package streak

import (
	"errors"
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Op is a command on one address, or a domain command of the incident guard.
type Op string

// Operator commands on one address (docs/suppressions.md, `bounced suppress lift|add`).
const (
	OpLift     Op = "lift"     // remove the suppression and reset the state
	OpSuppress Op = "suppress" // suppress the address by hand
)

// OpExpire ends a suppression whose expires_at has come (Policy.Expire).
// The stage-2 owner of the address's partition writes it, keyed like the
// address's events, once its wall clock passes Control.Expires; the fold
// alone decides what it does: if the address is still suppressed with that
// very expires_at (not renewed, lifted or held since), a tombstone and a
// reset as for a lift; otherwise nothing. So a command written twice, or
// one overtaken by a new reason, is harmless.
const OpExpire Op = "expire"

// Commands of the incident guard (docs/suppressions.md). Each has two forms.
//
// With Domain set it is a domain command on the wire: written to every
// partition of the attempts topic, so each owner applies it in order with
// its own events; package guard applies it, ApplyControl refuses it.
//
// With Address set it is one step the guard takes on one recipient, which
// ApplyControl folds into the recipient's state; these never travel on the
// wire.
const (
	// OpHold: domain: hold the domain's new suppressions. Address: turn
	// the address's automatic suppression into a held one (Record).
	OpHold Op = "hold"
	// OpRelease: domain: enforce the held suppressions and end the hold.
	// Address: the held suppression becomes a suppression again.
	OpRelease Op = "release"
	// OpDiscard: domain: drop the held suppressions and end the hold.
	// Address: like OpLift, when the address's suppression is held.
	OpDiscard Op = "discard"
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
	// Expires is, for an expire command, the expires_at of the record it
	// ends.
	Expires time.Time `json:"expires_at,omitzero"`
	// Record is, for a hold of one address, the suppression record to hold:
	// the guard passes the record it holds. It is never on the wire.
	Record *event.Suppression `json:"-"`
}

// ApplyControl folds a command on one address into s, with the same replay
// guard as Apply.
//
// The guard's steps (hold, release, discard) take off < 0 to mean "part of
// the event just applied at its own offset": no replay check, and LastOff
// stays. Otherwise LastOff moves up to off. A step whose address is not in
// the state it needs (a hold of anything but an automatic suppression, a
// release or discard of anything not held) does nothing.
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
	case OpExpire:
		if c.Expires.IsZero() {
			return s, Result{}, errors.New("expire without expires_at: it must name the expiry it ends")
		}
		m := s.Mark
		if m == nil || m.Status != event.StatusSuppressed || m.ExpiresAt.IsZero() || !m.ExpiresAt.Equal(c.Expires) {
			// Stale: lifted, renewed with a new reason, held, or an
			// expire written twice. Nothing changes, not even LastOff.
			return s, Result{}, nil
		}
		why := fmt.Sprintf("expired after %s: %s", span(m.ExpiresAt.Sub(m.Since)), m.Label)
		// As a lift: a tombstone, and the address starts over.
		return State{LastOff: max(s.LastOff, off)}, Result{Publish: true, Why: why}, nil
	case OpHold, OpRelease, OpDiscard:
		if c.Address == "" {
			return s, Result{}, fmt.Errorf("%s without an address: a domain command is the incident guard's", c.Op)
		}
		s, res := guardStep(s, c, off)
		return s, res, nil
	}
	return s, Result{}, fmt.Errorf("unknown control op %q", c.Op)
}

// guardStep is ApplyControl for the incident guard's steps on one address.
func guardStep(s State, c Control, off int64) (State, Result) {
	m := s.Mark
	switch c.Op {
	case OpHold:
		if c.Record == nil || m == nil || m.Status != event.StatusSuppressed || m.Source != event.OriginAuto {
			return s, Result{}
		}
		rec := *c.Record
		rec.Status = event.StatusHeld
		held := rec
		mark := *m
		mark.Status, mark.Held = event.StatusHeld, &held
		s.Mark, s.LastOff = &mark, max(s.LastOff, off)
		return s, Result{Publish: true, Record: &rec}
	case OpRelease:
		if m == nil || m.Status != event.StatusHeld || m.Held == nil {
			return s, Result{}
		}
		rec := *m.Held
		rec.Status = event.StatusSuppressed
		rec.UpdatedAt = c.At.UTC()
		mark := *m
		mark.Status, mark.Held = event.StatusSuppressed, nil
		s.Mark, s.LastOff = &mark, max(s.LastOff, off)
		return s, Result{Publish: true, Record: &rec}
	default: // OpDiscard
		if m == nil || m.Status != event.StatusHeld || m.Held == nil {
			return s, Result{}
		}
		// As a lift: a tombstone, and the address starts over.
		return State{LastOff: max(s.LastOff, off)}, Result{Publish: true}
	}
}

// span writes a duration the way the policy's keys are written: whole days
// as "90d", anything else as Go does ("36h0m0s").
func span(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}
