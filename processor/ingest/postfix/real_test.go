package postfix

import (
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/internal/golden"
)

// TestRealLogs holds the adapter to the log a real Postfix 3.7 wrote
// (scripts/mta-logs; golden.RealLogs).
func TestRealLogs(t *testing.T) {
	golden.RealLogs(t, golden.Real{Kind: Kind, New: func() golden.Decoder { return New(Config{}) }, Harness: loopbackQueuedAs})
}

// loopbackQueuedAs names the skips the harness causes: the sink listens on
// loopback, and a delivery to a loopback relay whose reply says "queued as
// ID" is what a content-filter hand-off looks like, which the adapter
// skips by design (doc.go). Counted apart so they stay visible.
func loopbackQueuedAs(skip string, xs []golden.Expectation) string {
	if skip != SkipReinjected || len(xs) == 0 {
		return ""
	}
	for _, x := range xs {
		if x.Outcome != string(event.Delivered) || x.Source != "sink" || !strings.Contains(x.Why, "queued as ") {
			return ""
		}
	}
	return "harness.loopback_queued_as"
}
