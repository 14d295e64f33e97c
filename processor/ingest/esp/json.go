package esp

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// The bodies are read with raw.JSON, in one pass and without reflection,
// into the same structs encoding/json filled before (their json tags say
// which key is which field, and the reference decode in the tests still
// uses them). Each decoder keeps encoding/json's rules: keys match exactly
// or without regard to case, null leaves a field as it was; json_test.go
// holds each provider's lenient read to json.Unmarshal's. The decoders
// read strictly (readJSON) where encoding/json would guess: a repeated key
// at any depth and a string that is not UTF-8 are refused as
// <kind>.malformed_json, naming the key.

// readJSON reads the JSON text b into v with read, with a strict reader:
// a key repeated in any object read (encoding/json would keep the last
// value) and a kept string that is not valid UTF-8 or holds a lone
// surrogate escape (encoding/json would read U+FFFD into it) are refused
// with a *raw.JSONStrictError naming the key. Otherwise it returns the
// error json.Unmarshal(b, v) would have returned (by kind: syntax, a
// method's, a field's type).
func readJSON[T any](b []byte, v *T, read func(*raw.JSON, *T)) error {
	return readJSONAs(b, v, read, true)
}

// readJSONAs is readJSON, strict or not: without strict it reads what
// json.Unmarshal reads, to the letter, which is how the tests hold the
// readers to encoding/json.
func readJSONAs[T any](b []byte, v *T, read func(*raw.JSON, *T), strict bool) error {
	var r raw.JSON
	r.Reset(b)
	if strict {
		r.Strict()
	}
	read(&r, v)
	return r.Finish()
}

// readSlice reads an array into *s as encoding/json does: null clears the
// slice, an array fills it from the start (an element already there is
// decoded into, not replaced) and cuts it to the array's length.
func readSlice[T any](r *raw.JSON, s *[]T, elem func(*raw.JSON, *T)) {
	switch r.Peek() {
	case 'n':
		r.Skip()
		*s = nil
		return
	case '[':
	default:
		r.Mismatch("array")
		return
	}
	v := *s
	i := 0
	for more := r.Array(); more; more = r.MoreElems() {
		if i >= len(v) {
			if i < cap(v) {
				v = v[:i+1]
			} else {
				var zero T
				v = append(v, zero)
			}
		}
		elem(r, &v[i])
		i++
	}
	if i < len(v) {
		v = v[:i]
	}
	if i == 0 {
		v = make([]T, 0)
	}
	*s = v
}

// readMap reads an object into *m as encoding/json does: null clears the
// map, an object adds its members (making the map when nil); each value is
// read into a zero V.
func readMap[V any](r *raw.JSON, m *map[string]V, elem func(*raw.JSON, *V)) {
	switch r.Peek() {
	case 'n':
		r.Skip()
		*m = nil
		return
	case '{':
	default:
		r.Mismatch("object")
		return
	}
	if *m == nil {
		*m = map[string]V{}
	}
	for more := r.Object(); more; more = r.More() {
		k := string(r.Key())
		if _, dup := (*m)[k]; dup {
			r.Duplicate() // a strict reader refuses it; a repeated map in one is refused before
		}
		var v V
		elem(r, &v)
		(*m)[k] = v
	}
}

// readRaw reads a json.RawMessage: any value's text, null included.
func readRaw(r *raw.JSON, m *json.RawMessage) {
	if b := r.Raw(); b != nil {
		*m = b
	}
}

func readString(r *raw.JSON, s *string) { r.String(s) }

// readPtr reads into the struct *p points to, making it when nil; null
// sets *p to nil.
func readPtr[T any](r *raw.JSON, p **T, read func(*raw.JSON, *T)) {
	if r.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(T)
	}
	read(r, *p)
}

// readBoolPtr reads a *bool.
func readBoolPtr(r *raw.JSON, p **bool) {
	if r.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(bool)
	}
	r.Bool(*p)
}

// appendJSONString appends s as json.Marshal writes a string: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// as \ufffd.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
