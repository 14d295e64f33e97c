package kumo

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

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

// strictViolation reports whether b holds what a strict reader refuses,
// found another way: invalid UTF-8 or a surrogate escape anywhere, or a
// key that repeats another of its object under case folding, at any depth,
// also inside a string that holds JSON (an SNS Message). It finds a
// superset of what the decoders refuse.
func strictViolation(b []byte) bool {
	if !utf8.Valid(b) || surrogateEscape.Match(b) {
		return true
	}
	type frame struct {
		obj, wantKey bool
		keys         []string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a number out of float64's range is still JSON
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey {
			if k, ok := tok.(string); ok {
				top := &stack[len(stack)-1]
				for _, seen := range top.keys {
					if strings.EqualFold(seen, k) {
						return true
					}
				}
				top.keys = append(top.keys, k)
				top.wantKey = false
				continue
			}
		}
		if s, ok := tok.(string); ok {
			if t := strings.TrimSpace(s); t != "" && (t[0] == '{' || t[0] == '[') && strictViolation([]byte(t)) {
				return true
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].wantKey = true // a value ended: a key comes next
		}
	}
}

var surrogateEscape = regexp.MustCompile(`\\[uU][dD][89abcdefABCDEF]`)
