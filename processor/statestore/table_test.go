package statestore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

func TestTable(t *testing.T) {
	tb := NewTable(0)
	if _, ok := tb.Get("a@x.example"); ok {
		t.Fatal("empty table has a key")
	}
	for i := range 3 * pageSize {
		tb.Put(fmt.Sprintf("r%d@x.example", i), streak.State{LastOff: int64(i)})
	}
	if tb.Len() != 3*pageSize {
		t.Fatalf("len %d", tb.Len())
	}
	s, ok := tb.Get("r4097@x.example")
	if !ok || s.LastOff != 4097 {
		t.Fatalf("get: %v %+v", ok, s)
	}
	mark := &streak.Mark{Status: event.StatusSuppressed, Class: event.ClassHard}
	tb.PutBytes([]byte("r1@x.example"), streak.State{LastOff: 99, Mark: mark, Streak: []streak.Fail{{Send: 1}}})
	if s, _ := tb.Get("r1@x.example"); s.LastOff != 99 || s.Mark != mark || len(s.Streak) != 1 {
		t.Fatalf("update: %+v", s)
	}
	tb.Delete("r2@x.example")
	if _, ok := tb.Get("r2@x.example"); ok || tb.Len() != 3*pageSize-1 {
		t.Fatal("delete")
	}
	tb.Put("new@x.example", streak.State{LastOff: 5})
	if tb.used != 3*pageSize {
		t.Fatalf("a deleted entry was not reused: used %d", tb.used)
	}
	if s, _ := tb.Get("new@x.example"); s.LastOff != 5 || s.Mark != nil {
		t.Fatalf("reused entry kept old data: %+v", s)
	}
	n := 0
	tb.Range(func([]byte, streak.State) bool { n++; return true })
	if n != tb.Len() {
		t.Fatalf("range visited %d of %d", n, tb.Len())
	}
}

// TestTableSeen: lists of every length, across the ids an entry holds
// itself, come back equal and never alias what the table keeps.
func TestTableSeen(t *testing.T) {
	tb := NewTable(0)
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var seen []streak.Seen
	for n := range 33 {
		if n > 0 {
			seen = append(seen, streak.SeenOf(fmt.Sprint(n), at.Add(time.Duration(n)*time.Hour)))
		}
		key := fmt.Sprintf("r%d@x.example", n)
		in := slices.Clone(seen)
		tb.Put(key, streak.State{LastOff: int64(n), Seen: in, Mark: &streak.Mark{}})
		if n > 0 {
			in[0] = 0 // the caller's slice is its own once stored...
		}
		got, _ := tb.Get(key)
		if !slices.Equal(got.Seen, seen) {
			t.Fatalf("%d ids: got %v, want %v", n, got.Seen, seen)
		}
		if n > 0 {
			got.Seen[len(got.Seen)-1] = 0 // ...and so is what Get returns
			if again, _ := tb.Get(key); !slices.Equal(again.Seen, seen) {
				t.Fatalf("%d ids: changed through a state handed out: %v", n, again.Seen)
			}
		}
		tb.Put(key, streak.State{LastOff: int64(n)}) // a lift: the list goes
		if got, _ := tb.Get(key); got.Seen != nil {
			t.Fatalf("%d ids: kept after a reset: %v", n, got.Seen)
		}
	}
}

// states builds n recipients shaped like a real list: most only ever had
// deliveries, a few carry a soft streak, a few are suppressed.
func states(n int) (keys []string, vals []streak.State) {
	for i := range n {
		k, s := recipient(i)
		keys = append(keys, k)
		vals = append(vals, s)
	}
	return keys, vals
}

// seenCount is how many event ids recipient i has within the duplicate
// window: a handful of attempts a week, 1 to 4 for most (2.5 on average),
// 8 for one in twenty (a busy week, deferrals retried), the guard's bound
// of 32 for one in a thousand (a hot address).
func seenCount(i int) int {
	switch {
	case i%1000 == 999:
		return 32
	case i%20 == 19:
		return 8
	}
	return 1 + i%4
}

