package streak

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bounced-dev/bounced/processor/event"
)

var update = flag.Bool("update", false, "rewrite testdata/state_v2.golden and state_v3.golden from the current encoder")

// seenAt is the guard's entry for id at hours after t0.
func seenAt(id string, hours int) Seen { return SeenOf(id, t0.Add(time.Duration(hours)*time.Hour)) }

// fullSeen is a list as long as the guard keeps.
func fullSeen() []Seen {
	var l []Seen
	for i := range maxSeen {
		l = append(l, seenAt(string(rune('A'+i)), i/3))
	}
	return l
}

func codecStates() []State {
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return []State{
		New(),
		{LastOff: 0},
		{LastOff: 1 << 40, Seen: []Seen{seenAt("1", 0), seenAt("2", 0), seenAt("3", 5)}, LastDelivery: since.UnixNano(), Sends: [recentSends]uint64{10, 21}},
		{LastOff: 3, Seen: fullSeen()},
		{LastOff: 7, Seen: []Seen{seenAt("9", -3)}, Streak: []Fail{
			{Send: 11, At: since.UnixNano(), Evidence: event.Evidence{At: since, CampaignID: "c1", Code: 452, Enhanced: "4.2.2", Text: "mailbox full", Label: event.MailboxFull, Rule: "text.mailbox_full"}},
			{Send: 12, At: since.Add(time.Hour).UnixNano()},
		}},
		{LastOff: 8, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: event.MailboxUnknown, Source: event.OriginAuto, Since: since}},
		{LastOff: 9, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: "operator", Source: event.OriginOperator}},
		{LastOff: 10, Mark: &Mark{Status: event.StatusHeld, Class: event.ClassHard, Label: event.MailboxUnknown, Source: event.OriginAuto, Since: since,
			Held: &event.Suppression{Address: "a@b.example", Status: event.StatusHeld, Class: event.ClassHard, Reason: "Hard bounce.", Since: since, UpdatedAt: since, Evidence: []event.Evidence{}}}},
		// Marks that expire (binaryV3).
		{LastOff: 11, Mark: &Mark{Status: event.StatusSuppressed, Class: event.ClassSoft, Label: event.MailboxFull, Source: event.OriginAuto, Since: since, ExpiresAt: since.Add(90 * 24 * time.Hour)}},
		{LastOff: 12, Mark: &Mark{Status: event.StatusHeld, Class: event.ClassSoft, Label: event.MailboxFull, Source: event.OriginAuto, Since: since, ExpiresAt: since.Add(time.Hour),
			Held: &event.Suppression{Address: "a@b.example", Status: event.StatusHeld, Class: event.ClassSoft, Reason: "Full.", Since: since, UpdatedAt: since, Evidence: []event.Evidence{}, ExpiresAt: since.Add(time.Hour)}}},
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
	if s.LastOff != 41 || s.Mark == nil || s.Mark.Label != event.MailboxUnknown || s.Mark.Source != event.OriginAuto || s.Mark.Since.IsZero() {
		t.Fatalf("decoded %+v mark %+v", s, s.Mark)
	}
	// The bare hashes get the newest time the state knows, the mark's.
	want := []Seen{seenHash(6, hourOf(s.Mark.Since)), seenHash(5, hourOf(s.Mark.Since))}
	if !reflect.DeepEqual(s.Seen, want) || !s.Seen[0].At().Equal(s.Mark.Since) {
		t.Fatalf("seen %v, want %v", s.Seen, want)
	}
	b, _ := json.Marshal(&s)
	var again State
	if err := again.UnmarshalBinary(b); err != nil || again.Mark.Class != event.ClassHard || !reflect.DeepEqual(again.Seen, s.Seen) {
		t.Fatalf("JSON of the new state: %v %+v", err, again)
	}
}

