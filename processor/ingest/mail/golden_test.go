package mail

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

// received is the Kafka timestamp the tests give every record.
var received = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// samples lists the real messages under testdata.
func samples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in testdata: %v", err)
	}
	return files
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// render writes a Decode result as JSON lines: one attempt per line, or one
// {"skip": …} or {"error": …, "detail": …} line.
func render(t testing.TB, as []event.Attempt, skip string, err error) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	switch {
	case err != nil:
		var re *raw.Error
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a *raw.Error", err)
		}
		enc.Encode(map[string]string{"error": re.Reason, "detail": re.Err.Error()})
	case skip != "":
		enc.Encode(map[string]string{"skip": skip})
	}
	for i := range as {
		if err := enc.Encode(&as[i]); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestGolden decodes every real message in testdata and compares the
// result with testdata/golden/<name>.jsonl (go test -update rewrites them).
func TestGolden(t *testing.T) {
	d := New(Config{})
	for _, f := range samples(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			as, skip, err := d.Decode(raw.Record{Payload: readFile(t, f), Received: received})
			checkContract(t, as, skip, err)
			got := render(t, as, skip, err)
			golden := filepath.Join("testdata", "golden", name+".jsonl")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

// checkContract holds a Decode result to the adapter contract: exactly one
// of attempts, skip or error, prefixed "mail."; complete attempts; nothing
// ingest derives.
func checkContract(t testing.TB, as []event.Attempt, skip string, err error) {
	t.Helper()
	n := 0
	if len(as) > 0 {
		n++
	}
	if skip != "" {
		n++
		if !strings.HasPrefix(skip, Kind+".") {
			t.Fatalf("skip %q has no mail. prefix", skip)
		}
	}
	if err != nil {
		n++
		var re *raw.Error
		if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, Kind+".") {
			t.Fatalf("error %v is not a *raw.Error with a mail. reason", err)
		}
	}
	if n != 1 {
		t.Fatalf("want exactly one of attempts, skip, error; got %d attempts, skip %q, err %v", len(as), skip, err)
	}
	for i := range as {
		a := &as[i]
		switch {
		case a.Recipient == "" || !looksLikeAddress(a.Recipient):
			t.Fatalf("attempt %d: recipient %q", i, a.Recipient)
		case !a.Outcome.Valid():
			t.Fatalf("attempt %d: outcome %q", i, a.Outcome)
		case a.OccurredAt.IsZero() || a.OccurredAt.Location() != time.UTC || !raw.ValidTime(a.OccurredAt):
			t.Fatalf("attempt %d: occurred_at %v", i, a.OccurredAt)
		case a.EventID == "" || a.Source.Kind != Kind:
			t.Fatalf("attempt %d: event id %q, source %+v", i, a.EventID, a.Source)
		case a.RecipientNorm != "" || a.RecipientDomain != "" || a.Verdict != nil:
			t.Fatalf("attempt %d: sets fields ingest derives", i)
		case len(a.Metadata) > 60:
			t.Fatalf("attempt %d: %d metadata entries", i, len(a.Metadata))
		case a.SMTP.Enhanced != "" && !validEnhanced(a.SMTP.Enhanced):
			t.Fatalf("attempt %d: enhanced %q", i, a.SMTP.Enhanced)
		}
	}
}

func validEnhanced(s string) bool { return reply.ValidEnhanced(s) }
