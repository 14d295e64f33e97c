package postfix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// baseTime is the Time of records that carry no syslog prefix; it advances
// one second per line so status lines stay ordered.
var baseTime = time.Date(2024, 4, 5, 10, 0, 0, 0, time.UTC)

// syslogPrefix is the RFC 3164 prefix of the sample lines. The real prefix
// parser lives in ingest/raw; the tests only need this fixed shape.
var syslogPrefix = regexp.MustCompile(`^([A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$`)

// testLine is one record of a .log file, or a directive.
type testLine struct {
	n       int // line number in the file
	rec     raw.Record
	restart bool
}

// readLog reads a testdata .log file: "# " lines are notes; "## test/x_N.yaml"
// names the sample the next line came from (its Program is postfix/x);
// "#! restart" moves the state through Snapshot/Restore into a new
// Decoder; every other non-empty line is a record, split at its syslog
// prefix when it has one.
func readLog(t testing.TB, path string) []testLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []testLine
	program := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#! restart"):
			out = append(out, testLine{n: n, restart: true})
			continue
		case strings.HasPrefix(line, "## "):
			base := filepath.Base(strings.TrimSpace(line[3:]))
			svc, _, _ := strings.Cut(base, "_")
			program = "postfix/" + svc
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		rec := raw.Record{Time: baseTime.Add(time.Duration(n) * time.Second)}
		if m := syslogPrefix.FindStringSubmatch(line); m != nil {
			ts, err := time.Parse("Jan _2 15:04:05", m[1])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			rec.Time = ts.AddDate(2024, 0, 0)
			rec.Host, rec.Program = m[2], m[3]
			rec.PID, _ = strconv.Atoi(m[4])
			rec.Payload = []byte(m[5])
		} else {
			rec.Payload = []byte(line)
			if program != "" {
				rec.Host, rec.Program = "testhost", program
			}
		}
		program = ""
		out = append(out, testLine{n: n, rec: rec})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// result is one golden line: what Decode made of one input line.
type result struct {
	Line     int             `json:"line"`
	Attempts []event.Attempt `json:"attempts,omitempty"`
	Skip     string          `json:"skip,omitempty"`
	Error    string          `json:"error,omitempty"`
	Detail   string          `json:"detail,omitempty"`
}

// checkContract holds one Decode result to the adapter contract.
func checkContract(t testing.TB, at string, as []event.Attempt, skip string, err error) {
	t.Helper()
	n := 0
	if len(as) > 0 {
		n++
	}
	if skip != "" {
		n++
	}
	if err != nil {
		n++
		var re *raw.Error
		if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, "postfix.") {
			t.Fatalf("%s: error %v is not a *raw.Error with a postfix. reason", at, err)
		}
	}
	if n != 1 {
		t.Fatalf("%s: want exactly one of attempts, skip, error; got %d attempts, skip %q, err %v", at, len(as), skip, err)
	}
	if skip != "" && !strings.HasPrefix(skip, "postfix.") {
		t.Fatalf("%s: skip %q has no postfix. prefix", at, skip)
	}
	for _, a := range as {
		if a.Recipient == "" || !a.Outcome.Valid() || a.OccurredAt.IsZero() || a.EventID == "" || a.Source.Kind != Kind || a.Attempt < 1 {
			t.Fatalf("%s: incomplete attempt %+v", at, a)
		}
	}
}

// runLog decodes a .log file and renders the golden lines.
func runLog(t *testing.T, path string) []byte {
	var buf bytes.Buffer
	d := New(Config{})
	for _, l := range readLog(t, path) {
		if l.restart {
			snap, err := d.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			d = New(Config{})
			if err := d.Restore(snap); err != nil {
				t.Fatal(err)
			}
			continue
		}
		as, skip, err := d.Decode(l.rec)
		at := path + ":" + strconv.Itoa(l.n)
		checkContract(t, at, as, skip, err)
		r := result{Line: l.n, Attempts: as, Skip: skip}
		if err != nil {
			var re *raw.Error
			errors.As(err, &re)
			r.Error, r.Detail = re.Reason, re.Err.Error()
		}
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep URLs in replies readable
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestGolden decodes every testdata .log file (real samples and the
// hand-written transactions) and compares with testdata/golden; run with
// -update to rewrite the golden files after reviewing the diff.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.log")
	tx, _ := filepath.Glob("testdata/tx/*.log")
	files = append(files, tx...)
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, path := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(path), "testdata/"), ".log")
		name = strings.ReplaceAll(name, "/", "_")
		t.Run(name, func(t *testing.T) {
			got := runLog(t, path)
			golden := filepath.Join("testdata", "golden", name+".jsonl")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("%s differs at output line %d:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%s: %d output lines, want %d", golden, len(gl), len(wl))
			}
		})
	}
}
