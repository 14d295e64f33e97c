package streak

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// ev builds an event: msg names the send, day/hour its time offset from t0.
func ev(id, msg string, hours float64, out event.Outcome, l event.Label) *event.Attempt {
	v := event.NewVerdict(l, "rule."+string(l))
	return &event.Attempt{
		EventID: id, MessageID: msg, RecipientNorm: "a@example.com", Outcome: out,
		OccurredAt: t0.Add(time.Duration(hours * float64(time.Hour))), Verdict: &v,
		SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1"}, CampaignID: "c1",
	}
}

func TestApply(t *testing.T) {
	const day = 24.0
	type step struct {
		a       *event.Attempt
		publish bool // a record must be published by this step
	}
	for _, tc := range []struct {
		name       string
		policy     Policy
		steps      []step
		suppressed bool
		label      event.Label
		streak     int // len(Streak) at the end
	}{
		{name: "hard suppresses at once",
			steps:      []step{{ev("1", "m1", 0, event.Bounced, event.MailboxUnknown), true}},
			suppressed: true, label: event.MailboxUnknown},
		{name: "complaint suppresses at once",
			steps:      []step{{ev("1", "m1", 0, event.Delivered, event.LabelComplaint), true}},
			suppressed: true, label: event.LabelComplaint},
		{name: "hard on a deferral still suppresses",
			steps:      []step{{ev("1", "m1", 0, event.Deferred, event.MailboxUnknown), true}},
			suppressed: true, label: event.MailboxUnknown},
		{name: "three failed sends suppress",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1*day, event.Expired, event.LabelExpired), false},
				{ev("3", "m3", 2*day, event.Bounced, event.MailboxFull), true},
			},
			suppressed: true, label: event.MailboxFull},
		{name: "retries of one send count once",
			steps: []step{
				{ev("1", "m1", 0, event.Deferred, event.MailboxFull), false},
				{ev("2", "m1", 1, event.Deferred, event.MailboxFull), false},
				{ev("3", "m1", 2, event.Deferred, event.MailboxFull), false},
				{ev("4", "m1", 30, event.Expired, event.LabelExpired), false},
				{ev("5", "m2", 2*day, event.Deferred, event.MailboxFull), false},
			},
			streak: 2},
		{name: "delivery resets the streak",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1*day, event.Bounced, event.MailboxFull), false},
				{ev("3", "m3", 2*day, event.Delivered, event.LabelDelivered), false},
				{ev("4", "m4", 3*day, event.Bounced, event.MailboxFull), false},
				{ev("5", "m5", 4*day, event.Bounced, event.MailboxFull), false},
			},
			streak: 2},
		{name: "a send delivered after deferrals withdraws its count",
			steps: []step{
				{ev("1", "m1", 0, event.Deferred, event.MailboxFull), false},
				{ev("2", "m1", 5, event.Delivered, event.LabelDelivered), false},
				{ev("3", "m2", 1*day, event.Bounced, event.MailboxFull), false},
			},
			streak: 1},
		{name: "a late failure older than a delivery does not count",
			steps: []step{
				{ev("1", "m2", 2*day, event.Delivered, event.LabelDelivered), false},
				{ev("2", "m1", 1*day, event.Bounced, event.MailboxFull), false},
			},
			streak: 0},
		{name: "a late delivery clears only older failures",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m3", 3*day, event.Bounced, event.MailboxFull), false},
				{ev("3", "m2", 1*day, event.Delivered, event.LabelDelivered), false},
			},
			streak: 1},
		{name: "failures spread beyond the window do not suppress",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 10*day, event.Bounced, event.MailboxFull), false},
				{ev("3", "m3", 20*day, event.Bounced, event.MailboxFull), false},
			},
			streak: 2},
		{name: "a longer window suppresses them",
			policy: Policy{SoftWindow: 30 * 24 * time.Hour},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 10*day, event.Bounced, event.MailboxFull), false},
				{ev("3", "m3", 20*day, event.Bounced, event.MailboxFull), true},
			},
			suppressed: true, label: event.MailboxFull},
		{name: "blocks never suppress and never reset",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1, event.Bounced, event.SenderBlocked), false},
				{ev("3", "m3", 2, event.Bounced, event.SenderBlocked), false},
				{ev("4", "m4", 3, event.Bounced, event.SenderBlocked), false},
				{ev("5", "m5", 4, event.Bounced, event.PolicyViolation), false},
			},
			streak: 1},
		{name: "greylisting is ignored by default",
			steps: []step{
				{ev("1", "m1", 0, event.Deferred, event.Greylisted), false},
				{ev("2", "m2", 1, event.Deferred, event.Greylisted), false},
				{ev("3", "m3", 2, event.Deferred, event.Greylisted), false},
			}},
		{name: "greylisting counts when the policy says so",
			policy: Policy{Labels: map[string]Action{"greylisted": Count}},
			steps: []step{
				{ev("1", "m1", 0, event.Deferred, event.Greylisted), false},
				{ev("2", "m2", 1, event.Deferred, event.Greylisted), false},
				{ev("3", "m3", 2, event.Deferred, event.Greylisted), true},
			},
			suppressed: true, label: event.Greylisted},
		{name: "upstream suppression is not new evidence",
			steps: []step{
				{ev("1", "m1", 0, event.Dropped, event.Suppressed), false},
				{ev("2", "m2", 1, event.Bounced, event.MailboxFull), false},
			},
			streak: 1},
		{name: "threshold one",
			policy:     Policy{SoftThreshold: 1},
			steps:      []step{{ev("1", "m1", 0, event.Deferred, event.MailboxFull), true}},
			suppressed: true, label: event.MailboxFull},
		{name: "suppression is sticky",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxUnknown), true},
				{ev("2", "m2", 1*day, event.Delivered, event.LabelDelivered), false},
				{ev("3", "m3", 2*day, event.Bounced, event.MailboxInactive), false},
			},
			suppressed: true, label: event.MailboxUnknown},
		{name: "a hard bounce upgrades a soft suppression",
			policy: Policy{SoftThreshold: 1},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), true},
				{ev("2", "m2", 1*day, event.Bounced, event.MailboxUnknown), true},
			},
			suppressed: true, label: event.MailboxUnknown},
		{name: "duplicate event ids have no effect",
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1*day, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1*day, event.Bounced, event.MailboxFull), false},
			},
			streak: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			for i, st := range tc.steps {
				var r Result
				s, r = Apply(tc.policy, s, st.a, int64(i))
				if r.Publish != st.publish {
					t.Fatalf("step %d: publish = %v, want %v", i, r.Publish, st.publish)
				}
			}
			if got := s.Mark != nil; got != tc.suppressed {
				t.Fatalf("suppressed = %v, want %v (streak %d)", got, tc.suppressed, len(s.Streak))
			}
			if tc.suppressed && s.Mark.Label != tc.label {
				t.Errorf("label = %s, want %s", s.Mark.Label, tc.label)
			}
			if !tc.suppressed && len(s.Streak) != tc.streak {
				t.Errorf("streak = %d, want %d", len(s.Streak), tc.streak)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	s := New()
	var r Result
	for i, a := range []*event.Attempt{
		ev("1", "m1", 0, event.Bounced, event.MailboxFull),
		ev("2", "m2", 24, event.Bounced, event.MailboxFull),
		ev("3", "m3", 48, event.Expired, event.LabelExpired),
	} {
		s, r = Apply(Policy{}, s, a, int64(i))
	}
	rec := r.Record
	if rec == nil {
		t.Fatal("no record")
	}
	if rec.Address != "a@example.com" || rec.Status != event.StatusSuppressed || rec.Class != event.ClassSoft ||
		rec.Rule != "rule.expired" || rec.SoftStreak != 3 || rec.Source != event.OriginAuto ||
		!rec.Since.Equal(t0.Add(48*time.Hour)) || len(rec.Evidence) != 3 || rec.Evidence[0].EventID != "1" {
		t.Errorf("record = %+v", rec)
	}
	if !strings.Contains(rec.Reason, "3 consecutive sends failed within 14 days") || !strings.Contains(rec.Reason, "rule.expired") {
		t.Errorf("reason = %q", rec.Reason)
	}
}

