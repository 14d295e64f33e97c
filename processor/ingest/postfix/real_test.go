package postfix

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

// realExpectation is one line of testdata/real/*.expected.jsonl, written by
// scripts/mta-logs from what the scripted SMTP sink answered (see
// internal/smtpsink.Expect), not from this adapter's output.
type realExpectation struct {
	Line      int    `json:"line"`
	Recipient string `json:"recipient"`
	Outcome   string `json:"outcome"`
	Code      int    `json:"code"`
	Enhanced  string `json:"enhanced"`
	Source    string `json:"source"`
	Why       string `json:"why"`
}

func readExpectations(t *testing.T, path string) map[int][]realExpectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]realExpectation{}
	dec := json.NewDecoder(f)
	for dec.More() {
		var x realExpectation
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[x.Line] = append(out[x.Line], x)
	}
	return out
}

// TestRealLogs decodes the logs a real Postfix wrote (scripts/mta-logs)
// through Unwrap and the Decoder, line by line as a shipper would deliver
// them, and holds every attempt to what the sink answered: recipient,
// outcome, SMTP code and enhanced code. Every other line must be skipped
// with a reason (counted in the test log), never an attempt or an error.
func TestRealLogs(t *testing.T) {
	logs, _ := filepath.Glob("testdata/real/*.log")
	if len(logs) == 0 {
		t.Fatal("no testdata/real/*.log (scripts/mta-logs writes them)")
	}
	for _, path := range logs {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		t.Run(name, func(t *testing.T) {
			want := readExpectations(t, strings.TrimSuffix(path, ".log")+".expected.jsonl")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// The log's stamps carry no year; Received gives it one.
			received := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
			cfg := raw.Config{}.WithDefaults()
			d := New(Config{})
			skips := map[string]int{}
			attempts := 0
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			n := 0
			for sc.Scan() {
				n++
				at := path + ":" + strconv.Itoa(n)
				rec, err := raw.Unwrap(cfg, sc.Bytes(), received)
				if err != nil {
					t.Fatalf("%s: Unwrap: %v", at, err)
				}
				as, skip, err := d.Decode(rec)
				checkContract(t, at, as, skip, err)
				if err != nil {
					var re *raw.Error
					errors.As(err, &re)
					t.Errorf("%s: error %s (%v); a real Postfix line must decode", at, re.Reason, re.Err)
					continue
				}
				xs := want[n]
				delete(want, n)
				if skip != "" {
					skips[skip]++
					if skip == SkipReinjected && loopbackQueuedAs(xs) {
						// The sink listens on loopback, and a delivery to a
						// loopback relay whose reply says "queued as ID" is
						// what a content filter hand-off looks like: the
						// adapter skips it by design (doc.go). A harness
						// artifact, counted apart so it stays visible.
						skips["harness.loopback_queued_as"]++
						continue
					}
					if len(xs) > 0 {
						t.Errorf("%s: skipped (%s), want %d attempt(s): %s", at, skip, len(xs), xs[0].Why)
					}
					continue
				}
				attempts += len(as)
				checkAttempts(t, at, as, xs)
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
		})
	}
}

// loopbackQueuedAs reports whether a line's expectations are deliveries
// the sink confirmed with a "queued as" reply.
func loopbackQueuedAs(xs []realExpectation) bool {
	for _, x := range xs {
		if x.Outcome != string(event.Delivered) || x.Source != "sink" || !strings.Contains(x.Why, "queued as ") {
			return false
		}
	}
	return len(xs) > 0
}

// checkAttempts compares the attempts of one line with its expectations,
// matched by recipient (ASCII case folded: the address's case is the
// MTA's, normalisation is ingest's).
func checkAttempts(t *testing.T, at string, as []event.Attempt, xs []realExpectation) {
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