func recipient(i int) (string, streak.State) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	{
		s := streak.State{LastOff: int64(i) * 7, LastDelivery: at.UnixNano(), Sends: [3]uint64{uint64(i) << 8, uint64(i)<<8 + 1}}
		for j := range seenCount(i) {
			s.Seen = append(s.Seen, streak.SeenOf(fmt.Sprint(i, "/", j), at.Add(time.Duration(j)*5*time.Hour)))
		}
		switch {
		case i%50 == 0: // 2%: an open soft streak
			s.Streak = []streak.Fail{{Send: uint64(i), At: at.UnixNano(), Evidence: event.Evidence{At: at, CampaignID: "spring-sale", Code: 452, Enhanced: "4.2.2", Text: "452 4.2.2 The email account that you tried to reach is over quota.", Label: event.MailboxFull, Rule: "text.mailbox_full"}}}
		case i%50 == 1: // 2%: suppressed
			s.Mark = &streak.Mark{Status: event.StatusSuppressed, Class: event.ClassHard, Label: event.MailboxUnknown, Source: event.OriginAuto, Since: at}
		}
		return fmt.Sprintf("user%07d@mail%d.example.com", i, i%100), s
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	keys, vals := states(10000)
	tb := NewTable(0)
	for i := range keys {
		tb.Put(keys[i], vals[i])
	}
	path := filepath.Join(t.TempDir(), "bounced.state-3.ckpt")
	if _, _, err := Load(path); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("missing file: %v", err)
	}
	want := Checkpoint{Topic: "bounced.state", Partition: 3, Offset: 123456, Meta: []byte(`{"in/0":{"o":5}}`)}
	if err := Save(path, tb, want); err != nil {
		t.Fatal(err)
	}
	got, c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want) || got.Len() != len(keys) {
		t.Fatalf("checkpoint %+v len %d", c, got.Len())
	}
	for i, k := range keys {
		s, ok := got.Get(k)
		if !ok || s.LastOff != vals[i].LastOff || !slices.Equal(s.Seen, vals[i].Seen) || len(s.Streak) != len(vals[i].Streak) || (s.Mark == nil) != (vals[i].Mark == nil) {
			t.Fatalf("%s: %+v, want %+v", k, s, vals[i])
		}
	}
	// A flipped byte anywhere is caught, never loaded.
	b, _ := os.ReadFile(path)
	for _, at := range []int{len(magic) + 3, len(b) / 2, len(b) - 5} {
		bad := append([]byte(nil), b...)
		bad[at] ^= 0x40
		os.WriteFile(path, bad, 0o644)
		if _, _, err := Load(path); err == nil {
			t.Errorf("byte %d flipped: loaded without error", at)
		}
	}
}

// TestMemoryPerRecipient measures the heap a table holds per recipient
// with the mix of states() — the ceiling is 150 bytes. The ids
// are built before "before" is read, as a state arriving from the fold
// would be; only what the table keeps is counted.
func TestMemoryPerRecipient(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a million recipients")
	}
	const n = 1_000_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tb := NewTable(0)
	for i := range n {
		k, s := recipient(i) // everything the table holds is allocated after "before"
		tb.Put(k, s)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(tb)
	t.Logf("%d recipients: %.0f bytes of heap each (keys of 27 bytes, 2.8 seen ids on average, 2%% with a soft streak, 2%% suppressed)", n, per)
	if per > 150 {
		t.Errorf("%.0f bytes per recipient, above the 150-byte ceiling", per)
	}
}

func BenchmarkCheckpointLoad(b *testing.B) {
	keys, vals := states(200000)
	tb := NewTable(0)
	for i := range keys {
		tb.Put(keys[i], vals[i])
	}
	path := filepath.Join(b.TempDir(), "c")
	if err := Save(path, tb, Checkpoint{Topic: "t"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(keys))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// TestTableAgainstMap runs random puts and deletes against a Go map; the
// backward-shift deletion is where an open-addressing table goes wrong.
func TestTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb := NewTable(0)
	ref := map[string]int64{}
	for step := range 200000 {
		k := fmt.Sprintf("k%d@x.example", rng.IntN(5000))
		if rng.IntN(3) == 0 {
			tb.Delete(k)
			delete(ref, k)
		} else {
			tb.Put(k, streak.State{LastOff: int64(step)})
			ref[k] = int64(step)
		}
		if step%20000 == 0 || step == 199999 {
			if tb.Len() != len(ref) {
				t.Fatalf("step %d: len %d, map %d", step, tb.Len(), len(ref))
			}
			for i := range 5000 {
				k := fmt.Sprintf("k%d@x.example", i)
				s, ok := tb.Get(k)
				want, wok := ref[k]
				if ok != wok || ok && s.LastOff != want {
					t.Fatalf("step %d: %s = %v %d, map %v %d", step, k, ok, s.LastOff, wok, want)
				}
			}
			n := 0
			tb.Range(func([]byte, streak.State) bool { n++; return true })
			if n != len(ref) {
				t.Fatalf("step %d: range saw %d, map %d", step, n, len(ref))
			}
		}
	}
}
