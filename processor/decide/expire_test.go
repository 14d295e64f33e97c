package decide_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

// TestFoldExpire: a suppression made under a label with an expiry carries
// expires_at; the expire command naming it becomes a tombstone with its
// reason and a reset state; a stale one changes nothing and writes no
// state; an expire sent as a domain command is refused.
func TestFoldExpire(t *testing.T) {
	const addr = "a@x.example"
	f := folder(0)
	f.Policy.Expire = map[event.Label]time.Duration{event.MailboxUnknown: time.Hour}
	expires := t0.Add(time.Hour)
	expire := func(off int64, at time.Time) decide.Record {
		return control(t, off, streak.Control{Op: streak.OpExpire, Address: addr, Expires: at, At: at.Add(time.Minute)})
	}
	type want struct {
		changes, states, dead, expired, stale int
		tombstone                             bool   // the last change is a tombstone
		why                                   string // of the last change
		expiresAt                             time.Time
	}
	for _, tc := range []struct {
		name string
		recs func(t *testing.T) []decide.Record
		want want
	}{
		{"the suppression carries expires_at", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, addr, event.Bounced, event.MailboxUnknown, 0)}
		}, want{changes: 1, states: 1, expiresAt: expires}},
		{"a label without an expiry has none", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, addr, event.Delivered, event.LabelComplaint, 0)}
		}, want{changes: 1, states: 1}},
		{"the due expire is a tombstone", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, addr, event.Bounced, event.MailboxUnknown, 0), expire(1, expires)}
		}, want{changes: 2, states: 1, expired: 1, tombstone: true, why: "expired after 1h0m0s: mailbox_unknown"}},
		{"an expire written twice: the second is stale", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, addr, event.Bounced, event.MailboxUnknown, 0), expire(1, expires), expire(2, expires)}
		}, want{changes: 2, states: 1, expired: 1, stale: 1, tombstone: true, why: "expired after 1h0m0s: mailbox_unknown"}},
		{"an expire of another expires_at is stale", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, addr, event.Bounced, event.MailboxUnknown, 0), expire(1, expires.Add(time.Second))}
		}, want{changes: 1, states: 1, stale: 1, expiresAt: expires}},
		{"an expire for an address never seen writes no state", func(t *testing.T) []decide.Record {
			return []decide.Record{expire(0, expires)}
		}, want{stale: 1}},
		{"an expire without expires_at is refused", func(t *testing.T) []decide.Record {
			return []decide.Record{control(t, 0, streak.Control{Op: streak.OpExpire, Address: addr})}
		}, want{dead: 1}},
		{"an expire naming a domain is refused", func(t *testing.T) []decide.Record {
			return []decide.Record{control(t, 0, streak.Control{Op: streak.OpExpire, Domain: "x.example", Expires: expires})}
		}, want{dead: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := f.Fold(statestore.NewPartition(), tc.recs(t))
			w := tc.want
			if len(out.Changes) != w.changes || len(out.States) != w.states || len(out.Dead) != w.dead ||
				out.Stats.Expired != w.expired || out.Stats.Stale != w.stale {
				t.Fatalf("changes %d states %d dead %d expired %d stale %d, want %+v (dead: %v)",
					len(out.Changes), len(out.States), len(out.Dead), out.Stats.Expired, out.Stats.Stale, w, out.Dead)
			}
			for _, d := range out.Dead {
				if !strings.Contains(d.Err.Error(), "expire") {
					t.Errorf("dead letter %v does not say what was wrong", d.Err)
				}
			}
			if w.changes == 0 {
				return
			}
			last := out.Changes[len(out.Changes)-1]
			if (last.Record == nil) != w.tombstone || last.Why != w.why {
				t.Fatalf("last change %+v, want tombstone %v why %q", last, w.tombstone, w.why)
			}
			if last.Record != nil && !last.Record.ExpiresAt.Equal(w.expiresAt) {
				t.Errorf("expires_at %v, want %v", last.Record.ExpiresAt, w.expiresAt)
			}
			if w.tombstone {
				if st := out.States[0].State; st.Mark != nil || len(st.Seen) != 0 {
					t.Errorf("state after the expiry %+v, want a reset", st)
				}
			}
		})
	}
}
