package golden

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// Expectation is one line of testdata/real/*.expected.jsonl, written by
// scripts/mta-logs from what the scripted SMTP sink answered (see
// internal/smtpsink.Expect), not from an adapter's output.
type Expectation struct {
	Line      int    `json:"line"`
	Recipient string `json:"recipient"`
	Outcome   string `json:"outcome"`
	Code      int    `json:"code"`
	Enhanced  string `json:"enhanced"`
	Source    string `json:"source"`
	Why       string `json:"why"`
}

// Real is an adapter under RealLogs.
type Real struct {
	// Kind is the adapter's source kind; its skips and errors are
	// prefixed "<Kind>.".
	Kind string
	// New makes a fresh decoder for each log.
	New func() Decoder
	// Harness, when not nil, names a skip that the harness itself causes
	// (counted apart, not failed), or returns "".
	Harness func(skip string, xs []Expectation) string
}

// RealLogs decodes the logs a real MTA wrote (testdata/real/*.log, from
// scripts/mta-logs) through Unwrap and a decoder, line by line as a
// shipper would deliver them, and holds every attempt to what the sink
// answered: recipient, outcome, SMTP code and enhanced code. Every other
// line must be skipped with a reason (counted in the test log), never an
// attempt or an error.
func RealLogs(t *testing.T, r Real) {
	t.Helper()
	logs, _ := filepath.Glob("testdata/real/*.log")
	if len(logs) == 0 {
		t.Fatal("no testdata/real/*.log (scripts/mta-logs writes them)")
	}
	for _, path := range logs {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".log"), func(t *testing.T) { realLog(t, r, path) })
	}
}

func realLog(t *testing.T, r Real, path string) {
	want := readExpectations(t, strings.TrimSuffix(path, ".log")+".expected.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Syslog stamps carry no year; the receive time gives them one.
	received := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	cfg := raw.Config{}.WithDefaults()
	d := r.New()
	skips := map[string]int{}
	attempts, n := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		at := path + ":" + strconv.Itoa(n)
		rec, err := raw.Unwrap(cfg, sc.Bytes(), received)
		if err != nil {
			t.Fatalf("%s: Unwrap: %v", at, err)
		}
		as, skip, err := d.Decode(rec)
		checkContract(t, r.Kind, at, as, skip, err)
		xs := want[n]
		delete(want, n)
		switch {
		case err != nil:
			t.Errorf("%s: %v; a real %s line must decode", at, err, r.Kind)
		case skip != "" && r.Harness != nil && r.Harness(skip, xs) != "":
			skips[r.Harness(skip, xs)]++
		case skip != "":
			skips[skip]++
			if len(xs) > 0 {
				t.Errorf("%s: skipped (%s), want %d attempt(s): %s", at, skip, len(xs), xs[0].Why)
			}
		default:
			attempts += len(as)
			checkAttempts(t, at, as, xs)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for line, xs := range want {
		t.Errorf("%s:%d: expectation for a line the log does not have: %+v", path, line, xs)
	}
	reasons := make([]string, 0, len(skips))
	for r, c := range skips {
		reasons = append(reasons, r+"="+strconv.Itoa(c))
	}
	sort.Strings(reasons)
	t.Logf("%d lines: %d attempts; skipped %s", n, attempts, strings.Join(reasons, " "))
}

func readExpectations(t *testing.T, path string) map[int][]Expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]Expectation{}
	dec := json.NewDecoder(f)
	for dec.More() {
		var x Expectation
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[x.Line] = append(out[x.Line], x)
	}
	return out
}

// checkAttempts compares the attempts of one line with its expectations,
// matched by recipient (ASCII case folded: the address's case is the
// MTA's, normalisation is ingest's).
func checkAttempts(t *testing.T, at string, as []event.Attempt, xs []Expectation) {
	t.Helper()
	if len(as) != len(xs) {
		got := make([]string, len(as))
		for i, a := range as {
			got[i] = a.Recipient + " " + string(a.Outcome)
		}
		t.Errorf("%s: %d attempts %v, want %d: %+v", at, len(as), got, len(xs), xs)
		return
	}
	for _, x := range xs {
		var a *event.Attempt
		for i := range as {
			if strings.EqualFold(as[i].Recipient, x.Recipient) {
				a = &as[i]
			}
		}
		if a == nil {
			t.Errorf("%s: no attempt for %s (%s)", at, x.Recipient, x.Why)
			continue
		}
		if string(a.Outcome) != x.Outcome || a.SMTP.Code != x.Code || a.SMTP.Enhanced != x.Enhanced {
			t.Errorf("%s: %s read as %s %d %q, want %s %d %q (%s: %s)", at, x.Recipient,
				a.Outcome, a.SMTP.Code, a.SMTP.Enhanced, x.Outcome, x.Code, x.Enhanced, x.Source, x.Why)
		}
	}
}

// checkContract holds one Decode result to the adapter contract: exactly
// one of attempts, a skip reason or an error, each prefixed with the kind,
// and complete attempts.
func checkContract(t *testing.T, kind, at string, as []event.Attempt, skip string, err error) {
	t.Helper()
	n := 0
	if len(as) > 0 {
		n++
	}
	if skip != "" {
		n++
		if !strings.HasPrefix(skip, kind+".") {
			t.Fatalf("%s: skip %q has no %s. prefix", at, skip, kind)
		}
	}
	if err != nil {
		n++
		var re *raw.Error
		if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, kind+".") {
			t.Fatalf("%s: error %v is not a *raw.Error with a %s. reason", at, err, kind)
		}
	}
	if n != 1 {
		t.Fatalf("%s: want exactly one of attempts, skip, error; got %d attempts, skip %q, err %v", at, len(as), skip, err)
	}
	for _, a := range as {
		if a.Recipient == "" || !a.Outcome.Valid() || a.OccurredAt.IsZero() || a.EventID == "" || a.Source.Kind != kind || a.Attempt < 1 {
			t.Fatalf("%s: incomplete attempt %+v", at, a)
		}
	}
}
