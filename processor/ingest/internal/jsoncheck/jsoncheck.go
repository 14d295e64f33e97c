// Package jsoncheck finds, independently of the decoders' strict reader,
// what that reader must refuse: tests use it to tell a justified strict
// refusal from a bug.
package jsoncheck

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Repeat reports whether any object in b repeats a key under case folding
// (a superset of what the strict reader refuses: it matches keys that way).
func Repeat(b []byte) bool { return scan(b, false) }

// Violation reports whether b holds invalid UTF-8, a surrogate escape
// anywhere, or a repeated key (Repeat); with nested, also inside a string
// value that holds JSON (an SNS Message).
func Violation(b []byte, nested bool) bool {
	return !utf8.Valid(b) || surrogateEscape.Match(b) || scan(b, nested)
}

var surrogateEscape = regexp.MustCompile(`\\[uU][dD][89abcdefABCDEF]`)

func scan(b []byte, nested bool) bool {
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
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				for _, seen := range stack[n-1].keys {
					if strings.EqualFold(seen, k) {
						return true
					}
				}
				stack[n-1].keys = append(stack[n-1].keys, k)
				stack[n-1].wantKey = false
				continue
			}
		}
		if s, ok := tok.(string); ok && nested {
			if t := strings.TrimSpace(s); t != "" && (t[0] == '{' || t[0] == '[') && Violation([]byte(t), true) {
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
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true // a value ended: a key comes next
		}
	}
}
