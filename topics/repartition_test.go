package topics

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/streak"
)

// PartitionOf places keys exactly where stage 1's writer (kafka-go's
// Murmur2Balancer) does, for every partition count a move may go to.
func TestPartitionOf(t *testing.T) {
	keys := [][]byte{{}, []byte("a"), []byte("ab"), []byte("abc"), []byte("abcd"), []byte("jane@example.org"), []byte("\x00holds")}
	for i := range 500 {
		keys = append(keys, fmt.Appendf(nil, "user%d@mail%d.example.com", i, i%7))
	}
	for _, n := range []int{1, 2, 3, 6, 7, 12, 64, 1000} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for _, k := range keys {
			want := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: k}, parts...)
			if got := PartitionOf(k, n); got != want {
				t.Fatalf("PartitionOf(%q, %d) = %d, the balancer says %d", k, n, got, want)
			}
		}
	}
}

// keysFor returns count keys that murmur2 puts in partition want of n.
func keysFor(t *testing.T, want, n, count int) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < count; i++ {
		k := fmt.Sprintf("r%d@example.org", i)
		if PartitionOf([]byte(k), n) == want {
			out = append(out, k)
		}
	}
	return out
}

// stateRecord is the changelog value of a state that last applied
// attempts offset off and saw a delivery at delivered.
func stateRecord(t *testing.T, delivered, off int64) []byte {
	t.Helper()
	st := streak.State{LastOff: off, LastDelivery: delivered}
	v, err := st.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPlanRepartition(t *testing.T) {
	// a stays in 0 under 2 and 4; b moves from 1 to 3; c moves from 0 to 2.
	a := keysFor(t, 0, 4, 1)[0]
	b := keysFor(t, 3, 4, 1)[0]
	c := keysFor(t, 2, 4, 1)[0]
	A, B, C, old := stateRecord(t, 1, 10), stateRecord(t, 2, 20), stateRecord(t, 3, 30), stateRecord(t, 4, 40)
	// Moved states keep everything but the offset, which counted in the
	// old partition.
	B2, C2, old2 := stateRecord(t, 2, -1), stateRecord(t, 3, -1), stateRecord(t, 4, -1)
	state := func(kv ...any) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].([]byte)
		}
		return m
	}
	tests := []struct {
		name      string
		parts     []ChangelogPartition
		moves     []Move
		states    int
		conflicts int
	}{
		{"grow 2 to 4", []ChangelogPartition{{States: state(a, A, c, C)}, {States: state(b, B)}},
			[]Move{{Key: c, From: 0, To: 2, Value: C2, Write: true}, {Key: b, From: 1, To: 3, Value: B2, Write: true}}, 3, 0},
		{"stopped after the write, before the tombstone", []ChangelogPartition{{States: state(a, A, c, C)}, {States: state(b, B)}, {States: state(c, C2)}, {}},
			[]Move{{Key: c, From: 0, To: 2, Value: C2}, {Key: b, From: 1, To: 3, Value: B2, Write: true}}, 3, 0},
		{"finished: nothing to move", []ChangelogPartition{{States: state(a, A)}, {}, {States: state(c, C2)}, {States: state(b, B2)}},
			nil, 3, 0},
		{"a copy that differs from the owner's", []ChangelogPartition{{States: state(a, A, c, old)}, {}, {States: state(c, C2)}, {}},
			[]Move{{Key: c, From: 0, To: 2, Value: old2}}, 2, 1},
		{"the same stray in two partitions", []ChangelogPartition{{States: state(b, B)}, {States: state(b, B)}},
			[]Move{{Key: b, From: 0, To: 3, Value: B2, Write: true}, {Key: b, From: 1, To: 3, Value: B2}}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanRepartition(tt.parts, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Moves, tt.moves) {
				t.Errorf("moves\n got %+v\nwant %+v", p.Moves, tt.moves)
			}
			if p.States != tt.states || p.Conflicts != tt.conflicts {
				t.Errorf("states %d conflicts %d, want %d and %d", p.States, p.Conflicts, tt.states, tt.conflicts)
			}
			total := 0
			for _, n := range p.Counts {
				total += n
			}
			if total != len(p.Moves) {
				t.Errorf("counts add up to %d, %d moves", total, len(p.Moves))
			}
		})
	}
	if _, err := PlanRepartition(make([]ChangelogPartition, 6), 4); err == nil {
		t.Error("a plan to fewer partitions than there are was accepted")
	}
	// A state record that cannot be read is refused, naming it.
	_, err := PlanRepartition([]ChangelogPartition{{States: state(b, []byte("junk"))}}, 4)
	if err == nil || !strings.Contains(err.Error(), b) {
		t.Errorf("an unreadable state: %v", err)
	}
}

