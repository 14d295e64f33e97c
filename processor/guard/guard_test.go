package guard_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// table is a partition's recipients in a map.
type table map[string]streak.State

func (t table) Get(key string) (streak.State, bool) { s, ok := t[key]; return s, ok }
func (t table) Put(key string, s streak.State)      { t[key] = s }

// part folds a partition's records as stage 2 does: the streak fold, then
// the guard, and collects what would be published.
type part struct {
	policy   streak.Policy
	states   guard.States
	g        *guard.Guard
	pubs     []string // "address status", "address -" for a tombstone, in publish order
	records  map[string]*event.Suppression
	commands []string // reasons of the holds sent to every partition
	alerts   []string // "state: message"
	held     int      // the held-suppressions counter
	holds    int      // the holds counter (firing alerts)
	replays  int      // replayed domain commands
}

func newPart(cfg guard.Config, policy streak.Policy, alerts bool) *part {
	return &part{policy: policy, states: table{}, g: guard.New(cfg, nil, alerts), records: map[string]*event.Suppression{}}
}

// step is one record of the attempts partition: an attempt or a domain
// command at offset off.
type step struct {
	a   *event.Attempt
	c   *streak.Control
	off int64
}

func (p *part) apply(t *testing.T, s step) {
	t.Helper()
	if s.c != nil && s.c.Domain != "" {
		p.effects(p.g.Command(p.states, *s.c, s.off), nil)
		return
	}
	if s.c != nil {
		// An operator's command on one address.
		st, _ := p.states.Get(s.c.Address)
		st, res, err := streak.ApplyControl(st, *s.c, s.off)
		if err != nil {
			t.Fatal(err)
		}
		p.states.Put(s.c.Address, st)
		if res.Publish {
			p.publish(guard.Change{Key: s.c.Address, Record: res.Record})
		}
		return
	}
	key := s.a.RecipientNorm
	st, ok := p.states.Get(key)
	if !ok {
		st = streak.New()
	}
	st, res := streak.Apply(p.policy, st, s.a, s.off)
	if !res.Replay {
		p.states.Put(key, st)
	}
	e := p.g.Attempt(p.states, s.a, key, res, s.off)
	if res.Replay && !reflect.DeepEqual(e, guard.Effects{}) {
		t.Fatalf("replay at %d: guard effects %+v", s.off, e)
	}
	var own *guard.Change
	if res.Publish {
		own = &guard.Change{Key: key, Record: res.Record}
		if e.Record != nil {
			own.Record = e.Record
		}
	} else if e.Record != nil {
		t.Fatalf("guard replaced a record the attempt did not publish: %+v", e.Record)
	}
	p.effects(e, own)
}

func (p *part) effects(e guard.Effects, own *guard.Change) {
	if e.Replay {
		p.replays++
	}
	p.held += e.Held
	if e.Command != nil {
		p.commands = append(p.commands, e.Command.Reason)
	}
	if e.Alert != nil {
		p.alerts = append(p.alerts, e.Alert.State+": "+e.Alert.Message)
		if e.Alert.State == event.AlertFiring {
			p.holds++
		}
	}
	for _, c := range e.Changes {
		p.publish(c)
	}
	if own != nil {
		p.publish(*own)
	}
}

func (p *part) publish(c guard.Change) {
	if c.Record == nil {
		p.pubs = append(p.pubs, c.Key+" -")
		delete(p.records, c.Key)
		return
	}
	p.pubs = append(p.pubs, c.Key+" "+string(c.Record.Status))
	p.records[c.Key] = c.Record
}