func TestReplayIsSkipped(t *testing.T) {
	s := New()
	s, _ = Apply(Policy{}, s, ev("1", "m1", 0, event.Bounced, event.MailboxFull), 10)
	s2, r := Apply(Policy{}, s, ev("x", "m2", 1, event.Bounced, event.MailboxFull), 10)
	if !r.Replay || len(s2.Streak) != 1 {
		t.Fatalf("offset 10 applied twice: %+v, streak %d", r, len(s2.Streak))
	}
	_, r = Apply(Policy{}, s, ev("x", "m2", 1, event.Bounced, event.MailboxFull), -1)
	if r.Replay {
		t.Fatal("off -1 must disable the replay guard")
	}
}

func TestControl(t *testing.T) {
	s := New()
	s, _ = Apply(Policy{}, s, ev("1", "m1", 0, event.Bounced, event.MailboxUnknown), 0)
	s, r, err := ApplyControl(s, Control{Op: OpLift, Address: "a@example.com", At: t0}, 1)
	if err != nil || !r.Publish || r.Record != nil || s.Mark != nil || s.LastOff != 1 {
		t.Fatalf("lift: %+v %+v %v", s, r, err)
	}
	s, r, err = ApplyControl(s, Control{Op: OpSuppress, Address: "a@example.com", By: "ops", At: t0}, 2)
	if err != nil || !r.Publish || r.Record.Source != event.OriginOperator || !strings.Contains(r.Record.Reason, "ops") {
		t.Fatalf("suppress: %+v %v", r, err)
	}
	if _, r, _ = ApplyControl(s, Control{Op: OpLift}, 2); !r.Replay {
		t.Fatal("control replay not skipped")
	}
	if _, _, err = ApplyControl(s, Control{Op: "explode"}, 3); err == nil {
		t.Fatal("unknown op accepted")
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p   Policy
		key string
	}{
		{Policy{SoftThreshold: -1}, "policy.soft_threshold"},
		{Policy{SoftWindow: time.Second}, "policy.soft_window"},
		{Policy{Labels: map[string]Action{"nonsense": Count}}, "policy.labels.nonsense"},
		{Policy{Labels: map[string]Action{"mailbox_full": "maybe"}}, "policy.labels.mailbox_full"},
		{Policy{Labels: map[string]Action{"delivered": Ignore}}, "policy.labels.delivered"},
	} {
		if err := tc.p.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.p, err, tc.key)
		}
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
}

