package decide_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// rec builds an attempts-topic record of an attempt to rcpt at offset off,
// made by stage 1 from input offset src (src < 0: no source header), in
// the binary encoding stage 1 writes.
func rec(t testing.TB, off int64, src int64, rcpt string, out event.Outcome, l event.Label, mins int) decide.Record {
	t.Helper()
	return encoded(t, topics.EncodingBinary, off, src, rcpt, out, l, mins)
}

// encoded is rec in the encoding enc.
func encoded(t testing.TB, enc topics.Encoding, off int64, src int64, rcpt string, out event.Outcome, l event.Label, mins int) decide.Record {
	t.Helper()
	v := event.NewVerdict(l, "rule."+string(l))
	a := event.Attempt{EventID: fmt.Sprintf("e%d", off), MessageID: fmt.Sprintf("<m%d@x>", off), Recipient: rcpt, RecipientNorm: rcpt,
		Outcome: out, OccurredAt: t0.Add(time.Duration(mins) * time.Minute), Verdict: &v, CampaignID: "c1",
		SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "user unknown"}}
	m, err := topics.AttemptMessage("bounced.attempts", &a, "", enc)
	if err != nil {
		t.Fatal(err)
	}
	r := decide.Record{Offset: off, Key: m.Key, Value: m.Value}
	if src >= 0 {
		r.Source = topics.FormatSource("bounced.input", 0, src, 0)
	}
	return r
}

func control(t testing.TB, off int64, c streak.Control) decide.Record {
	t.Helper()
	m, err := topics.ControlMessage("bounced.attempts", c)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(c.Address)
	if c.Domain != "" {
		key = []byte("\x00domain:" + c.Domain)
	}
	return decide.Record{Offset: off, Key: key, Value: m.Value, Control: string(c.Op)}
}

func folder(partition int) *decide.Folder {
	return &decide.Folder{Policy: streak.Policy{}.WithDefaults(), Topic: "bounced.attempts", Partition: partition}
}

