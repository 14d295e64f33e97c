package mail

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// FuzzDecode: no input panics; every result keeps the adapter contract
// (exactly one of attempts, skip or error, all prefixed "mail."; every
// attempt has a recipient, a valid outcome, a UTC time and an id). Seeds:
// the real samples, a few built messages, and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, p := range samples(f) {
		f.Add(readFile(f, p))
	}
	f.Add([]byte(dsnMessage("", "x", "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1", origHeaders, true)))
	f.Add([]byte(arfMessage("Feedback-Type: abuse\nOriginal-Rcpt-To: a@example.org", origHeaders)))
	// Small limits make the limit paths reachable from small inputs.
	d := New(Config{MaxParts: 8, MaxDepth: 3, MaxRecipients: 4, MaxHeaderBytes: 4096})
	f.Fuzz(func(t *testing.T, body []byte) {
		as, skip, err := d.Decode(raw.Record{Payload: body, Received: received})
		checkContract(t, as, skip, err)
	})
}