// Every partition gets the highest position any partition applied, per
// input partition.
func TestPlanRepartitionSources(t *testing.T) {
	parts := []ChangelogPartition{
		{Sources: map[string]SourcePos{"in/0": {Off: 10, Idx: 0}, "in/1": {Off: 4, Idx: 2}}},
		{Sources: map[string]SourcePos{"in/0": {Off: 10, Idx: 1}, "in@ab12/2": {Off: 3}}},
		{},
	}
	p, err := PlanRepartition(parts, 6)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SourcePos{"in/0": {Off: 10, Idx: 1}, "in/1": {Off: 4, Idx: 2}, "in@ab12/2": {Off: 3}}
	if !reflect.DeepEqual(p.Sources, want) {
		t.Errorf("sources %v, want %v", p.Sources, want)
	}
}

// Every partition holds every held domain; each held recipient is listed
// by the partition it moves to; each partition keeps its own replay offset.
func TestPlanRepartitionHolds(t *testing.T) {
	early := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	held := append(keysFor(t, 1, 4, 2), keysFor(t, 2, 4, 1)...)
	parts := []ChangelogPartition{
		{Holds: &guard.Holds{Off: 40, Domains: map[string]*guard.Hold{"example.org": {Since: early.Add(time.Minute), Rule: "r2", Held: held[:2]}}}},
		{Holds: &guard.Holds{Off: 37, Domains: map[string]*guard.Hold{"example.org": {Since: early, Rule: "r1", Held: held[1:]}}}},
	}
	p, err := PlanRepartition(parts, 4)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for i, h := range p.Holds {
		wantOff := int64(-1)
		if i < len(parts) {
			wantOff = parts[i].Holds.Off
		}
		if h.Off != wantOff {
			t.Errorf("partition %d: off %d, want %d", i, h.Off, wantOff)
		}
		d := h.Domains["example.org"]
		if d == nil || !d.Since.Equal(early) || d.Rule != "r1" {
			t.Fatalf("partition %d: hold %+v, want since %s by r1", i, d, early)
		}
		for _, k := range d.Held {
			if PartitionOf([]byte(k), 4) != i {
				t.Errorf("%s is held on partition %d, lives on %d", k, i, PartitionOf([]byte(k), 4))
			}
			all = append(all, k)
		}
	}
	slices.Sort(all)
	want := slices.Clone(held)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("held %v, want each of %v once", all, want)
	}
}

func TestPlanString(t *testing.T) {
	p := &Plan{Partitions: 12, States: 5, Moves: make([]Move, 3), Counts: map[[2]int]int{{1, 7}: 1, {0, 6}: 2}}
	want := "5 recipients, 3 to move to 12 partitions\n  0 -> 6: 2\n  1 -> 7: 1"
	if got := p.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecodeLayout(t *testing.T) {
	m, err := LayoutMessage("bounced.state", 3, Layout{Partitions: 12})
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != KeyLayout || m.Partition != 3 {
		t.Fatalf("layout record keyed %q on %d", m.Key, m.Partition)
	}
	l, err := DecodeLayout(m.Value)
	if err != nil || l != (Layout{Partitions: 12}) {
		t.Fatalf("round trip: %+v, %v", l, err)
	}
	if l, err := DecodeLayout(nil); err != nil || l != (Layout{}) {
		t.Errorf("a tombstone: %+v, %v", l, err)
	}
	for _, bad := range []string{`{"partitions":0,"complete":true}`, `{"partitions":-3}`, `[1]`, `{`} {
		if _, err := DecodeLayout([]byte(bad)); err == nil || !strings.Contains(err.Error(), "decode layout") {
			t.Errorf("%s: %v, want a decode layout error", bad, err)
		}
	}
}

// FuzzDecodeLayout: any value is a layout with at least one partition or
// an error, never a panic.
func FuzzDecodeLayout(f *testing.F) {
	f.Add([]byte(`{"partitions":12,"complete":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLayout(b)
		if err == nil && len(b) > 0 && l.Partitions < 1 {
			t.Fatalf("%q decoded to %+v", b, l)
		}
	})
}
