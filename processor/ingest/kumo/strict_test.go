package kumo

import (
	"errors"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/internal/jsoncheck"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// TestStrictRecords: what json.Decoder reads with a guess (a repeated key
// at any depth, a kept string that is not UTF-8 or holds a lone surrogate
// escape) Decode refuses as ErrUnparsable, naming the key.
func TestStrictRecords(t *testing.T) {
	const base = `{"type":"Bounce","id":"1","sender":"s@example.net","recipient":"a@example.org","response":{"code":550,"content":"x"},"timestamp":1763632805`
	for _, tc := range []struct {
		name, rec string
		msg       string // "" when accepted
	}{
		{"clean", base + `}`, ""},
		{"repeated recipient", base + `,"recipient":"evil@example.org"}`, `duplicate key "recipient"`},
		{"repeated key in response", strings.Replace(base, `"code":550`, `"code":550,"code":250`, 1) + `}`, `duplicate key "response.code"`},
		{"repeated meta key", base + `,"meta":{"c":"a","c":"b"}}`, `duplicate key "meta.c"`},
		{"repeated key deep in meta", base + `,"meta":{"c":{"x":1,"x":2}}}`, `duplicate key "meta.c.x"`},
		{"invalid UTF-8 in the recipient", strings.Replace(base, "a@example.org", "a\xffb@example.org", 1) + `}`, `field "recipient": the string is not valid UTF-8`},
		{"invalid UTF-8 in a recipient list", strings.Replace(base, `"a@example.org"`, "[\"a@example.org\",\"b\xff@example.org\"]", 1) + `}`, `not valid UTF-8`},
		{"lone surrogate in the sender", strings.Replace(base, "s@example.net", `s\udcff@example.net`, 1) + `}`, `field "sender": the string holds a lone UTF-16 surrogate`},
		{"repeated key in a feedback report", `{"type":"Feedback","timestamp":1,"feedback_report":{"feedback_type":"abuse","feedback_type":"fraud"}}`, `duplicate key "feedback_type"`},
	} {
		_, _, err := New(Config{}).Decode(raw.Record{Payload: []byte(tc.rec)})
		var se *raw.JSONStrictError
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.msg == "":
		case errReason(err) != ErrUnparsable || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s: err %v, want %s saying %q", tc.name, err, ErrUnparsable, tc.msg)
		}
	}
}

// strictViolation: jsoncheck.Violation, inside JSON strings too.
func strictViolation(b []byte) bool { return jsoncheck.Violation(b, true) }
