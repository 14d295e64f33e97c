package streak

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

const day = 24 * time.Hour

// TestApplyExpiresAt: a suppression made under a label with an expiry
// carries expires_at = the event's time + the expiry, in its record and
// its mark; a new reason starts it afresh; without an expiry it has none.
func TestApplyExpiresAt(t *testing.T) {
	full := Policy{Expire: map[event.Label]time.Duration{event.MailboxFull: 90 * day}}
	both := Policy{Expire: map[event.Label]time.Duration{event.MailboxFull: 90 * day, event.MailboxUnknown: 365 * day}}
	streakOf := func(extra ...*event.Attempt) []*event.Attempt {
		return append([]*event.Attempt{
			ev("1", "m1", 0, event.Bounced, event.MailboxFull),
			ev("2", "m2", 24, event.Bounced, event.MailboxFull),
			ev("3", "m3", 48, event.Bounced, event.MailboxFull),
		}, extra...)
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		evs    []*event.Attempt
		want   time.Time // expires_at of the last record published
	}{
		{name: "no expiry by default", evs: streakOf()},
		{name: "a soft streak under an expiring label", policy: full, evs: streakOf(), want: t0.Add(48*time.Hour + 90*day)},
		{name: "a hard bounce under a label without one", policy: full,
			evs: []*event.Attempt{ev("1", "m1", 0, event.Bounced, event.MailboxUnknown)}},
		{name: "an upgrade to a label without an expiry drops it", policy: full,
			evs: streakOf(ev("4", "m4", 72, event.Bounced, event.MailboxUnknown))},
		{name: "an upgrade to a label with one starts it afresh", policy: both,
			evs: streakOf(ev("4", "m4", 72, event.Bounced, event.MailboxUnknown)), want: t0.Add(72*time.Hour + 365*day)},
		{name: "event time in another zone: expires_at in UTC", policy: full, evs: func() []*event.Attempt {
			evs := streakOf()
			evs[2].OccurredAt = evs[2].OccurredAt.In(time.FixedZone("CEST", 2*3600))
			return evs
		}(), want: t0.Add(48*time.Hour + 90*day)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			var last *event.Suppression
			for i, a := range tc.evs {
				var r Result
				s, r = Apply(tc.policy, s, a, int64(i))
				if r.Publish {
					last = r.Record
				}
			}
			if last == nil || s.Mark == nil {
				t.Fatal("not suppressed")
			}
			if !last.ExpiresAt.Equal(tc.want) || !s.Mark.ExpiresAt.Equal(tc.want) {
				t.Errorf("expires_at: record %v, mark %v, want %v", last.ExpiresAt, s.Mark.ExpiresAt, tc.want)
			}
			if !tc.want.IsZero() && last.ExpiresAt.Location() != time.UTC {
				t.Errorf("expires_at %v is not in UTC", last.ExpiresAt)
			}
		})
	}
}

// TestApplyControlExpire: an expire ends the suppression it names and
// nothing else.
func TestApplyControlExpire(t *testing.T) {
	const addr = "a@example.com"
	since := t0
	expires := t0.Add(90 * day)
	mark := func(status event.Status, src event.Origin, exp time.Time, held *event.Suppression) *Mark {
		return &Mark{Status: status, Class: event.ClassSoft, Label: event.MailboxFull, Source: src, Since: since, ExpiresAt: exp, Held: held}
	}
	state := func(m *Mark) State {
		return State{LastOff: 5, Seen: []Seen{42}, LastDelivery: 7, Sends: [recentSends]uint64{2}, Mark: m}
	}
	suppressed := state(mark(event.StatusSuppressed, event.OriginAuto, expires, nil))
	held := state(mark(event.StatusHeld, event.OriginAuto, expires, &event.Suppression{Address: addr, Status: event.StatusHeld, ExpiresAt: expires}))
	never := state(mark(event.StatusSuppressed, event.OriginAuto, time.Time{}, nil))
	byHand := state(&Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator", Source: event.OriginOperator, Since: since})
	fresh := state(nil)
	expire := func(at time.Time) Control {
		return Control{Op: OpExpire, Address: addr, Expires: at, At: at.Add(time.Minute)}
	}

	for _, tc := range []struct {
		name string
		s    State
		c    Control
		off  int64
		want State
		res  Result
		err  string
	}{
		{name: "due: a tombstone and a reset", s: suppressed, c: expire(expires), off: 9,
			want: State{LastOff: 9}, res: Result{Publish: true, Why: "expired after 90d: mailbox_full"}},
		{name: "the same instant in another zone", s: suppressed, c: expire(expires.In(time.FixedZone("CEST", 2*3600))), off: 9,
			want: State{LastOff: 9}, res: Result{Publish: true, Why: "expired after 90d: mailbox_full"}},
		{name: "not a whole number of days", s: state(mark(event.StatusSuppressed, event.OriginAuto, since.Add(36*time.Hour), nil)),
			c: expire(since.Add(36 * time.Hour)), off: 9,
			want: State{LastOff: 9}, res: Result{Publish: true, Why: "expired after 36h0m0s: mailbox_full"}},
		{name: "renewed since: another expires_at", s: suppressed, c: expire(expires.Add(-day)), off: 9, want: suppressed},
		{name: "held: the guard decides first", s: held, c: expire(expires), off: 9, want: held},
		{name: "no expiry on the record", s: never, c: expire(expires), off: 9, want: never},
		{name: "an operator's suppression", s: byHand, c: expire(expires), off: 9, want: byHand},
		{name: "lifted since", s: fresh, c: expire(expires), off: 9, want: fresh},
		{name: "an address never seen", s: New(), c: expire(expires), off: 9, want: New()},
		{name: "replayed", s: suppressed, c: expire(expires), off: 5, want: suppressed, res: Result{Replay: true}},
		{name: "without expires_at", s: suppressed, c: Control{Op: OpExpire, Address: addr}, off: 9, want: suppressed, err: "expire without expires_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, res, err := ApplyControl(tc.s, tc.c, tc.off)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("state\n got %+v\nwant %+v", got, tc.want)
			}
			if !reflect.DeepEqual(res, tc.res) {
				t.Errorf("result\n got %+v\nwant %+v", res, tc.res)
			}
		})
	}
}

