package mail

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// TestDetect: format detection picks "mail" for every sample message
// (after Unwrap, as stage 1 sees it), and for no line of the other
// formats' samples (the shared samples and the other adapters' testdata).
func TestDetect(t *testing.T) {
	cfg := raw.Config{}.WithDefaults()
	for _, f := range samples(t) {
		rec, err := raw.Unwrap(cfg, readFile(t, f), received)
		if err != nil {
			t.Errorf("%s: Unwrap: %v", f, err)
			continue
		}
		if got := raw.Detect(rec); got != raw.FormatMail {
			t.Errorf("%s: detected as %q, want %q", f, got, raw.FormatMail)
		}
	}
	others, _ := filepath.Glob("/work/shared/samples/*.txt")
	for _, dir := range []string{"postfix", "exim", "pmta", "kumo", "esp"} {
		fs, _ := filepath.Glob(filepath.Join("..", dir, "testdata", "*.txt"))
		others = append(others, fs...)
		fs, _ = filepath.Glob(filepath.Join("..", dir, "testdata", "real", "*.log"))
		others = append(others, fs...)
	}
	if len(others) == 0 {
		t.Fatal("no samples of other formats found")
	}
	lines := 0
	for _, f := range others {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// ESP bodies are whole files (JSON that may span lines); logs
		// are one record a line.
		recs := [][]byte{b}
		if !strings.Contains(f, "/esp/") {
			recs = nil
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
					continue
				}
				recs = append(recs, bytes.Clone(line))
			}
		} else {
			recs = [][]byte{stripNotes(b)}
		}
		for _, r := range recs {
			lines++
			rec, err := raw.Unwrap(cfg, r, received)
			if err != nil {
				continue
			}
			if raw.Detect(rec) == raw.FormatMail {
				t.Errorf("%s: %.80q detected as mail", f, r)
			}
		}
	}
	t.Logf("%d records of other formats, none detected as mail", lines)
}

// stripNotes drops the leading "#" source notes of a testdata body.
func stripNotes(b []byte) []byte {
	for bytes.HasPrefix(b, []byte("#")) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	return b
}
