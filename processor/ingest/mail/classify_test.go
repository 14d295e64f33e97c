package mail

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// TestClassifierContract runs the shipped classifier over the samples:
// every complaint (whatever its feedback type) is a complaint verdict, and
// no bounce, delay or expiry reads as a delivery or a complaint.
func TestClassifierContract(t *testing.T) {
	cls, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	d := New(Config{})
	for _, f := range samples(t) {
		as, _, _ := d.Decode(raw.Record{Payload: readFile(t, f), Received: received})
		for i := range as {
			a := &as[i]
			v := cls.Attempt(a)
			switch {
			case a.Outcome == event.Complaint && v.Class != event.ClassComplaint:
				t.Errorf("%s: complaint %s classified %s/%s", f, a.Recipient, v.Label, v.Rule)
			case a.Outcome != event.Complaint && (v.Class == event.ClassComplaint || v.Class == event.ClassDelivered):
				t.Errorf("%s: %s %s classified %s/%s", f, a.Outcome, a.Recipient, v.Label, v.Rule)
			}
		}
	}
}
