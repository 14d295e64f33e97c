package exim

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/internal/golden"
)

// TestRealLogs holds the adapter to the logs a real Exim 4.96 wrote with the
// default log_selector and with +all (scripts/mta-logs; golden.RealLogs).
func TestRealLogs(t *testing.T) {
	golden.RealLogs(t, golden.Real{Kind: Kind, New: func() golden.Decoder { return New(Config{}) }})
}
