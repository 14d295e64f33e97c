package processor

import (
	"slices"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// TestFlushOrder pins stage 2's write order (see flusher.steps): outputs
// before the changelog, states before input positions, and the offset
// commit last. Reordering them breaks the effectively-once guarantee.
func TestFlushOrder(t *testing.T) {
	f := &flusher{base: &base{}, topics: topics.Config{}.WithDefaults()}
	full := &decide.Outputs{
		Rows:     []decide.Row{{Offset: 1}},
		Dead:     []decide.Dead{{Index: 0}},
		Commands: []streak.Control{{Op: streak.OpHold, Domain: "d.example"}},
		Alerts:   []event.Alert{{Rule: "incident_guard"}},
		Changes:  []decide.Change{{Address: "a@d.example"}},
		States:   []decide.StateChange{{Key: "a@d.example"}},
		Holds:    guard.NewHolds(),
		Sources:  map[string]topics.SourcePos{"in/0": {Off: 1}},
	}
	msgs := []kafka.Message{{Offset: 1}}
	names := func(out *decide.Outputs) []string {
		var s []string
		for _, st := range f.steps(&owner{}, out, msgs) {
			s = append(s, st.name)
		}
		return s
	}
	want := []string{"clickhouse", "dlq", "guard", "alerts", "suppressions", "changelog", "sources"}
	if got := names(full); !slices.Equal(got, want) {
		t.Fatalf("write order %v, want %v", got, want)
	}
	// Empty outputs have no step; holds alone still reach the changelog.
	if got := names(&decide.Outputs{Holds: guard.NewHolds()}); !slices.Equal(got, []string{"changelog"}) {
		t.Fatalf("holds only: %v", got)
	}
	if got := names(&decide.Outputs{}); len(got) != 0 {
		t.Fatalf("nothing to write: %v", got)
	}
}