func TestFold(t *testing.T) {
	type want struct {
		rows, dead, changes, states, dups, replays int
		suppressed                                 []string // addresses with a suppressed record among the changes
		sources                                    bool
	}
	for _, tc := range []struct {
		name string
		recs func(t *testing.T) []decide.Record
		want want
	}{
		{"a delivery is a row and a state, nothing else", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, "a@x.example", event.Delivered, event.LabelDelivered, 0)}
		}, want{rows: 1, states: 1, sources: true}},
		{"a hard bounce suppresses at once", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, "a@x.example", event.Bounced, event.MailboxUnknown, 0)}
		}, want{rows: 1, states: 1, changes: 1, suppressed: []string{"a@x.example"}, sources: true}},
		{"a block never suppresses", func(t *testing.T) []decide.Record {
			return []decide.Record{rec(t, 0, 0, "a@x.example", event.Bounced, event.SenderBlocked, 0)}
		}, want{rows: 1, states: 1, sources: true}},
		{"stage 1's copies are recognised by their input position", func(t *testing.T) []decide.Record {
			return []decide.Record{
				rec(t, 0, 5, "a@x.example", event.Delivered, event.LabelDelivered, 0),
				rec(t, 1, 5, "a@x.example", event.Delivered, event.LabelDelivered, 0),
				rec(t, 2, 4, "b@x.example", event.Delivered, event.LabelDelivered, 0),
			}
		}, want{rows: 1, states: 1, dups: 2, sources: true}},
		{"a repeated event id is a duplicate: no row, the state moves", func(t *testing.T) []decide.Record {
			a := rec(t, 0, -1, "a@x.example", event.Delivered, event.LabelDelivered, 0)
			b := a
			b.Offset = 1
			return []decide.Record{a, b}
		}, want{rows: 1, states: 1, dups: 1}},
		{"junk, a wrong key and a bad command go to the DLQ", func(t *testing.T) []decide.Record {
			wrong := rec(t, 1, -1, "a@x.example", event.Delivered, event.LabelDelivered, 0)
			wrong.Key = []byte("b@x.example")
			return []decide.Record{
				{Offset: 0, Key: []byte("a@x.example"), Value: []byte("{not json")},
				wrong,
				{Offset: 2, Key: []byte("a@x.example"), Value: []byte(`{"op":"explode"}`), Control: "explode"},
				{Offset: 3, Key: []byte("a@x.example"), Value: []byte(`[`), Control: "lift"},
			}
		}, want{dead: 4}},
		{"an operator's add and lift", func(t *testing.T) []decide.Record {
			return []decide.Record{
				control(t, 0, streak.Control{Op: streak.OpSuppress, Address: "a@x.example", At: t0}),
				control(t, 1, streak.Control{Op: streak.OpLift, Address: "a@x.example", At: t0}),
			}
		}, want{states: 1, changes: 2, suppressed: []string{"a@x.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := statestore.NewPartition()
			out := folder(1).Fold(p, tc.recs(t))
			got := want{rows: len(out.Rows), dead: len(out.Dead), changes: len(out.Changes), states: len(out.States),
				dups: out.Stats.Duplicates, replays: out.Stats.Replays, sources: out.Sources != nil}
			for _, c := range out.Changes {
				if c.Record != nil && c.Record.Status == event.StatusSuppressed {
					got.suppressed = append(got.suppressed, c.Address)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			for _, d := range out.Dead {
				if d.Err == nil {
					t.Errorf("dead record %d without a reason", d.Index)
				}
			}
			for _, s := range out.States {
				if st, _ := p.Table.Get(s.Key); !reflect.DeepEqual(st, s.State) {
					t.Errorf("state of %s in the outputs is not the table's", s.Key)
				}
			}
			if out.Holds != nil || len(out.Alerts) > 0 || len(out.Commands) > 0 {
				t.Errorf("the guard acted on an ordinary batch: %+v", out)
			}
		})
	}
}

// TestFoldReplay folds a batch, then folds it again onto the state it
// produced, as the next owner does after a crash that lost the commit but
// kept the changelog: nothing is produced twice.
func TestFoldReplay(t *testing.T) {
	var recs []decide.Record
	for i := range 40 {
		l, o := event.MailboxFull, event.Deferred
		if i%7 == 0 {
			l, o = event.MailboxUnknown, event.Bounced
		}
		recs = append(recs, rec(t, int64(i), int64(i), fmt.Sprintf("u%d@x.example", i%9), o, l, i*60*24))
	}
	f := folder(0)
	p := statestore.NewPartition()
	first := f.Fold(p, recs)
	if len(first.Rows) != 40 || len(first.Changes) == 0 {
		t.Fatalf("first fold: %d rows, %d changes", len(first.Rows), len(first.Changes))
	}
	again := f.Fold(p, recs)
	if len(again.Rows) != 0 || len(again.Changes) != 0 || len(again.States) != 0 || again.Sources != nil {
		t.Fatalf("a replay produced output: %d rows, %d changes, %d states", len(again.Rows), len(again.Changes), len(again.States))
	}
	if again.Stats.Duplicates != 40 {
		t.Errorf("replay: %d recognised by input position, want 40", again.Stats.Duplicates)
	}
	// Without input positions (say, attempts written by an older stage 1)
	// the states' offsets still catch the replay.
	for i := range recs {
		recs[i].Source = ""
	}
	again = f.Fold(p, recs)
	if len(again.Rows) != 0 || len(again.Changes) != 0 || again.Stats.Replays != 40 {
		t.Fatalf("offset replay: %d rows, %d changes, %d replays", len(again.Rows), len(again.Changes), again.Stats.Replays)
	}
}

// TestFoldReadsJSONAttempts: attempts that a stage 1 of an older version
// wrote as JSON, alone or mixed with binary ones (a rolling upgrade), fold
// exactly as their binary encoding does.
func TestFoldReadsJSONAttempts(t *testing.T) {
	batch := func(enc func(i int) topics.Encoding) []decide.Record {
		var recs []decide.Record
		for i := range 60 {
			l, o := event.MailboxFull, event.Deferred
			if i%7 == 0 {
				l, o = event.MailboxUnknown, event.Bounced
			}
			recs = append(recs, encoded(t, enc(i), int64(i), int64(i), fmt.Sprintf("u%d@x.example", i%9), o, l, i*60*24))
		}
		return recs
	}
	fold := func(recs []decide.Record) decide.Outputs { return folder(0).Fold(statestore.NewPartition(), recs) }
	bin := fold(batch(func(int) topics.Encoding { return topics.EncodingBinary }))
	if len(bin.Rows) != 60 || len(bin.Changes) == 0 || len(bin.Dead) != 0 {
		t.Fatalf("binary batch: %d rows, %d changes, %d dead", len(bin.Rows), len(bin.Changes), len(bin.Dead))
	}
	for name, enc := range map[string]func(int) topics.Encoding{
		"json":  func(int) topics.Encoding { return topics.EncodingJSON },
		"mixed": func(i int) topics.Encoding { return []topics.Encoding{topics.EncodingJSON, topics.EncodingBinary}[i%2] },
	} {
		if got := fold(batch(enc)); !reflect.DeepEqual(got, bin) {
			t.Errorf("%s batch folds differently from the binary one", name)
		}
	}

	// Neither encoding's garbage folds; the reason says it was an attempt.
	out := fold([]decide.Record{
		{Offset: 0, Key: []byte("a@x.example"), Value: []byte("{not json")},
		{Offset: 1, Key: []byte("a@x.example"), Value: []byte{event.AttemptBinaryV1, 0, 0}},
		{Offset: 2, Key: []byte("a@x.example"), Value: nil},
	})
	if len(out.Dead) != 3 {
		t.Fatalf("%d dead, want 3", len(out.Dead))
	}
	for _, d := range out.Dead {
		if !strings.HasPrefix(d.Err.Error(), "attempt record: ") {
			t.Errorf("record %d: %v", d.Index, d.Err)
		}
	}
}

// TestFoldDeterministic: two owners folding the same records from the same
// state produce the same outputs, byte for byte once encoded; the changelog
// and suppression topics rely on it.
func TestFoldDeterministic(t *testing.T) {
	var recs []decide.Record
	for i := range 300 {
		l, o := event.LabelDelivered, event.Delivered
		switch i % 5 {
		case 1:
			l, o = event.MailboxFull, event.Deferred
		case 2:
			l, o = event.MailboxUnknown, event.Bounced
		}
		recs = append(recs, rec(t, int64(i), int64(i), fmt.Sprintf("u%d@d%d.example", i%37, i%3), o, l, i*90))
	}
	a := folder(0).Fold(statestore.NewPartition(), recs)
	b := folder(0).Fold(statestore.NewPartition(), recs)
	if !reflect.DeepEqual(a.Changes, b.Changes) || !reflect.DeepEqual(a.States, b.States) || len(a.Rows) != len(b.Rows) {
		t.Fatal("two folds of one batch differ")
	}
}

// TestFoldGuard: a burst of hard bounces from one rule at one domain holds
// the domain; the partition that detects it sends the hold to all
// partitions and (partition 0) raises the alert; an operator's release then
// enforces the held suppressions.
func TestFoldGuard(t *testing.T) {
	var recs []decide.Record
	for i := range 30 {
		recs = append(recs, rec(t, int64(i), int64(i), fmt.Sprintf("u%d@outage.example", i), event.Bounced, event.MailboxUnknown, 0))
	}
	f := folder(0)
	p := statestore.NewPartition()
	out := f.Fold(p, recs)
	if len(out.Commands) != 1 || out.Commands[0].Op != streak.OpHold || out.Commands[0].Domain != "outage.example" {
		t.Fatalf("commands %+v, want one hold of outage.example", out.Commands)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].State != event.AlertFiring || out.Stats.Holds != 1 {
		t.Fatalf("alerts %+v (holds %d), want one firing", out.Alerts, out.Stats.Holds)
	}
	if out.Holds == nil {
		t.Fatal("the holds changed but are not in the outputs")
	}
	held := map[string]bool{}
	for _, c := range out.Changes {
		if c.Record == nil {
			t.Fatalf("tombstone for %s", c.Address)
		}
		if c.Record.Status == event.StatusHeld {
			held[c.Address] = true
		}
	}
	// Suppressions published before the trigger are published again, held.
	if len(held) != 30 || out.Stats.Held != 30 {
		t.Fatalf("%d addresses held (stat %d), want 30", len(held), out.Stats.Held)
	}
	// The hold comes back to this partition from the attempts topic: a
	// no-op here. Then an operator releases the domain.
	hold := out.Commands[0]
	rel := f.Fold(p, []decide.Record{
		control(t, 30, hold),
		control(t, 31, streak.Control{Op: streak.OpRelease, Domain: "outage.example", At: t0.Add(time.Hour)}),
	})
	if len(rel.Changes) != 30 {
		t.Fatalf("release published %d records, want 30", len(rel.Changes))
	}
	for _, c := range rel.Changes {
		if c.Record == nil || c.Record.Status != event.StatusSuppressed || c.Version != 32 {
			t.Fatalf("release of %s: %+v", c.Address, c)
		}
	}
	if len(rel.Alerts) != 1 || rel.Alerts[0].State != event.AlertResolved || !strings.Contains(rel.Alerts[0].Message, "release") {
		t.Fatalf("release alerts: %+v", rel.Alerts)
	}
	// A replay of the release changes nothing.
	again := f.Fold(p, []decide.Record{control(t, 31, streak.Control{Op: streak.OpRelease, Domain: "outage.example", At: t0.Add(time.Hour)})})
	if len(again.Changes) != 0 || again.Stats.Replays != 1 {
		t.Fatalf("replayed release: %d changes, %d replays", len(again.Changes), again.Stats.Replays)
	}
}

// TestFoldComplaint: an attempt with outcome complaint (an ARF report, an
// ESP's spam report) is stored as a complaint whatever verdict its producer
// gave it, suppresses at once, is no send, and is not a duplicate of the
// delivery of the same message.
func TestFoldComplaint(t *testing.T) {
	attempt := func(off int64, id string, o event.Outcome, v *event.Verdict) decide.Record {
		a := event.Attempt{EventID: id, MessageID: "<m1@x>", Recipient: "a@x.example", RecipientNorm: "a@x.example",
			Outcome: o, OccurredAt: t0.Add(time.Duration(off) * time.Hour), Verdict: v, CampaignID: "c1"}
		m, err := topics.AttemptMessage("bounced.attempts", &a, "", topics.EncodingBinary)
		if err != nil {
			t.Fatal(err)
		}
		return decide.Record{Offset: off, Key: m.Key, Value: m.Value}
	}
	verdict := func(l event.Label) *event.Verdict {
		v := event.NewVerdict(l, "rule."+string(l))
		return &v
	}
	for _, tc := range []struct {
		name string
		v    *event.Verdict
		rule string
	}{
		{"classified by stage 1", verdict(event.LabelComplaint), "rule.complaint"},
		{"a foreign hard verdict", verdict(event.MailboxUnknown), "outcome.complaint"},
		{"a foreign delivered verdict", verdict(event.LabelDelivered), "outcome.complaint"},
		{"no verdict", nil, "outcome.complaint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := folder(0).Fold(statestore.NewPartition(), []decide.Record{
				attempt(0, "delivery", event.Delivered, verdict(event.LabelDelivered)),
				attempt(1, "report", event.Complaint, tc.v),
			})
			if len(out.Rows) != 2 || out.Stats.Duplicates != 0 {
				t.Fatalf("%d rows, %d duplicates; want 2 rows, the report apart from the delivery", len(out.Rows), out.Stats.Duplicates)
			}
			if got := out.Rows[0].Send; got != (streak.SendDelta{Delivered: 1}) {
				t.Errorf("delivery: send delta %+v, want one delivered send", got)
			}
			row := out.Rows[1]
			if row.Send != (streak.SendDelta{}) {
				t.Errorf("complaint: send delta %+v, want none", row.Send)
			}
			if v := row.Attempt.Verdict; v == nil || v.Class != event.ClassComplaint || v.Label != event.LabelComplaint || v.Rule != tc.rule {
				t.Errorf("complaint row verdict %+v, want class and label complaint, rule %s", v, tc.rule)
			}
			if len(out.Changes) != 1 || out.Changes[0].Record == nil || out.Changes[0].Record.Class != event.ClassComplaint {
				t.Fatalf("changes %+v, want one complaint suppression", out.Changes)
			}
		})
	}
	// Spam reports carrying a foreign hard verdict are no hard bounces:
	// the incident guard does not see a burst.
	var recs []decide.Record
	for i := range 30 {
		r := attempt(int64(i), fmt.Sprint("r", i), event.Complaint, verdict(event.MailboxUnknown))
		a := new(event.Attempt)
		if err := topics.DecodeAttempt(r.Value, a); err != nil {
			t.Fatal(err)
		}
		a.Recipient, a.RecipientNorm = fmt.Sprintf("u%d@outage.example", i), fmt.Sprintf("u%d@outage.example", i)
		m, err := topics.AttemptMessage("bounced.attempts", a, "", topics.EncodingBinary)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, decide.Record{Offset: int64(i), Key: m.Key, Value: m.Value})
	}
	out := folder(0).Fold(statestore.NewPartition(), recs)
	if len(out.Commands) != 0 || len(out.Alerts) != 0 || out.Stats.Held != 0 || len(out.Changes) != 30 {
		t.Fatalf("30 complaints: %d commands, %d alerts, %d held, %d changes; want 30 suppressions and no hold",
			len(out.Commands), len(out.Alerts), out.Stats.Held, len(out.Changes))
	}
}

