package esp

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// fuzzDecode is the property every decoder keeps on any input: no panic;
// exactly one of attempts, skip or error; errors are *raw.Error with the
// provider's prefix (or the shared reason schema); skips carry the prefix;
// attempts have a recipient, a valid outcome, a UTC time and an id.
func fuzzDecode(f *testing.F, kind string) {
	files, _ := filepath.Glob("testdata/" + kind + "_*.txt")
	for _, p := range files {
		f.Add(readSample(f, p))
	}
	for _, tc := range tableCases() {
		if strings.HasPrefix(tc.kind, kind) {
			f.Add([]byte(tc.body))
		}
	}
	d := decoders(Config{})[kind]
	f.Fuzz(func(t *testing.T, body []byte) {
		as, skip, err := d.Decode(raw.Record{Payload: body})
		switch {
		case err != nil:
			var re *raw.Error
			if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, kind+".") && re.Reason != reasonSchema {
				t.Fatalf("error %v is not a *raw.Error prefixed %s. (or %s)", err, kind, reasonSchema)
			}
			if len(as) != 0 || skip != "" {
				t.Fatal("error with attempts or a skip")
			}
		case skip != "":
			if !strings.HasPrefix(skip, kind+".") || len(as) != 0 {
				t.Fatalf("skip %q with %d attempts", skip, len(as))
			}
		case len(as) == 0:
			t.Fatal("no attempts, no skip, no error")
		}
		for i := range as {
			a := &as[i]
			if a.Recipient == "" || !a.Outcome.Valid() || a.OccurredAt.IsZero() || a.OccurredAt.Location() != time.UTC || a.EventID == "" || a.Source.Kind != kind {
				t.Fatalf("bad attempt %+v", a)
			}
			if a.Outcome == event.Dropped && a.SMTP.Text != "" {
				t.Fatal("dropped attempt with reply text")
			}
		}
	})
}

func FuzzDecodeSES(f *testing.F)      { fuzzDecode(f, KindSES) }
func FuzzDecodeSendGrid(f *testing.F) { fuzzDecode(f, KindSendGrid) }
func FuzzDecodeMailgun(f *testing.F)  { fuzzDecode(f, KindMailgun) }
func FuzzDecodePostmark(f *testing.F) { fuzzDecode(f, KindPostmark) }
func FuzzDecodePostal(f *testing.F)   { fuzzDecode(f, KindPostal) }