func (p *part) holdsJSON(t *testing.T) string {
	t.Helper()
	b, err := p.g.Holds().Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// attempt is one attempt at min minutes after t0, applied at offset off.
func attempt(addr string, min float64, l event.Label, off int64) step {
	v := event.NewVerdict(l, "rule."+string(l))
	out := event.Bounced
	if l == event.LabelDelivered {
		out = event.Delivered
	}
	at := t0.Add(time.Duration(min * float64(time.Minute)))
	return step{off: off, a: &event.Attempt{
		EventID: fmt.Sprintf("%s/%d", addr, at.UnixNano()), MessageID: fmt.Sprintf("m%d", off), RecipientNorm: addr,
		Outcome: out, OccurredAt: at, Verdict: &v, SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1"},
	}}
}

func hard(addr string, min float64, off int64) step {
	return attempt(addr, min, event.MailboxUnknown, off)
}
func ok(addr string, min float64, off int64) step {
	return attempt(addr, min, event.LabelDelivered, off)
}

func command(op streak.Op, domain string, min float64, off int64) step {
	c := &streak.Control{Op: op, Domain: domain, At: t0.Add(time.Duration(min * float64(time.Minute))), By: "ops"}
	if op == streak.OpHold {
		c.Rule = "rule.mailbox_unknown"
		c.Reason = "20 of 21 attempts at " + domain + " in 15m0s were hard bounces from rule rule.mailbox_unknown"
	}
	return step{c: c, off: off}
}

// operator is an operator's command on one address.
func operator(op streak.Op, addr string, off int64) step {
	return step{c: &streak.Control{Op: op, Address: addr, At: t0, By: "ops"}, off: off}
}

const (
	reason3 = "3 of 3 attempts at x.example in 15m0s were hard bounces from rule rule.mailbox_unknown"
	firing3 = "firing: Suppressions for x.example are held: " + reason3 +
		". Decide with `bounced suppress release x.example` or `bounced suppress discard x.example`."
	firingCmd = "firing: Suppressions for x.example are held: 20 of 21 attempts at x.example in 15m0s were hard bounces from rule rule.mailbox_unknown" +
		". Decide with `bounced suppress release x.example` or `bounced suppress discard x.example`."
	holds3 = `{"off":-1,"domains":{"x.example":{"since":"2026-10-01T09:02:00Z","rule":"rule.mailbox_unknown","held":["c@x.example","a@x.example","b@x.example"]}}}`
	noHold = `{"off":-1,"domains":{}}`
)

func TestGuard(t *testing.T) {
	three := []step{hard("a@x.example", 0, 0), hard("b@x.example", 1, 1), hard("c@x.example", 2, 2)}
	for _, tc := range []struct {
		name     string
		cfg      guard.Config
		policy   streak.Policy
		alerts   bool
		steps    []step
		pubs     []string
		commands []string
		alerted  []string
		held     int
		replays  int
		holds    string
	}{
		{name: "below min_recipients nothing is held",
			steps: three[:2],
			pubs:  []string{"a@x.example suppressed", "b@x.example suppressed"},
			holds: noHold},
		{name: "at min_recipients and share the domain is held, with the window's earlier suppressions",
			alerts: true, steps: three,
			pubs:     []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held"},
			commands: []string{reason3}, alerted: []string{firing3}, held: 3, holds: holds3},
		{name: "only the alerting partition raises the alert",
			steps:    three,
			pubs:     []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held"},
			commands: []string{reason3}, held: 3, holds: holds3},
		{name: "a share below the threshold holds nothing",
			alerts: true,
			steps: append([]step{ok("d@x.example", 0, 10), ok("e@x.example", 0, 11), ok("f@x.example", 0, 12), ok("g@x.example", 0, 13)},
				hard("a@x.example", 1, 14), hard("b@x.example", 1, 15), hard("c@x.example", 1, 16)),
			pubs:  []string{"a@x.example suppressed", "b@x.example suppressed", "c@x.example suppressed"},
			holds: noHold},
		{name: "other domains and other rules count apart",
			steps: []step{hard("a@x.example", 0, 0), hard("b@x.example", 0, 1), hard("c@y.example", 0, 2),
				attempt("d@x.example", 0, event.DomainUnknown, 3)},
			pubs:  []string{"a@x.example suppressed", "b@x.example suppressed", "c@y.example suppressed", "d@x.example suppressed"},
			holds: noHold},
		{name: "a held domain holds even a soft-streak suppression",
			policy: streak.Policy{SoftThreshold: 1},
			steps: []step{command(streak.OpHold, "x.example", 0, 0), attempt("a@x.example", 1, event.MailboxFull, 1),
				attempt("b@y.example", 1, event.MailboxFull, 2)},
			pubs: []string{"a@x.example held", "b@y.example suppressed"}, held: 1,
			holds: `{"off":0,"domains":{"x.example":{"since":"2026-10-01T09:00:00Z","rule":"rule.mailbox_unknown","held":["a@x.example"]}}}`},
		{name: "a new window starts a fresh count",
			steps: []step{hard("a@x.example", 0, 0), hard("b@x.example", 14, 1), hard("c@x.example", 15, 2),
				hard("d@x.example", 16, 3), hard("e@x.example", 29.9, 4)},
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "c@x.example suppressed", "d@x.example suppressed",
				"c@x.example held", "d@x.example held", "e@x.example held"},
			commands: []string{reason3}, held: 3,
			holds: `{"off":-1,"domains":{"x.example":{"since":"2026-10-01T09:29:54Z","rule":"rule.mailbox_unknown","held":["e@x.example","c@x.example","d@x.example"]}}}`},
		{name: "disabled, the guard counts and holds nothing but still applies domain commands",
			cfg: guard.Config{Disabled: true, MinRecipients: 1}, alerts: true,
			steps: append([]step{command(streak.OpHold, "x.example", 0, 0)}, hard("a@x.example", 1, 1), hard("b@y.example", 1, 2)),
			pubs:  []string{"a@x.example suppressed", "b@y.example suppressed"}, alerted: []string{firingCmd},
			holds: `{"off":0,"domains":{"x.example":{"since":"2026-10-01T09:00:00Z","rule":"rule.mailbox_unknown","held":null}}}`},
		{name: "duplicates and replays are not counted",
			cfg: guard.Config{MinRecipients: 2, Share: 1},
			steps: []step{hard("a@x.example", 0, 0),
				{a: hard("a@x.example", 0, 0).a, off: 1}, // the same event again: a duplicate
				hard("a@x.example", 0, 0),                // offset 0 again: a replay
				hard("b@x.example", 1, 2)},
			pubs:     []string{"a@x.example suppressed", "a@x.example held", "b@x.example held"},
			commands: []string{"2 of 2 attempts at x.example in 15m0s were hard bounces from rule rule.mailbox_unknown"}, held: 2,
			holds: `{"off":-1,"domains":{"x.example":{"since":"2026-10-01T09:01:00Z","rule":"rule.mailbox_unknown","held":["b@x.example","a@x.example"]}}}`},
		{name: "a hold from another partition holds this partition's window",
			alerts: true,
			steps: []step{hard("a@x.example", 0, 0), hard("b@x.example", 1, 1), attempt("c@x.example", 1, event.DomainUnknown, 2),
				command(streak.OpHold, "x.example", 2, 10), hard("d@x.example", 3, 11)},
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "c@x.example suppressed",
				"a@x.example held", "b@x.example held", "d@x.example held"},
			alerted: []string{firingCmd}, held: 3,
			holds: `{"off":10,"domains":{"x.example":{"since":"2026-10-01T09:02:00Z","rule":"rule.mailbox_unknown","held":["a@x.example","b@x.example","d@x.example"]}}}`},
		{name: "a hold already detected here changes nothing",
			alerts: true, steps: append(three[:3:3], command(streak.OpHold, "x.example", 3, 10)),
			pubs:     []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held"},
			commands: []string{reason3}, alerted: []string{firing3}, held: 3,
			holds: strings.Replace(holds3, `"off":-1`, `"off":10`, 1)},
		{name: "an earlier suppression lifted or suppressed by hand before the hold is left alone",
			steps: []step{hard("a@x.example", 0, 0), hard("b@x.example", 1, 1),
				// Their keys stay in the hold's list, as before the guard was a package.
				operator(streak.OpLift, "a@x.example", 2), operator(streak.OpSuppress, "b@x.example", 3), hard("c@x.example", 2, 4)},
			pubs:     []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example -", "b@x.example suppressed", "c@x.example held"},
			commands: []string{reason3}, held: 1,
			holds: `{"off":-1,"domains":{"x.example":{"since":"2026-10-01T09:02:00Z","rule":"rule.mailbox_unknown","held":["c@x.example","a@x.example","b@x.example"]}}}`},
		{name: "release enforces the held suppressions and ends the hold",
			alerts: true, steps: append(three[:3:3], command(streak.OpRelease, "x.example", 60, 10), hard("d@x.example", 61, 11)),
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held",
				"c@x.example suppressed", "a@x.example suppressed", "b@x.example suppressed", "d@x.example suppressed"},
			commands: []string{reason3}, alerted: []string{firing3, "resolved: The hold on x.example ended: an operator chose release."}, held: 3,
			holds: `{"off":10,"domains":{}}`},
		{name: "discard drops the held suppressions and ends the hold",
			alerts: true, steps: append(three[:3:3], command(streak.OpDiscard, "x.example", 60, 10)),
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held",
				"c@x.example -", "a@x.example -", "b@x.example -"},
			commands: []string{reason3}, alerted: []string{firing3, "resolved: The hold on x.example ended: an operator chose discard."}, held: 3,
			holds: `{"off":10,"domains":{}}`},
		{name: "a second release does nothing",
			alerts: true, steps: append(three[:3:3], command(streak.OpRelease, "x.example", 60, 10), command(streak.OpRelease, "x.example", 61, 11)),
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held",
				"c@x.example suppressed", "a@x.example suppressed", "b@x.example suppressed"},
			commands: []string{reason3}, alerted: []string{firing3, "resolved: The hold on x.example ended: an operator chose release."}, held: 3,
			holds: `{"off":11,"domains":{}}`},
		{name: "a replayed domain command does nothing",
			alerts: true, steps: append(three[:3:3], command(streak.OpRelease, "x.example", 60, 10), command(streak.OpHold, "x.example", 61, 10),
				command(streak.OpDiscard, "x.example", 61, 9)),
			pubs: []string{"a@x.example suppressed", "b@x.example suppressed", "a@x.example held", "b@x.example held", "c@x.example held",
				"c@x.example suppressed", "a@x.example suppressed", "b@x.example suppressed"},
			commands: []string{reason3}, alerted: []string{firing3, "resolved: The hold on x.example ended: an operator chose release."}, held: 3, replays: 2,
			holds: `{"off":10,"domains":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.MinRecipients == 0 {
				cfg.MinRecipients = 3
			}
			p := newPart(cfg, tc.policy, tc.alerts)
			for _, s := range tc.steps {
				p.apply(t, s)
			}
			check := func(what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s\n got %q\nwant %q", what, got, want)
				}
			}
			check("published", p.pubs, tc.pubs)
			check("commands", p.commands, tc.commands)
			check("alerts", p.alerts, tc.alerted)
			check("held", p.held, tc.held)
			check("replays", p.replays, tc.replays)
			check("holds", p.holdsJSON(t), tc.holds)
			if p.holds != len(tc.alerted)-strings.Count(strings.Join(tc.alerted, "\n"), "resolved:") {
				t.Errorf("holds counter %d for alerts %q", p.holds, tc.alerted)
			}
			checkStates(t, p)
		})
	}
}

// checkStates: each recipient's state says what its last published record
// says, and a held mark carries that very record.
func checkStates(t *testing.T, p *part) {
	t.Helper()
	for key, rec := range p.records {
		st, _ := p.states.Get(key)
		if st.Mark == nil {
			t.Errorf("%s: published %s, state has no suppression", key, rec.Status)
			continue
		}
		if st.Mark.Status != rec.Status {
			t.Errorf("%s: state says %s, last record %s", key, st.Mark.Status, rec.Status)
		}
		if rec.Status == event.StatusHeld && !reflect.DeepEqual(st.Mark.Held, rec) {
			t.Errorf("%s: held mark %+v, published %+v", key, st.Mark.Held, rec)
		}
	}
}

// TestRecords: the records the guard publishes are the fold's records with
// only the status changed (and, on release, the update time).
func TestRecords(t *testing.T) {
	p := newPart(guard.Config{MinRecipients: 2}, streak.Policy{}, true)
	var first *event.Suppression
	for i, s := range []step{hard("a@x.example", 0, 0), hard("b@x.example", 1, 1)} {
		p.apply(t, s)
		if i == 0 {
			first = p.records["a@x.example"]
		}
	}
	if first.Status != event.StatusSuppressed {
		t.Fatalf("the record published first was changed afterwards: %+v", first)
	}
	heldA := *p.records["a@x.example"]
	want := *first
	want.Status = event.StatusHeld
	if !reflect.DeepEqual(heldA, want) {
		t.Fatalf("retro-held record\n got %+v\nwant %+v", heldA, want)
	}
	rel := step{c: &streak.Control{Op: streak.OpRelease, Domain: "x.example", At: t0.Add(time.Hour).In(time.FixedZone("X", 3600))}, off: 5}
	p.apply(t, rel)
	want.Status, want.UpdatedAt = event.StatusSuppressed, t0.Add(time.Hour)
	if got := *p.records["a@x.example"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("released record\n got %+v\nwant %+v", got, want)
	}
	st, _ := p.states.Get("a@x.example")
	if st.Mark.Status != event.StatusSuppressed || st.Mark.Held != nil || st.LastOff != 5 {
		t.Fatalf("released state %+v", st)
	}
}

// TestStatestore: the guard works on the partition's real table.
func TestStatestore(t *testing.T) {
	p := newPart(guard.Config{MinRecipients: 3}, streak.Policy{}, false)
	p.states = statestore.NewTable(0)
	for _, s := range []step{hard("a@x.example", 0, 0), hard("b@x.example", 1, 1), hard("c@x.example", 2, 2)} {
		p.apply(t, s)
	}
	for _, key := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		if st, _ := p.states.Get(key); st.Mark == nil || st.Mark.Status != event.StatusHeld || st.Mark.Held == nil {
			t.Errorf("%s: %+v", key, st.Mark)
		}
	}
	p.apply(t, command(streak.OpDiscard, "x.example", 10, 3))
	if st, ok := p.states.Get("a@x.example"); !ok || st.Mark != nil || st.LastOff != 3 {
		t.Errorf("discarded: %+v", st)
	}
}

func TestDirty(t *testing.T) {
	p := newPart(guard.Config{MinRecipients: 2}, streak.Policy{}, false)
	p.apply(t, hard("a@x.example", 0, 0))
	if p.g.Dirty() {
		t.Fatal("dirty without a hold")
	}
	p.apply(t, hard("b@x.example", 0, 1))
	if !p.g.Dirty() {
		t.Fatal("a new hold is not dirty")
	}
	p.g.MarkSaved()
	p.apply(t, ok("c@x.example", 0, 2))
	if p.g.Dirty() {
		t.Fatal("dirty after a delivery")
	}
	p.apply(t, hard("d@x.example", 0, 3))
	if !p.g.Dirty() {
		t.Fatal("a suppression held in a held domain is not dirty")
	}
	p.g.MarkSaved()
	p.apply(t, command(streak.OpRelease, "y.example", 0, 4))
	if !p.g.Dirty() {
		t.Fatal("a domain command moves Holds.Off and must be saved")
	}
}

func TestHoldsCodec(t *testing.T) {
	for _, b := range [][]byte{nil, {}} {
		h, err := guard.DecodeHolds(b)
		if err != nil || !reflect.DeepEqual(h, guard.NewHolds()) {
			t.Errorf("DecodeHolds(%q) = %+v, %v", b, h, err)
		}
	}
	h, err := guard.DecodeHolds([]byte(`{"off":3}`))
	if err != nil || h.Off != 3 || h.Domains == nil {
		t.Errorf("without domains: %+v, %v", h, err)
	}
	h, err = guard.DecodeHolds([]byte(`{"domains":null}`))
	if err != nil || h.Off != -1 || h.Domains == nil {
		t.Errorf("without off: %+v, %v", h, err)
	}
	if _, err := guard.DecodeHolds([]byte(`{"off":`)); err == nil {
		t.Error("truncated holds decoded")
	}
	// The changelog value as processor wrote it before the guard was a package.
	const old = `{"off":41,"domains":{"x.example":{"since":"2026-10-01T09:02:00Z","rule":"rule.mailbox_unknown","held":["c@x.example","a@x.example"]},"y.example":{"since":"2026-10-01T10:00:00Z","rule":"r","held":null}}}`
	h, err = guard.DecodeHolds([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	want := &guard.Holds{Off: 41, Domains: map[string]*guard.Hold{
		"x.example": {Since: t0.Add(2 * time.Minute), Rule: "rule.mailbox_unknown", Held: []string{"c@x.example", "a@x.example"}},
		"y.example": {Since: t0.Add(time.Hour), Rule: "r"},
	}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("decoded %+v", h)
	}
	b, err := h.Encode()
	if err != nil || string(b) != old {
		t.Errorf("encoded\n got %s\nwant %s (%v)", b, old, err)
	}
	if !json.Valid(b) {
		t.Error("invalid JSON")
	}
	// A guard built on decoded holds goes on from them.
	g := guard.New(guard.Config{}, h, false)
	if e := g.Command(table{}, streak.Control{Op: streak.OpRelease, Domain: "x.example"}, 41); !e.Replay {
		t.Errorf("command at the saved offset: %+v", e)
	}
	if g.Holds() != h {
		t.Error("the guard does not keep the holds it was given")
	}
}

func TestConfig(t *testing.T) {
	d := guard.Config{}.WithDefaults()
	if d.Window != guard.DefaultWindow || d.MinRecipients != guard.DefaultMinRecipients || d.Share != guard.DefaultShare {
		t.Errorf("defaults %+v", d)
	}
	if err := (guard.Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	for _, tc := range []struct {
		cfg  guard.Config
		want string
	}{
		{guard.Config{Window: time.Second}, "pipeline.guard.window: 1s is shorter than 1m"},
		{guard.Config{MinRecipients: -1}, "pipeline.guard.min_recipients: -1 must be at least 1"},
		{guard.Config{Share: 1.5}, "pipeline.guard.share: 1.5 must be in (0, 1]"},
		{guard.Config{Share: -0.1}, "pipeline.guard.share: -0.1 must be in (0, 1]"},
	} {
		if err := tc.cfg.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %s", tc.cfg, err, tc.want)
		}
	}
}

// TestWindowSynctest runs the guard on events stamped with the (fake)
// clock: the guard reads no clock itself, so only the events' time moves
// its windows.
func TestWindowSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPart(guard.Config{MinRecipients: 3}, streak.Policy{}, false)
		off := int64(0)
		bounce := func(addr string) {
			v := event.NewVerdict(event.MailboxUnknown, "rule.mailbox_unknown")
			p.apply(t, step{off: off, a: &event.Attempt{EventID: fmt.Sprint(off), MessageID: fmt.Sprint(off), RecipientNorm: addr,
				Outcome: event.Bounced, OccurredAt: time.Now(), Verdict: &v}})
			off++
		}
		start := time.Now()
		bounce("a@x.example")
		time.Sleep(10 * time.Minute)
		bounce("b@x.example")
		time.Sleep(5 * time.Minute) // 15m after a@: a new window
		bounce("c@x.example")
		if len(p.commands) != 0 {
			t.Fatalf("held across windows: %q", p.commands)
		}
		time.Sleep(7 * time.Minute)
		bounce("d@x.example")
		if len(p.commands) != 0 {
			t.Fatalf("held after 2 in the new window: %q", p.commands)
		}
		time.Sleep(7*time.Minute + 59*time.Second) // still inside c@'s window
		bounce("e@x.example")
		if len(p.commands) != 1 || p.commands[0] != "3 of 3 attempts at x.example in 15m0s were hard bounces from rule rule.mailbox_unknown" {
			t.Fatalf("burst in one window: commands %q", p.commands)
		}
		want := []string{"a@x.example suppressed", "b@x.example suppressed", "c@x.example suppressed", "d@x.example suppressed",
			"c@x.example held", "d@x.example held", "e@x.example held"}
		if !reflect.DeepEqual(p.pubs, want) {
			t.Fatalf("published %q", p.pubs)
		}
		if since := p.g.Holds().Domains["x.example"].Since; !since.Equal(start.Add(29*time.Minute + 59*time.Second)) {
			t.Errorf("hold since %s, %s after the start", since, since.Sub(start))
		}
	})
}
