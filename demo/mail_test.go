package demo

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.eml from the generator")

// TestMailGolden pins the first complaint report and the first late bounce
// of Tiny(1), byte for byte (CRLF line endings included): what the mail
// records look like, for review, and a guard against a template change
// going unnoticed. Run with -update after a deliberate change.
func TestMailGolden(t *testing.T) {
	s := tiny(t, 1)
	first := map[event.Label][]byte{}
	for i, r := range s.Records {
		if m := s.meta[i]; m.mail && first[m.label] == nil {
			first[m.label] = r.Value
		}
	}
	for label, name := range map[event.Label]string{event.LabelComplaint: "complaint.eml", event.MailboxUnknown: "late_bounce.eml"} {
		got := first[label]
		if got == nil {
			t.Fatalf("no %s mail in Tiny(1)", label)
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; run go test ./demo -run TestMailGolden -update if the change is intended", path)
		}
	}
}
