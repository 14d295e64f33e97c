package suppressions

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func rec(addr string, status event.Status) event.Suppression {
	return event.Suppression{
		Address: addr, Status: status, Class: "hard", Label: "mailbox_unknown",
		Reason: `hard bounce: 550 5.1.1 "user unknown", said mx`, Rule: "hard.user_unknown",
		Since: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC),
		Source: event.OriginAuto,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestSyncFormatsGolden renders one list in each format.
func TestSyncFormatsGolden(t *testing.T) {
	recs := []event.Suppression{
		rec("a@example.com", event.StatusSuppressed),
		rec(`"john doe"@example.com`, event.StatusSuppressed), // a quoted local part with a space
		rec("#hash@example.com", event.StatusSuppressed),      // postmap would read a comment
		rec("b@xn--bcher-kva.example", event.StatusSuppressed),
	}
	recs[3].Class, recs[3].Label = "complaint", "complaint"
	for _, tc := range []struct {
		name   string
		format Format
		want   int
	}{
		{"postfix.golden", Postfix, 2},
		{"csv.golden", CSV, 4},
	} {
		var buf bytes.Buffer
		n, err := tc.format(&buf, recs)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("%s: %d addresses written, want %d", tc.name, n, tc.want)
		}
		golden(t, tc.name, buf.Bytes())
	}
}

func change(addr string, status event.Status) Change {
	r := rec(addr, status)
	return Change{Address: addr, Record: &r}
}

func newTestFile(t *testing.T, cfg FileConfig) *File {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "suppressed")
	}
	if cfg.Format == nil {
		cfg.Format = Postfix
	}
	f, err := NewFile(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSyncFileSortedHeldLeftOut: the file lists enforced suppressions only,
// sorted by address, written at the catch-up and after later changes; a
// lift removes the line.
func TestSyncFileSortedHeldLeftOut(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t, FileConfig{})
	for _, c := range []Change{change("c@x.example", event.StatusSuppressed), change("held@x.example", event.StatusHeld), change("a@x.example", event.StatusSuppressed)} {
		if err := f.Change(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(f.cfg.Path); !os.IsNotExist(err) {
		t.Fatal("the file was written before the feed caught up")
	}
	if err := f.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, f.cfg.Path); got != "a@x.example c@x.example" {
		t.Errorf("file lists %q, want a and c in order, the held one left out", got)
	}
	if err := f.Change(ctx, Change{Address: "a@x.example"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, f.cfg.Path); got != "c@x.example" {
		t.Errorf("after lifting a: %q", got)
	}
}

func keys(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Fields(l)[0])
		}
	}
	return strings.Join(out, " ")
}

// TestSyncFileAtomicReplace reads the file over and over while it is
// rewritten with lists of different lengths: every read is one whole list.
func TestSyncFileAtomicReplace(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t, FileConfig{})
	if err := f.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			b, err := os.ReadFile(f.cfg.Path)
			if err != nil {
				bad.Add(1)
				continue
			}
			reads.Add(1)
			lines := strings.Split(string(b), "\n")
			// Whole: ends with a newline, and version n lists 0..n-1.
			if lines[len(lines)-1] != "" || !strings.HasPrefix(lines[0], "# bounced") {
				bad.Add(1)
				continue
			}
			body := lines[1 : len(lines)-1]
			for i, l := range body {
				if !strings.HasPrefix(l, fmt.Sprintf("u%05d@x.example REJECT", i)) {
					bad.Add(1)
					break
				}
			}
		}
	}()
	for i := range 100 {
		// Each version adds ten addresses, so sizes differ.
		for j := range 10 {
			if err := f.Change(ctx, change(fmt.Sprintf("u%05d@x.example", i*10+j), event.StatusSuppressed)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 || reads.Load() == 0 {
		t.Errorf("%d of %d reads saw a partial or missing file", bad.Load(), reads.Load()+bad.Load())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(f.cfg.Path), ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestSyncFileHook: the hook runs after each write that changed the file,
// not after one that did not; a failing hook is logged, not fatal.
func TestSyncFileHook(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "runs")
	f := newTestFile(t, FileConfig{Path: filepath.Join(dir, "suppressed"), Hook: `echo "$BOUNCED_SYNC_FILE" >> ` + marker})
	if err := f.Change(ctx, change("a@x.example", event.StatusSuppressed)); err != nil {
		t.Fatal(err)
	}
	if err := f.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	// A held record changes nothing the file shows: no write, no hook.
	if err := f.Change(ctx, change("h@x.example", event.StatusHeld)); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Change(ctx, change("b@x.example", event.StatusSuppressed)); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(f.cfg.Path+"\n", 2); string(b) != want {
		t.Errorf("hook runs: %q, want %q", b, want)
	}

	failing := newTestFile(t, FileConfig{Hook: "echo no postmap here >&2; exit 3"})
	if err := failing.CaughtUp(ctx); err != nil {
		t.Errorf("a failing hook stopped the sync: %v", err)
	}
}

// TestSyncFileDebounce: Run writes a burst of changes once per tick and
// writes what it has read when stopped.
func TestSyncFileDebounce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var writes atomic.Int64
	f := newTestFile(t, FileConfig{Debounce: 200 * time.Millisecond, Wrote: func(Written) { writes.Add(1) }})
	if err := f.CaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	for i := range 50 {
		_ = f.Change(ctx, change(fmt.Sprintf("u%d@x.example", i), event.StatusSuppressed))
	}
	time.Sleep(300 * time.Millisecond)
	_ = f.Change(ctx, change("last@x.example", event.StatusSuppressed))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n < 2 || n > 4 {
		t.Errorf("%d writes for the catch-up, a burst and a stop; want 3 or so", n)
	}
	if !strings.Contains(keys(t, f.cfg.Path), "last@x.example") {
		t.Error("the change read just before the stop was not written")
	}
}

// TestSyncFileErrors: a path that cannot be written is refused up front
// with what is wrong.
func TestSyncFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "suppressed"), "does not exist"},
		{filepath.Join(file, "suppressed"), "not a directory"},
		{dir, "is a directory"},
		{"", "no path"},
	} {
		_, err := NewFile(FileConfig{Path: tc.path, Format: CSV}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.path, err, tc.want)
		}
	}
}
