package streak

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

func codecStates() []State {
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return []State{
		New(),
		{LastOff: 0},
		{LastOff: 1 << 40, Recent: [recentIDs]uint64{1, 2, 3}, LastDelivery: since.UnixNano(), Sends: [recentSends]uint64{10, 21}},
		{LastOff: 7, Recent: [recentIDs]uint64{9}, Streak: []Fail{
			{Send: 11, At: since.UnixNano(), Evidence: event.Evidence{At: since, CampaignID: "c1", Code: 452, Enhanced: "4.2.2", Text: "mailbox full", Label: event.MailboxFull, Rule: "text.mailbox_full"}},
			{Send: 12, At: since.Add(time.Hour).UnixNano()},
		}},
		{LastOff: 8, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: event.MailboxUnknown, Source: event.OriginAuto, Since: since}},
		{LastOff: 9, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator", Source: event.OriginOperator}},
		{LastOff: 10, Mark: &Mark{Status: event.StatusHeld, Class: event.ClassHard, Label: event.MailboxUnknown, Source: event.OriginAuto, Since: since,
			Held: &event.Suppression{Address: "a@b.example", Status: event.StatusHeld, Class: event.ClassHard, Reason: "Hard bounce.", Since: since, UpdatedAt: since, Evidence: []event.Evidence{}}}},
	}
}

func TestStateBinaryRoundTrip(t *testing.T) {
	for i, s := range codecStates() {
		b, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got State
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		if !reflect.DeepEqual(normal(got), normal(s)) {
			t.Errorf("state %d: round trip\n got %+v\nwant %+v", i, got, s)
		}
		// Every truncation is an error, never a panic or a silent state.
		for n := range b {
			var cut State
			if err := cut.UnmarshalBinary(b[:n]); err == nil {
				t.Errorf("state %d: %d of %d bytes decoded without error", i, n, len(b))
			}
		}
	}
}

// normal makes evidence times comparable after JSON (which drops the
// monotonic clock and may change the location pointer).
func normal(s State) State {
	for i := range s.Streak {
		s.Streak[i].Evidence.At = s.Streak[i].Evidence.At.UTC()
	}
	return s
}

// Changelogs written before the binary encoding hold JSON with the whole
// suppression record; they must still restore.
func TestStateReadsJSONChangelog(t *testing.T) {
	old := `{"off":41,"recent":[5,6,0,0],"delivered":3,"record":{"address":"a@b.example","status":"suppressed","class":"hard","label":"mailbox_unknown","reason":"Hard bounce.","rule":"text.user_unknown","since":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:00:00Z","evidence":[],"soft_streak":0,"source":"auto"}}`
	var s State
	if err := s.UnmarshalBinary([]byte(old)); err != nil {
		t.Fatal(err)
	}
	if s.LastOff != 41 || s.Recent[1] != 6 || s.Mark == nil || s.Mark.Label != event.MailboxUnknown || s.Mark.Source != event.OriginAuto || s.Mark.Since.IsZero() {
		t.Fatalf("decoded %+v mark %+v", s, s.Mark)
	}
	b, _ := json.Marshal(&s)
	var again State
	if err := again.UnmarshalBinary(b); err != nil || again.Mark.Class != event.ClassHard {
		t.Fatalf("JSON of the new state: %v %+v", err, again)
	}
}

func FuzzStateDecode(f *testing.F) {
	for _, s := range codecStates() {
		b, _ := s.AppendBinary(nil)
		f.Add(b)
	}
	f.Add([]byte(`{"off":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.UnmarshalBinary(b); err != nil || (len(b) > 0 && b[0] == '{') {
			return
		}
		// What decodes must encode back to the same bytes' meaning.
		out, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var again State
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.LastOff != s.LastOff || again.LastDelivery != s.LastDelivery || len(again.Streak) != len(s.Streak) || (again.Mark == nil) != (s.Mark == nil) {
			t.Fatalf("re-decode differs: %+v vs %+v", again, s)
		}
	})
}

func BenchmarkStateDecode(b *testing.B) {
	s := State{LastOff: 123456789, Recent: [recentIDs]uint64{1 << 60, 2 << 50, 3 << 40}, LastDelivery: time.Now().UnixNano()}
	bin, _ := s.AppendBinary(nil)
	js, _ := json.Marshal(&s)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bin)))
		for b.Loop() {
			var got State
			if err := got.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			var got State
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