// TestFoldGuardAlertsOnce: partitions other than 0 hold too, but raise no
// alert: one alert per hold group-wide.
func TestFoldGuardAlertsOnce(t *testing.T) {
	var recs []decide.Record
	for i := range 30 {
		recs = append(recs, rec(t, int64(i), int64(i), fmt.Sprintf("u%d@outage.example", i), event.Bounced, event.MailboxUnknown, 0))
	}
	out := folder(3).Fold(statestore.NewPartition(), recs)
	if len(out.Commands) != 1 || len(out.Alerts) != 0 || out.Stats.Holds != 0 {
		t.Fatalf("partition 3: %d commands, %d alerts", len(out.Commands), len(out.Alerts))
	}
}

// BenchmarkFold folds 1000 attempts in each encoding stage 1 can write.
func BenchmarkFold(b *testing.B) {
	for _, enc := range []topics.Encoding{topics.EncodingBinary, topics.EncodingJSON} {
		b.Run(string(enc), func(b *testing.B) {
			var recs []decide.Record
			for i := range 1000 {
				l, o := event.LabelDelivered, event.Delivered
				if i%10 == 1 {
					l, o = event.MailboxFull, event.Deferred
				}
				recs = append(recs, encoded(b, enc, int64(i), int64(i), fmt.Sprintf("user%d@d%d.example", i, i%50), o, l, i))
			}
			f := folder(1)
			b.ReportAllocs()
			for b.Loop() {
				f.Fold(statestore.NewPartition(), recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

// TestFoldSourceRestarted: attempts from an input partition that began
// again (its topic recreated) are applied, not taken for stage-1 replays:
// after a source-reset record, and when they are further behind the
// partition's position than any replay can be.
func TestFoldSourceRestarted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window int64
		reset  bool // a source-reset record comes first
		rows   int
		resets int
	}{
		{"a replay within the window is a duplicate", 1_000_000, false, 0, 0},
		{"far behind the position: restarted", 100, false, 3, 1},
		{"after a source reset", 1_000_000, true, 3, 1},
		{"no window, no reset: duplicates", 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := folder(0)
			f.ReplayWindow = tc.window
			p := statestore.NewPartition()
			// The old life of bounced.input/0 reached offset 5000.
			if out := f.Fold(p, []decide.Record{rec(t, 0, 5000, "old@x.example", event.Delivered, event.LabelDelivered, 0)}); len(out.Rows) != 1 {
				t.Fatalf("setup: %d rows", len(out.Rows))
			}
			var recs []decide.Record
			if tc.reset {
				m := topics.SourceResetMessages("bounced.attempts", 1, "bounced.input/0")[0]
				recs = append(recs, decide.Record{Offset: 1, Key: m.Key, Control: topics.ControlSourceReset})
			}
			for i := range 3 {
				recs = append(recs, rec(t, int64(2+i), int64(i), fmt.Sprintf("new%d@x.example", i), event.Delivered, event.LabelDelivered, i))
			}
			out := f.Fold(p, recs)
			if len(out.Rows) != tc.rows || out.Stats.SourceResets != tc.resets {
				t.Errorf("%d rows, %d source resets; want %d, %d", len(out.Rows), out.Stats.SourceResets, tc.rows, tc.resets)
			}
		})
	}
}
