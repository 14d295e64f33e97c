package streak

import (
	"reflect"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// TestApplyControl: each command on one address, and the states in which
// the incident guard's steps do nothing.
func TestApplyControl(t *testing.T) {
	const addr = "a@example.com"
	since := t0.Add(-time.Hour)
	auto := &event.Suppression{Address: addr, Status: event.StatusSuppressed, Class: event.ClassHard, Label: event.MailboxUnknown,
		Reason: "Hard bounce.", Rule: "rule.mailbox_unknown", Since: since, UpdatedAt: since, Evidence: []event.Evidence{}, Source: event.OriginAuto}
	heldRec := *auto
	heldRec.Status = event.StatusHeld
	released := *auto
	released.UpdatedAt = t0

	mark := func(status event.Status, src event.Origin, held *event.Suppression) *Mark {
		return &Mark{Status: status, Class: event.ClassHard, Label: event.MailboxUnknown, Source: src, Since: since, Held: held}
	}
	// Every state has a recent id: a lift or discard must reset it.
	state := func(m *Mark) State { return State{LastOff: 5, Seen: []Seen{42}, Mark: m} }
	suppressed := state(mark(event.StatusSuppressed, event.OriginAuto, nil))
	byHand := state(mark(event.StatusSuppressed, event.OriginOperator, nil))
	held := state(mark(event.StatusHeld, event.OriginAuto, &heldRec))
	heldBare := state(mark(event.StatusHeld, event.OriginAuto, nil))
	fresh := state(nil)
	// At is in another zone: a release stamps UpdatedAt in UTC.
	at := t0.In(time.FixedZone("CEST", 2*3600))

	for _, tc := range []struct {
		name string
		s    State
		c    Control
		off  int64
		want State
		res  Result
		err  bool
	}{
		{name: "lift resets and publishes a tombstone", s: suppressed, c: Control{Op: OpLift, Address: addr}, off: 9,
			want: State{LastOff: 9}, res: Result{Publish: true}},
		{name: "suppress by hand", s: fresh, c: Control{Op: OpSuppress, Address: addr, At: t0}, off: 9,
			want: State{LastOff: 9, Seen: fresh.Seen, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator", Source: event.OriginOperator, Since: t0}},
			res: Result{Publish: true, Record: &event.Suppression{Address: addr, Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator",
				Reason: "Suppressed by an operator.", Rule: "operator.suppress", Since: t0, UpdatedAt: t0, Evidence: []event.Evidence{}, Source: event.OriginOperator}}},

		{name: "hold an automatic suppression", s: suppressed, c: Control{Op: OpHold, Address: addr, Record: auto, At: at}, off: 9,
			want: State{LastOff: 9, Seen: fresh.Seen, Mark: mark(event.StatusHeld, event.OriginAuto, &heldRec)},
			res:  Result{Publish: true, Record: &heldRec}},
		{name: "hold as part of the event just applied", s: suppressed, c: Control{Op: OpHold, Address: addr, Record: auto}, off: -1,
			want: State{LastOff: 5, Seen: fresh.Seen, Mark: mark(event.StatusHeld, event.OriginAuto, &heldRec)},
			res:  Result{Publish: true, Record: &heldRec}},
		{name: "hold without a record", s: suppressed, c: Control{Op: OpHold, Address: addr}, off: 9, want: suppressed},
		{name: "hold of a suppression by hand", s: byHand, c: Control{Op: OpHold, Address: addr, Record: auto}, off: 9, want: byHand},
		{name: "hold of a held suppression", s: held, c: Control{Op: OpHold, Address: addr, Record: auto}, off: 9, want: held},
		{name: "hold of an address not suppressed", s: fresh, c: Control{Op: OpHold, Address: addr, Record: auto}, off: 9, want: fresh},

		{name: "release a held suppression", s: held, c: Control{Op: OpRelease, Address: addr, At: at}, off: 9,
			want: State{LastOff: 9, Seen: fresh.Seen, Mark: mark(event.StatusSuppressed, event.OriginAuto, nil)},
			res:  Result{Publish: true, Record: &released}},
		{name: "release as part of the event just applied", s: held, c: Control{Op: OpRelease, Address: addr, At: at}, off: -1,
			want: State{LastOff: 5, Seen: fresh.Seen, Mark: mark(event.StatusSuppressed, event.OriginAuto, nil)},
			res:  Result{Publish: true, Record: &released}},
		{name: "release of a suppression not held", s: suppressed, c: Control{Op: OpRelease, Address: addr, At: at}, off: 9, want: suppressed},
		{name: "release of a held mark without its record", s: heldBare, c: Control{Op: OpRelease, Address: addr, At: at}, off: 9, want: heldBare},
		{name: "release of an address not suppressed", s: fresh, c: Control{Op: OpRelease, Address: addr, At: at}, off: 9, want: fresh},

		{name: "discard a held suppression", s: held, c: Control{Op: OpDiscard, Address: addr, At: at}, off: 9,
			want: State{LastOff: 9}, res: Result{Publish: true}},
		{name: "discard as part of the event just applied", s: held, c: Control{Op: OpDiscard, Address: addr, At: at}, off: -1,
			want: State{LastOff: 5}, res: Result{Publish: true}},
		{name: "discard of a suppression not held", s: suppressed, c: Control{Op: OpDiscard, Address: addr, At: at}, off: 9, want: suppressed},
		{name: "discard of an address not suppressed", s: fresh, c: Control{Op: OpDiscard, Address: addr, At: at}, off: 9, want: fresh},

		{name: "replayed hold", s: suppressed, c: Control{Op: OpHold, Address: addr, Record: auto}, off: 5, want: suppressed, res: Result{Replay: true}},
		{name: "replayed release", s: held, c: Control{Op: OpRelease, Address: addr}, off: 4, want: held, res: Result{Replay: true}},
		{name: "replayed discard", s: held, c: Control{Op: OpDiscard, Address: addr}, off: 5, want: held, res: Result{Replay: true}},
		{name: "a domain command is the guard's", s: suppressed, c: Control{Op: OpRelease, Domain: "example.com"}, off: 9, want: suppressed, err: true},
		{name: "unknown op", s: suppressed, c: Control{Op: "explode", Address: addr}, off: 9, want: suppressed, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec event.Suppression
			if tc.c.Record != nil {
				rec = *tc.c.Record
			}
			got, res, err := ApplyControl(tc.s, tc.c, tc.off)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want an error: %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("state\n got %+v\nwant %+v", got, tc.want)
			}
			if !reflect.DeepEqual(res, tc.res) {
				t.Errorf("result\n got %+v (record %+v)\nwant %+v (record %+v)", res, res.Record, tc.res, tc.res.Record)
			}
			if tc.c.Record != nil && !reflect.DeepEqual(*tc.c.Record, rec) {
				t.Error("the command's record was changed")
			}
		})
	}
	if heldRec.Status != event.StatusHeld || auto.Status != event.StatusSuppressed || held.Mark.Status != event.StatusHeld {
		t.Error("a test fixture was changed")
	}
}
