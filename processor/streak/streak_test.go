package streak

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
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

// noVerdict drops a's verdict, as an outside producer may.
func noVerdict(a *event.Attempt) *event.Attempt {
	a.Verdict = nil
	return a
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
		{name: "outcome complaint suppresses at once",
			steps:      []step{{ev("1", "m1", 0, event.Complaint, event.LabelComplaint), true}},
			suppressed: true, label: event.LabelComplaint},
		{name: "outcome complaint after the delivery of its message is not a duplicate",
			steps: []step{
				{ev("1", "m1", 0, event.Delivered, event.LabelDelivered), false},
				{ev("2", "m1", 2, event.Complaint, event.LabelComplaint), true},
			},
			suppressed: true, label: event.LabelComplaint},
		{name: "outcome complaint with a foreign bounce verdict is a complaint",
			steps:      []step{{ev("1", "m1", 0, event.Complaint, event.MailboxFull), true}},
			suppressed: true, label: event.LabelComplaint},
		{name: "outcome complaint with no verdict is a complaint",
			steps:      []step{{noVerdict(ev("1", "m1", 0, event.Complaint, event.LabelComplaint)), true}},
			suppressed: true, label: event.LabelComplaint},
		{name: "outcome complaint upgrades a soft suppression",
			policy: Policy{SoftThreshold: 1},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), true},
				{ev("2", "m1", 1, event.Complaint, event.LabelComplaint), true},
			},
			suppressed: true, label: event.LabelComplaint},
		{name: "outcome complaint never resets a soft streak",
			policy: Policy{Labels: map[string]Action{"complaint": Ignore}},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m2", 1*day, event.Bounced, event.MailboxFull), false},
				{ev("3", "m0", 1*day+1, event.Complaint, event.LabelComplaint), false},
				{ev("4", "m4", 2*day, event.Bounced, event.MailboxFull), true},
			},
			suppressed: true, label: event.MailboxFull},
		{name: "outcome complaint with a foreign delivered verdict never resets a soft streak",
			policy: Policy{Labels: map[string]Action{"complaint": Ignore}},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m1", 1, event.Complaint, event.LabelDelivered), false},
			},
			streak: 1},
		{name: "old-style complaint (outcome delivered) never resets a soft streak",
			policy: Policy{Labels: map[string]Action{"complaint": Ignore}},
			steps: []step{
				{ev("1", "m1", 0, event.Bounced, event.MailboxFull), false},
				{ev("2", "m0", 1, event.Delivered, event.LabelComplaint), false},
			},
			streak: 1},
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
		{Policy{DuplicateWindow: time.Minute}, "policy.duplicate_window"},
		{Policy{DuplicateWindow: -time.Hour}, "policy.duplicate_window"},
		{Policy{DuplicateWindow: 366 * 24 * time.Hour}, "policy.duplicate_window"},
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
// hold, release and discard do what they say, an expire ends exactly the
// suppression it names, and a suppression never disappears except by a
// lift, a discard or its expiry.
//
// Each step takes three bytes; a first byte of 224 or more makes the step
// a command (the second byte picks it, the third whether a guard step is
// part of the event just applied, off -1), otherwise an event.
func FuzzApply(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0, 200, 13, 13, 13})
	f.Add([]byte{0, 0, 0, 224, 2, 0, 224, 3, 0, 0, 1, 4, 224, 2, 1, 224, 4, 0, 224, 1, 0, 224, 2, 0, 224, 0, 0})
	labels := event.Labels()
	outcomes := []event.Outcome{event.Delivered, event.Deferred, event.Bounced, event.Expired, event.Dropped, event.Complaint}
	ops := []Op{OpLift, OpSuppress, OpHold, OpRelease, OpDiscard, OpExpire}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New()
		p := Policy{Expire: map[event.Label]time.Duration{event.MailboxFull: 90 * 24 * time.Hour, event.LabelComplaint: time.Hour}}.WithDefaults()
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
				if op == OpExpire {
					// Even third byte: the expiry the state holds (when it
					// has one); odd: another one, which must be stale.
					c.Expires = c.At
					if s.Mark != nil && !s.Mark.ExpiresAt.IsZero() && data[i+2]%2 == 0 {
						c.Expires = s.Mark.ExpiresAt
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
				if r.Publish && r.Record != nil {
					// An event's record expires exactly as the policy says,
					// counted from the event, and its mark agrees.
					if want := p.expiry(r.Record.Label, a.OccurredAt); !r.Record.ExpiresAt.Equal(want) || !s.Mark.ExpiresAt.Equal(want) {
						t.Fatalf("%s record expires %v, mark %v, want %v", r.Record.Label, r.Record.ExpiresAt, s.Mark.ExpiresAt, want)
					}
				}
				s2, r2 := Apply(p, s, a, off)
				if !r2.Replay || !reflect.DeepEqual(s2, s) {
					t.Fatal("replay changed the state")
				}
				checkSeenAfter(t, p, before, s, a, r)
				if a.Outcome == event.Complaint {
					// A spam report is never a send and never resets a streak.
					if r.Send != (SendDelta{}) || s.Sends != before.Sends {
						t.Fatalf("complaint changed the send counts: %+v", r.Send)
					}
					if s.Mark == nil && len(s.Streak) < len(before.Streak) {
						t.Fatalf("complaint shortened the streak from %d to %d", len(before.Streak), len(s.Streak))
					}
				}
				// The same event at a later offset (a shipper's re-send) is
				// a duplicate exactly when the guard remembers its id, and
				// then it moves nothing but LastOff.
				id := SeenOf(a.EventID, a.OccurredAt)
				s3, r3 := Apply(p, s, a, off+1)
				if r3.Duplicate != slices.ContainsFunc(s.Seen, id.same) {
					t.Fatalf("re-send of %s: duplicate %v, seen %v", a.EventID, r3.Duplicate, s.Seen)
				}
				if want := s; r3.Duplicate {
					want.LastOff = off + 1
					if !reflect.DeepEqual(s3, want) {
						t.Fatal("a duplicate changed the state")
					}
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

// checkSeenAfter checks the duplicate guard's list after Apply folded a
// into before: in time order, at most maxSeen, nothing older than the
// window, the new id remembered unless the window or the bound evicts it at
// once, and before's list untouched.
func checkSeenAfter(t *testing.T, p Policy, before, s State, a *event.Attempt, r Result) {
	t.Helper()
	if r.Replay {
		return
	}
	if err := checkSeen(s.Seen); err != nil {
		t.Fatalf("seen %v: %v", s.Seen, err)
	}
	if len(s.Seen) > 0 {
		newest, w := s.Seen[len(s.Seen)-1].hour(), p.duplicateHours()
		if s.Seen[0].hour()+w < newest {
			t.Fatalf("seen %v holds an id older than %d hours before the newest", s.Seen, w)
		}
	}
	id := SeenOf(a.EventID, a.OccurredAt)
	was := slices.ContainsFunc(before.Seen, id.same)
	if r.Duplicate != was {
		t.Fatalf("%s: duplicate %v, but seen before: %v", a.EventID, r.Duplicate, was)
	}
	if !r.Duplicate && !slices.ContainsFunc(s.Seen, id.same) {
		evicted := len(s.Seen) > 0 && (id.hour()+p.duplicateHours() < s.Seen[len(s.Seen)-1].hour() ||
			len(s.Seen) == maxSeen && id.hour() <= s.Seen[0].hour())
		if !evicted {
			t.Fatalf("%s at hour %d not remembered: %v", a.EventID, id.hour(), s.Seen)
		}
	}
}

// checkControl checks what one command on one address did to before.
func checkControl(t *testing.T, before, s State, c Control, off int64, r Result) {
	t.Helper()
	if before.Mark != nil && s.Mark == nil && c.Op != OpLift && c.Op != OpDiscard && c.Op != OpExpire {
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
	case OpExpire:
		due := was != nil && was.Status == event.StatusSuppressed && !was.ExpiresAt.IsZero() && was.ExpiresAt.Equal(c.Expires)
		if r.Publish != due {
			t.Fatalf("expire %v of %+v: publish %v", c.Expires, was, r.Publish)
		}
		if r.Publish && (!reflect.DeepEqual(s, State{LastOff: max(before.LastOff, off)}) || r.Record != nil || r.Why == "") {
			t.Fatalf("expire: state %+v, record %+v, why %q", s, r.Record, r.Why)
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
		// Outcome complaint: never a send, whatever its verdict, and the
		// delivery of its message stays counted (a later bounce moves it).
		{ev("10", "m4", event.Delivered, event.LabelDelivered), SendDelta{Delivered: 1}},
		{ev("11", "m4", event.Complaint, event.LabelComplaint), SendDelta{}},
		{ev("12", "m4", event.Complaint, event.LabelDelivered), SendDelta{}},
		{ev("13", "m4", event.Complaint, event.MailboxUnknown), SendDelta{}},
		{ev("14", "m4", event.Bounced, event.MailboxUnknown), SendDelta{Delivered: -1, Bounced: 1}},
		{ev("15", "m5", event.Complaint, event.LabelComplaint), SendDelta{}}, // a complaint about a send never seen
		{ev("16", "m5", event.Delivered, event.LabelDelivered), SendDelta{Delivered: 1}},
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

// TestDuplicateWindow: the guard remembers every id within the window of
// the newest attempt's time (to the hour), at most maxSeen of them, and an
// id it has forgotten is applied again.
func TestDuplicateWindow(t *testing.T) {
	const day = 24.0
	type step struct {
		id    string
		hours float64
		dup   bool
	}
	del := func(id string, hours float64) *event.Attempt {
		return ev(id, "m"+id, hours, event.Delivered, event.LabelDelivered)
	}
	var hot []step // 40 ids an hour apart: the first 8 fall off the bound
	for i := range 40 {
		hot = append(hot, step{fmt.Sprint("h", i), float64(i), false})
	}
	hot = append(hot, step{"h7", 7, false}, step{"h8", 8, true}, step{"h39", 39, true})
	for _, tc := range []struct {
		name   string
		policy Policy
		steps  []step
		seen   int // len(Seen) at the end
	}{
		{name: "a re-send older than the last three but within the window is a duplicate",
			steps: []step{{"1", 0, false}, {"2", 1, false}, {"3", 2, false}, {"4", 3, false}, {"5", 4, false}, {"1", 0, true}, {"2", 1, true}},
			seen:  5},
		{name: "a re-send outside the window is applied",
			steps: []step{{"1", 0, false}, {"2", 8 * day, false}, {"1", 0, false}},
			seen:  1},
		{name: "the window counts from the newest attempt, to the hour",
			steps: []step{{"1", 0.5, false}, {"2", 7 * day, false}, {"1", 0.5, true}, {"3", 7*day + 1, false}, {"1", 0.5, false}},
			seen:  2},
		{name: "an old event is applied and not remembered",
			steps: []step{{"2", 10 * day, false}, {"1", 1 * day, false}, {"1", 1 * day, false}},
			seen:  1},
		{name: "out of order within the window",
			steps: []step{{"2", 10, false}, {"1", 5, false}, {"3", 7, false}, {"1", 5, true}, {"2", 10, true}, {"3", 7, true}},
			seen:  3},
		{name: "a longer window remembers longer",
			policy: Policy{DuplicateWindow: 30 * 24 * time.Hour},
			steps:  []step{{"1", 0, false}, {"2", 20 * day, false}, {"1", 0, true}},
			seen:   2},
		{name: "a hot recipient keeps the newest 32",
			steps: hot, seen: maxSeen},
		{name: "events without an id are never duplicates",
			steps: []step{{"", 0, false}, {"", 0, false}},
			seen:  0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			for i, st := range tc.steps {
				before := s
				var r Result
				s, r = Apply(tc.policy, s, del(st.id, st.hours), int64(i))
				if r.Duplicate != st.dup {
					t.Fatalf("step %d (%s at %vh): duplicate %v, want %v; seen %v", i, st.id, st.hours, r.Duplicate, st.dup, before.Seen)
				}
				if r.Duplicate {
					before.LastOff = int64(i)
					if !reflect.DeepEqual(s, before) {
						t.Fatalf("step %d: a duplicate changed the state", i)
					}
				}
			}
			if len(s.Seen) != tc.seen {
				t.Errorf("seen %d ids, want %d: %v", len(s.Seen), tc.seen, s.Seen)
			}
		})
	}
}

// FuzzRemember: whatever order ids arrive in, the list stays in time
// order, within the bound and the window, and the list passed in is never
// changed.
func FuzzRemember(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 2, 200, 3, 0, 4, 255}, uint8(7))
	f.Add(bytes.Repeat([]byte{9, 1}, 50), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, days uint8) {
		window := uint32(max(1, int(days)%60)) * 24
		var list []Seen
		for i := 0; i+1 < len(data); i += 2 {
			id := SeenOf(fmt.Sprint(i, data[i]), t0.Add(time.Duration(data[i+1])*6*time.Hour))
			old := slices.Clone(list)
			next := remember(list, id, window)
			if !slices.Equal(list, old) {
				t.Fatal("remember changed the list it was given")
			}
			if err := checkSeen(next); err != nil || len(next) == 0 {
				t.Fatalf("%v: %v", next, err)
			}
			if newest := next[len(next)-1].hour(); next[0].hour()+window < newest {
				t.Fatalf("%v keeps an id more than %d hours older than the newest", next, window)
			}
			if want := min(len(list)+1, maxSeen); len(next) > want {
				t.Fatalf("%d ids from %d", len(next), len(list))
			}
			list = next
		}
	})
}