// FuzzApply checks invariants over arbitrary sequences of events and
// commands on one address: the state never holds more failed sends than
// the threshold, an event publishes a record exactly when suppression
// starts or changes, replays never change anything, the incident guard's
// hold, release and discard do what they say, and a suppression never
// disappears except by a lift or a discard.
//
// Each step takes three bytes; a first byte of 224 or more makes the step
// a command (the second byte picks it, the third whether a guard step is
// part of the event just applied, off -1), otherwise an event.
func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0, 200, 13, 13, 13})
	f.Add([]byte{0, 0, 0, 224, 2, 0, 224, 3, 0, 0, 1, 4, 224, 2, 1, 224, 4, 0, 224, 1, 0, 224, 2, 0, 224, 0, 0})
	labels := event.Labels()
	outcomes := []event.Outcome{event.Delivered, event.Deferred, event.Bounced, event.Expired, event.Dropped}
	ops := []Op{OpLift, OpSuppress, OpHold, OpRelease, OpDiscard}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New()
		p := Policy{}.WithDefaults()
		var last *event.Suppression // the record last published
		for i := 0; i+2 < len(data); i += 3 {
			off := int64(i)
			before := s
			var r Result
			if data[i] >= 224 {
				op := ops[int(data[i+1])%len(ops)]
				c := Control{Op: op, Address: "a@example.com", At: t0.Add(time.Duration(data[i+2]) * time.Hour)}
				if op == OpHold {
					c.Record = last
					if c.Record == nil {
						c.Record = &event.Suppression{Address: c.Address, Status: event.StatusSuppressed, Source: event.OriginAuto}
					}
				}
				guardStep := op == OpHold || op == OpRelease || op == OpDiscard
				if guardStep && data[i+2]%2 == 1 {
					off = -1
				}
				var err error
				if s, r, err = ApplyControl(s, c, off); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				checkControl(t, before, s, c, off, r)
				if off >= 0 {
					// A guard step that did nothing leaves LastOff, so its
					// replay is not recognised as one; it does nothing again.
					s2, r2, err := ApplyControl(s, c, off)
					if err != nil || r2.Publish || (r.Publish && !r2.Replay) || !reflect.DeepEqual(s2, s) {
						t.Fatalf("%s replayed at %d: %+v, state changed: %v", op, off, r2, !reflect.DeepEqual(s2, s))
					}
				}
			} else {
				l := labels[int(data[i])%len(labels)]
				a := ev(fmt.Sprint(data[i+1]%8), fmt.Sprint(data[i+1]%5), float64(data[i+2])*6, outcomes[int(data[i])%len(outcomes)], l)
				s, r = Apply(p, s, a, off)
				if r.Publish != (s.Mark != before.Mark) {
					t.Fatalf("publish %v but record %p -> %p", r.Publish, before.Mark, s.Mark)
				}
				if before.Mark != nil && s.Mark == nil {
					t.Fatal("suppression lifted by an event")
				}
				s2, r2 := Apply(p, s, a, off)
				if !r2.Replay || !reflect.DeepEqual(s2, s) {
					t.Fatal("replay changed the state")
				}
			}
			if len(s.Streak) >= p.SoftThreshold {
				t.Fatalf("streak of %d not suppressed", len(s.Streak))
			}
			if s.Mark != nil && (s.Mark.Status == event.StatusHeld) != (s.Mark.Held != nil) {
				t.Fatalf("mark %+v: held status without the held record, or the reverse", s.Mark)
			}
			if r.Publish && r.Record != nil {
				last = r.Record
			}
		}
	})
}

