package topics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

func recordAttempt() *event.Attempt {
	v := event.NewVerdict(event.MailboxUnknown, "code.5.1.1")
	return &event.Attempt{EventID: "e1", OccurredAt: time.Date(2026, 6, 1, 9, 0, 0, 0, time.FixedZone("", 7200)),
		Recipient: "A@B.example", Outcome: event.Bounced, SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1"},
		RecipientNorm: "a@b.example", RecipientDomain: "b.example", Verdict: &v, Metadata: map[string]string{"k": "v"}}
}

// Stage 2 reads what either encoding wrote, and the JSON of older versions
// with whitespace before it, as the same attempt.
func TestDecodeAttemptEitherEncoding(t *testing.T) {
	a := recordAttempt()
	want, _ := json.Marshal(a)
	for _, enc := range []Encoding{EncodingBinary, EncodingJSON, ""} {
		m, err := AttemptMessage("bounced.attempts", a, "in/0/7/0", enc)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != "a@b.example" || Header(&m, HeaderSource) != "in/0/7/0" {
			t.Errorf("%q: key %q, headers %v", enc, m.Key, m.Headers)
		}
		if isJSON := m.Value[0] == '{'; isJSON != (enc == EncodingJSON) {
			t.Errorf("%q: value starts with %#x", enc, m.Value[0])
		}
		for _, v := range [][]byte{m.Value, append([]byte(" \r\n\t"), m.Value...)} {
			if enc != EncodingJSON && v[0] == ' ' {
				continue
			}
			got := event.Attempt{EventID: "left over", Tenant: "left over"}
			if err := DecodeAttempt(v, &got); err != nil {
				t.Fatalf("%q: %v", enc, err)
			}
			if j, _ := json.Marshal(&got); !bytes.Equal(j, want) {
				t.Errorf("%q: decoded\n%s\nwant\n%s", enc, j, want)
			}
		}
	}
}

func TestDecodeAttemptRefuses(t *testing.T) {
	for _, v := range []string{"", "{not json", "\x02binary v2", "[1]", "null\x01", "\x01\x00"} {
		var a event.Attempt
		if err := DecodeAttempt([]byte(v), &a); err == nil {
			t.Errorf("%q decoded", v)
		}
	}
	if _, err := AttemptMessage("t", recordAttempt(), "", "xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("unknown encoding: %v", err)
	}
	bad := recordAttempt()
	bad.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, enc := range []Encoding{EncodingBinary, EncodingJSON} {
		if _, err := AttemptMessage("t", bad, "", enc); err == nil || !strings.HasPrefix(err.Error(), "encode attempt: ") {
			t.Errorf("%s: year 10000: %v", enc, err)
		}
	}
}
