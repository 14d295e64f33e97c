package clickhouse

import (
	"fmt"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Filling the column buffers costs no allocation per row once they have
// grown; per INSERT, the column list and (outcomes) one string of all send
// keys.
func TestColumnBuffersDoNotAllocatePerRow(t *testing.T) {
	rs := make([]AttemptRow, 1000)
	for i := range rs {
		v := event.NewVerdict(event.MailboxUnknown, "enh.5.1.1")
		rs[i] = AttemptRow{Topic: "t", Partition: 1, Offset: int64(i), SendBounced: 1, Attempt: &event.Attempt{
			EventID: fmt.Sprintf("e%d", i), OccurredAt: time.Unix(1e9+int64(i), 0), Outcome: event.Bounced,
			RecipientNorm: fmt.Sprintf("u%d@d%d.example", i, i%7), RecipientDomain: fmt.Sprintf("d%d.example", i%7),
			CampaignID: fmt.Sprintf("c%d", i%3), MessageID: fmt.Sprintf("<m%d@x>", i), SendingIP: "192.0.2.1",
			SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "user unknown"}, Verdict: &v,
		}}
	}
	for _, b := range []rowBuf{new(attemptBuf), new(outcomeBuf)} {
		fill := func() {
			b.grow(len(rs))
			for i := range rs {
				b.add(&rs[i])
			}
			b.finish()
			b.reset()
		}
		fill() // grown, low-cardinality values boxed
		if n := testing.AllocsPerRun(10, fill); n > 2 {
			t.Errorf("%T: %v allocations for %d rows, want at most 2", b, n, len(rs))
		}
	}
}