// checkControl checks what one command on one address did to before.
func checkControl(t *testing.T, before, s State, c Control, off int64, r Result) {
	t.Helper()
	if before.Mark != nil && s.Mark == nil && c.Op != OpLift && c.Op != OpDiscard {
		t.Fatalf("%s removed a suppression", c.Op)
	}
	if r.Replay {
		t.Fatalf("%s at %d reported as a replay of %d", c.Op, off, before.LastOff)
	}
	switch {
	case off < 0 && s.LastOff != before.LastOff:
		t.Fatalf("%s as part of an event moved LastOff %d -> %d", c.Op, before.LastOff, s.LastOff)
	case off >= 0 && r.Publish && s.LastOff != off:
		t.Fatalf("%s at %d left LastOff at %d", c.Op, off, s.LastOff)
	}
	if !r.Publish && !reflect.DeepEqual(s, before) {
		t.Fatalf("%s published nothing but changed the state", c.Op)
	}
	was := before.Mark
	switch c.Op {
	case OpHold:
		canHold := was != nil && was.Status == event.StatusSuppressed && was.Source == event.OriginAuto
		if r.Publish != canHold {
			t.Fatalf("hold of %+v: publish %v", was, r.Publish)
		}
		if r.Publish && (s.Mark.Status != event.StatusHeld || r.Record.Status != event.StatusHeld ||
			!reflect.DeepEqual(s.Mark.Held, r.Record) || r.Record == c.Record) {
			t.Fatalf("hold: mark %+v, record %+v", s.Mark, r.Record)
		}
	case OpRelease:
		heldBefore := was != nil && was.Status == event.StatusHeld && was.Held != nil
		if r.Publish != heldBefore {
			t.Fatalf("release of %+v: publish %v", was, r.Publish)
		}
		if r.Publish {
			want := *was.Held
			want.Status, want.UpdatedAt = event.StatusSuppressed, c.At.UTC()
			if r.Record == nil || !reflect.DeepEqual(*r.Record, want) || s.Mark.Status != event.StatusSuppressed || s.Mark.Held != nil {
				t.Fatalf("release: mark %+v, record %+v, want %+v", s.Mark, r.Record, want)
			}
		}
	case OpDiscard:
		heldBefore := was != nil && was.Status == event.StatusHeld && was.Held != nil
		if r.Publish != heldBefore {
			t.Fatalf("discard of %+v: publish %v", was, r.Publish)
		}
		if r.Publish && (s.Mark != nil || r.Record != nil || len(s.Streak) != 0) {
			t.Fatalf("discard: mark %+v, record %+v", s.Mark, r.Record)
		}
	case OpLift:
		if !r.Publish || r.Record != nil || s.Mark != nil {
			t.Fatalf("lift: mark %+v, record %+v", s.Mark, r.Record)
		}
	case OpSuppress:
		if !r.Publish || s.Mark == nil || s.Mark.Source != event.OriginOperator {
			t.Fatalf("suppress: mark %+v", s.Mark)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	evs := []*event.Attempt{
		ev("1", "m1", 0, event.Deferred, event.MailboxFull),
		ev("2", "m1", 1, event.Delivered, event.LabelDelivered),
		ev("3", "m2", 30, event.Deferred, event.Greylisted),
		ev("4", "m2", 31, event.Delivered, event.LabelDelivered),
	}
	s := New()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		evs[i%4].EventID = fmt.Sprint(i % 64)
		s, _ = Apply(Policy{}, s, evs[i%4], int64(i))
		i++
	}
}

// TestSendCounts: a send is counted once when it ends, a late bounce moves
// it from delivered to bounced, and deferrals, repeats and out-of-order
// deliveries change nothing.
func TestSendCounts(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ev := func(id, msg string, o event.Outcome, label event.Label) *event.Attempt {
		at = at.Add(time.Minute)
		v := event.NewVerdict(label, "test")
		return &event.Attempt{EventID: id, MessageID: msg, RecipientNorm: "r@x.example", Outcome: o, OccurredAt: at, Verdict: &v}
	}
	steps := []struct {
		a    *event.Attempt
		want SendDelta
	}{
		{ev("1", "m1", event.Deferred, event.NetworkError), SendDelta{}},
		{ev("2", "m1", event.Deferred, event.NetworkError), SendDelta{}},
		{ev("3", "m1", event.Delivered, event.LabelDelivered), SendDelta{Delivered: 1}},
		{ev("4", "m1", event.Delivered, event.LabelDelivered), SendDelta{}},                        // a second delivery line
		{ev("5", "m1", event.Bounced, event.MailboxUnknown), SendDelta{Delivered: -1, Bounced: 1}}, // late bounce
		{ev("6", "m1", event.Bounced, event.MailboxUnknown), SendDelta{}},                          // and its copy
		{ev("7", "m2", event.Expired, event.LabelExpired), SendDelta{Bounced: 1}},
		{ev("8", "m2", event.Delivered, event.LabelDelivered), SendDelta{}}, // out of order
		{ev("9", "m3", event.Delivered, event.LabelComplaint), SendDelta{}}, // a complaint ends nothing
	}
	s := New()
	for i, st := range steps {
		var r Result
		s, r = Apply(Policy{}, s, st.a, int64(i))
		if r.Send != st.want {
			t.Errorf("step %d (%s %s): delta %+v, want %+v", i, st.a.Outcome, st.a.MessageID, r.Send, st.want)
		}
	}
}