// TestStateReadsV1 decodes bytes the v1 encoder wrote (testdata, never
// rewritten): its three id hashes still catch re-sends of those events,
// and the state encodes again as v2 to the same value.
func TestStateReadsV1(t *testing.T) {
	dump, err := os.ReadFile(filepath.Join("testdata", "state_v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := s.UnmarshalBinary(undump(t, string(dump))); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	newest := hourOf(since.Add(-24 * time.Hour)) // the streak's failure, newer than the delivery
	want := []Seen{
		seenHash(xxhash.Sum64String("e1"), newest),
		seenHash(xxhash.Sum64String("e2"), newest),
		seenHash(xxhash.Sum64String("e3"), newest),
	}
	if s.LastOff != 41 || !reflect.DeepEqual(s.Seen, want) || s.LastDelivery != since.Add(-48*time.Hour).UnixNano() ||
		s.Sends != [recentSends]uint64{10, 21} || len(s.Streak) != 1 || s.Streak[0].Evidence.EventID != "e2" || s.Mark != nil {
		t.Fatalf("decoded %+v", s)
	}
	for _, id := range []string{"e1", "e2", "e3"} {
		a := ev(id, "m9", 0, event.Delivered, event.LabelDelivered)
		a.OccurredAt = since
		if _, r := Apply(Policy{}, s, a, 50); !r.Duplicate {
			t.Errorf("re-sent %s after the upgrade: %+v, want a duplicate", id, r)
		}
	}
	b, err := s.AppendBinary(nil)
	if err != nil || b[0] != binaryV2 {
		t.Fatalf("re-encode: %v % x", err, b[:1])
	}
	var again State
	if err := again.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(normal(again), normal(s)) {
		t.Fatalf("v1 state through v2: %v\n got %+v\nwant %+v", err, again, s)
	}
}

// The golden files pin the encodings: a change to one must be deliberate
// (a new version byte, the old one still decoded). v2 is written for every
// state whose mark does not expire, v3 for one whose mark does.
func TestStateBinaryGolden(t *testing.T) {
	all := codecStates()
	v2 := all[2] // seen ids, a delivery, sends
	v2.Streak, v2.Mark = all[4].Streak, all[5].Mark
	v3 := all[2]
	v3.Mark = all[8].Mark
	for _, tc := range []struct {
		file    string
		s       State
		version byte
	}{
		{"state_v2.golden", v2, binaryV2},
		{"state_v3.golden", v3, binaryV3},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := tc.s.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != tc.version {
				t.Errorf("version byte %#x, want %#x", b[0], tc.version)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(hex.Dump(b)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dump, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			golden := undump(t, string(dump))
			if !bytes.Equal(b, golden) {
				t.Errorf("the encoding changed; if on purpose, add a version byte, keep decoding the old ones, and run go test -update\n got:\n%s\nwant:\n%s", hex.Dump(b), dump)
			}
			var got State
			if err := got.UnmarshalBinary(golden); err != nil || !reflect.DeepEqual(normal(got), normal(tc.s)) {
				t.Errorf("golden bytes decode to %+v (%v), want %+v", got, err, tc.s)
			}
		})
	}
}

// undump reads hex.Dump's output back.
func undump(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		if i := strings.Index(line, "  |"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		b, err := hex.DecodeString(strings.Join(f[1:], ""))
		if err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

// TestStateSeenRefused: a list Apply could not have made is refused by the
// encoder (so it never reaches the changelog) and by the decoders.
func TestStateSeenRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		seen []Seen
		want string
	}{
		{"too many", append(fullSeen(), seenAt("Z", 20)), "33 seen ids"},
		{"out of time order", []Seen{seenAt("a", 2), seenAt("b", 1)}, "out of time order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := State{LastOff: 1, Seen: tc.seen}
			if _, err := s.AppendBinary(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("encode: %v, want %q", err, tc.want)
			}
			// The same list written by hand, in binary and in JSON.
			raw := []byte{binaryV2, 2, byte(len(tc.seen))}
			for _, v := range tc.seen {
				raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
			}
			raw = append(raw, 0, 0, 0, 0)
			js, _ := json.Marshal(&s)
			for _, b := range [][]byte{raw, js} {
				var got State
				if err := got.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "seen ids") {
					t.Errorf("decode %q: %v, want an error about seen ids", b[:1], err)
				}
			}
		})
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
		if again.LastOff != s.LastOff || again.LastDelivery != s.LastDelivery || !reflect.DeepEqual(again.Seen, s.Seen) ||
			len(again.Streak) != len(s.Streak) || (again.Mark == nil) != (s.Mark == nil) {
			t.Fatalf("re-decode differs: %+v vs %+v", again, s)
		}
	})
}

func BenchmarkStateDecode(b *testing.B) {
	s := State{LastOff: 123456789, Seen: []Seen{seenAt("1", 0), seenAt("2", 30), seenAt("3", 60)}, LastDelivery: t0.UnixNano()}
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

// FuzzStateRoundTrip: every state Apply can make decodes to itself,
// decode(encode(s)) == s, whatever its offsets, ids, streak and mark.
func FuzzStateRoundTrip(f *testing.F) {
	f.Add(int64(-1), int64(0), []byte{}, uint8(0))
	f.Add(int64(1<<40), t0.UnixNano(), bytes.Repeat([]byte{0xff, 1, 2, 3, 4, 5, 6, 7}, 40), uint8(3))
	f.Add(int64(7), int64(-5), []byte("0123456789abcdef01234567"), uint8(1))
	all := codecStates()
	f.Fuzz(func(t *testing.T, off, delivered int64, ids []byte, extra uint8) {
		s := State{LastOff: off, LastDelivery: delivered, Sends: [recentSends]uint64{uint64(off) | 2, uint64(delivered) | 2}} // ended sends fill from the front
		for i := 0; i+8 <= len(ids) && len(s.Seen) < maxSeen; i += 8 {
			s.Seen = append(s.Seen, Seen(binary.LittleEndian.Uint64(ids[i:])))
		}
		slices.SortStableFunc(s.Seen, func(a, b Seen) int { return cmp.Compare(a.hour(), b.hour()) })
		if extra&1 == 1 {
			s.Streak = all[4].Streak
		}
		if extra&2 == 2 {
			s.Mark = all[5+int(extra>>2)%5].Mark
		}
		b, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got State
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(normal(got), normal(s)) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, s)
		}
	})
}
