// Package golden holds the adapters' golden-file test: decode a file of
// sample records line by line and compare what they became with a stored
// expectation, or rewrite it with -update.
package golden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// Decoder is an input adapter.
type Decoder interface {
	Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error)
}

// line is one line of a golden file: what one input line became.
type line struct {
	Line     int             `json:"line"`
	Attempts []event.Attempt `json:"attempts,omitempty"`
	Skip     string          `json:"skip,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// File decodes testdata/<name>.txt in order with d (blank lines and lines
// starting with # are source notes, skipped) and compares the result with
// testdata/golden/<name>.jsonl; with update it rewrites that file instead.
// record turns a line into the raw.Record an unwrapper would hand over.
func File(t *testing.T, name string, update bool, d Decoder, record func(string) raw.Record) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		atts, skip, err := d.Decode(record(text))
		g := line{Line: n, Attempts: atts, Skip: skip}
		if err != nil {
			g.Error = err.Error()
		}
		b, _ := json.Marshal(g)
		got.Write(b)
		got.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name+".jsonl")
	if update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("golden mismatch at output line %d:\n got %s\nwant %s\n(run go test -update if the change is intended)", i+1, g, w)
		}
	}
}
