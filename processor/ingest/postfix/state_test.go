package postfix

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

func rec(host string, at time.Time, line string) raw.Record {
	return raw.Record{Host: host, Program: "postfix/smtp", Time: at, Payload: []byte(line)}
}

func mustDecode(t *testing.T, d *Decoder, r raw.Record) ([]int, string) {
	t.Helper()
	as, skip, err := d.Decode(r)
	if err != nil {
		t.Fatalf("Decode(%q): %v", r.Payload, err)
	}
	var n []int
	for _, a := range as {
		n = append(n, a.Attempt)
	}
	return n, skip
}

const deferLine = "AB12CD34: to=<u@example.org>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to mx.example.org[192.0.2.1]:25: Connection timed out)"

// TestTTL: an entry silent for longer than the TTL (log time) is forgotten,
// so a late line starts counting again; a shorter gap keeps the count.
func TestTTL(t *testing.T) {
	d := New(Config{TTL: time.Hour})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mustDecode(t, d, rec("h", t0, deferLine))
	if n, _ := mustDecode(t, d, rec("h", t0.Add(50*time.Minute), deferLine)); n[0] != 2 {
		t.Fatalf("attempt %d within the TTL, want 2", n[0])
	}
	// Another message's line moves the clock; the sweep evicts the first.
	mustDecode(t, d, rec("h", t0.Add(3*time.Hour), strings.Replace(deferLine, "AB12CD34", "AB12CD35", 1)))
	if d.Len() != 1 {
		t.Fatalf("Len %d after the TTL passed, want 1", d.Len())
	}
	if n, _ := mustDecode(t, d, rec("h", t0.Add(3*time.Hour+time.Second), deferLine)); n[0] != 1 {
		t.Fatalf("attempt %d after the TTL, want 1", n[0])
	}
}

// TestMaxEntries: beyond the bound the least recently touched entry goes.
func TestMaxEntries(t *testing.T) {
	d := New(Config{MaxEntries: 2})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(q string) string { return strings.Replace(deferLine, "AB12CD34", q, 1) }
	mustDecode(t, d, rec("h", t0, line("AAAAA1")))
	mustDecode(t, d, rec("h", t0.Add(time.Second), line("AAAAA2")))
	mustDecode(t, d, rec("h", t0.Add(2*time.Second), line("AAAAA1"))) // touch 1: 2 is now oldest
	mustDecode(t, d, rec("h", t0.Add(3*time.Second), line("AAAAA3")))
	if d.Len() != 2 {
		t.Fatalf("Len %d, want 2", d.Len())
	}
	if n, _ := mustDecode(t, d, rec("h", t0.Add(4*time.Second), line("AAAAA1"))); n[0] != 3 {
		t.Fatalf("AAAAA1 attempt %d, want 3 (kept)", n[0])
	}
	if n, _ := mustDecode(t, d, rec("h", t0.Add(5*time.Second), line("AAAAA2"))); n[0] != 1 {
		t.Fatalf("AAAAA2 attempt %d, want 1 (evicted)", n[0])
	}
}

// TestSnapshotRoundTrip: Restore(Snapshot()) gives a Decoder that snapshots
// identically, and a restore into a smaller MaxEntries keeps the newest.
func TestSnapshotRoundTrip(t *testing.T) {
	d := New(Config{})
	for _, l := range readLog(t, "testdata/tx/expired.log")[:6] {
		d.Decode(l.rec)
	}
	for _, l := range readLog(t, "testdata/tx/lifecycle.log")[:8] {
		d.Decode(l.rec)
	}
	a, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d2 := New(Config{})
	if err := d2.Restore(a); err != nil {
		t.Fatal(err)
	}
	b, _ := d2.Snapshot()
	if !bytes.Equal(a, b) {
		t.Fatalf("snapshot changed across Restore:\n%s\n%s", a, b)
	}
	d3 := New(Config{MaxEntries: 1})
	if err := d3.Restore(a); err != nil {
		t.Fatal(err)
	}
	if d3.Len() != 1 || d3.st.head.key.qid != "30B2533C076" {
		t.Fatalf("restore into MaxEntries 1 kept %d entries", d3.Len())
	}
}

// TestRestoreRejects: a bad snapshot is an error and leaves state alone.
func TestRestoreRejects(t *testing.T) {
	d := New(Config{})
	mustDecode(t, d, rec("h", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), deferLine))
	for _, bad := range []string{``, `{`, `{"v":2,"e":[]}`, `{"v":1,"e":[{"h":"x"}]}`, `[]`} {
		if err := d.Restore([]byte(bad)); err == nil {
			t.Errorf("Restore(%q) succeeded", bad)
		}
	}
	if d.Len() != 1 {
		t.Fatalf("failed Restore changed the state: Len %d", d.Len())
	}
}

// TestConfigValidate names the offending key.
func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	for _, c := range []struct {
		cfg Config
		key string
	}{
		{Config{TTL: -time.Second}, "ingest.postfix.ttl"},
		{Config{TTL: time.Second}, "ingest.postfix.ttl"},
		{Config{MaxEntries: -1}, "ingest.postfix.max_entries"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.key+":") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c.cfg, err, c.key)
		}
	}
}

// TestNoProgram: without a program name, Postfix shapes are accepted and
// anything else is an error, never a silent skip.
func TestNoProgram(t *testing.T) {
	d := New(Config{})
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	r := raw.Record{Time: at, Payload: []byte(deferLine)}
	if as, _, err := d.Decode(r); err != nil || len(as) != 1 {
		t.Fatalf("status line without program: %v, %v", as, err)
	}
	r.Payload = []byte("hello world")
	if _, _, err := d.Decode(r); err == nil {
		t.Fatal("a non-Postfix line without a program was accepted")
	}
	r.Payload = []byte(deferLine)
	r.Time = time.Time{}
	if _, _, err := d.Decode(r); err == nil || !strings.HasPrefix(err.Error(), ReasonNoTime) {
		t.Fatalf("status line without time: %v", err)
	}
}