// TestExpireThenStreakStartsOver: after an expiry the address is new; a
// later soft failure starts a streak of one, and the old events' ids are
// forgotten as after a lift.
func TestExpireThenStreakStartsOver(t *testing.T) {
	p := Policy{Expire: map[event.Label]time.Duration{event.MailboxFull: time.Hour}}
	s := New()
	var r Result
	for i, a := range []*event.Attempt{
		ev("1", "m1", 0, event.Bounced, event.MailboxFull),
		ev("2", "m2", 24, event.Bounced, event.MailboxFull),
		ev("3", "m3", 48, event.Bounced, event.MailboxFull),
	} {
		s, r = Apply(p, s, a, int64(i))
	}
	if !r.Publish || r.Record == nil || !r.Record.ExpiresAt.Equal(t0.Add(49*time.Hour)) {
		t.Fatalf("suppression %+v", r.Record)
	}
	s, r, err := ApplyControl(s, Control{Op: OpExpire, Address: "a@example.com", Expires: r.Record.ExpiresAt, At: t0.Add(50 * time.Hour)}, 3)
	if err != nil || !r.Publish || r.Record != nil || s.Mark != nil {
		t.Fatalf("expire: %+v %+v %v", s, r, err)
	}
	s, r = Apply(p, s, ev("4", "m4", 60, event.Bounced, event.MailboxFull), 4)
	if r.Publish || s.Mark != nil || len(s.Streak) != 1 {
		t.Fatalf("after the expiry: publish %v, mark %+v, streak %d; want a streak of 1", r.Publish, s.Mark, len(s.Streak))
	}
}

func TestPolicyValidateExpire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire map[event.Label]time.Duration
		want   string // "" for valid
	}{
		{"off", nil, ""},
		{"the recommended mailbox_full", map[event.Label]time.Duration{event.MailboxFull: 90 * day}, ""},
		{"hard and complaint labels may expire", map[event.Label]time.Duration{event.MailboxUnknown: 365 * day, event.LabelComplaint: 3 * 365 * day}, ""},
		{"bounds are inclusive", map[event.Label]time.Duration{event.MailboxFull: MinExpire, event.Unknown: MaxExpire}, ""},
		{"unknown label", map[event.Label]time.Duration{"mailbox_fool": 90 * day}, "policy.expire.mailbox_fool: unknown label"},
		{"operator suppressions never expire", map[event.Label]time.Duration{"operator": 90 * day}, "policy.expire.operator: unknown label"},
		{"deliveries never suppress", map[event.Label]time.Duration{event.LabelDelivered: 90 * day}, "policy.expire.delivered: a delivered never suppresses"},
		{"too short", map[event.Label]time.Duration{event.MailboxFull: 59 * time.Minute}, "policy.expire.mailbox_full: 59m0s is outside 1h..87600h"},
		{"zero", map[event.Label]time.Duration{event.MailboxFull: 0}, "policy.expire.mailbox_full: 0s is outside"},
		{"negative", map[event.Label]time.Duration{event.MailboxFull: -day}, "policy.expire.mailbox_full"},
		{"too long", map[event.Label]time.Duration{event.MailboxFull: MaxExpire + time.Hour}, "policy.expire.mailbox_full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Policy{Expire: tc.expire}.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
