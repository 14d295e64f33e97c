package raw

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// goldenRecord is a Record as the golden files show it: Payload as text so
// that a diff reads like the log.
type goldenRecord struct {
	Payload      string `json:"payload"`
	Host         string `json:"host,omitempty"`
	Program      string `json:"program,omitempty"`
	PID          int    `json:"pid,omitempty"`
	Time         string `json:"time,omitempty"`
	TimeInferred bool   `json:"time_inferred,omitempty"`
	TimeSource   string `json:"time_source,omitempty"`
	Shipper      string `json:"shipper,omitempty"`
	File         string `json:"file,omitempty"`
	Offset       int64  `json:"offset,omitempty"`
}

type goldenCase struct {
	Line   int           `json:"line"`
	Format string        `json:"format"`
	Record *goldenRecord `json:"record,omitempty"`
	Error  string        `json:"error,omitempty"`
}

func toGolden(rec Record) *goldenRecord {
	g := &goldenRecord{
		Payload: string(rec.Payload), Host: rec.Host, Program: rec.Program, PID: rec.PID,
		TimeInferred: rec.TimeInferred, TimeSource: rec.TimeSource, Shipper: rec.Shipper, File: rec.File, Offset: rec.Offset,
	}
	if !rec.Time.IsZero() {
		g.Time = rec.Time.Format(time.RFC3339Nano)
	}
	return g
}

// goldenReceived is the Kafka timestamp every golden record gets: after
// all the sample lines, so year inference puts "Dec 21" in 2023.
var goldenReceived = time.Date(2024, 4, 6, 0, 0, 0, 0, time.UTC)

// TestGolden unwraps and detects every record of testdata/envelopes/*.txt
// (one Kafka value per line; lines starting with '#' are source notes) and
// compares with testdata/golden/<name>.json. Run with -update to rewrite
// the golden files, then read the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/envelopes/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	cfg := Config{}.WithDefaults()
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var cases []goldenCase
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for n := 1; sc.Scan(); n++ {
				line := sc.Bytes()
				if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
					continue
				}
				c := goldenCase{Line: n}
				rec, err := Unwrap(cfg, bytes.Clone(line), goldenReceived)
				if err != nil {
					var re *Error
					if !errors.As(err, &re) {
						t.Fatalf("line %d: error %v is not an *Error", n, err)
					}
					c.Error = err.Error()
				} else {
					c.Record = toGolden(rec)
					c.Format = Detect(rec)
				}
				cases = append(cases, c)
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(cases, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the output; run go test ./processor/ingest/raw -update and read the diff.\ngot:\n%s", path, got)
			}
		})
	}
}
