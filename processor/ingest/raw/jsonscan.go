package raw

import (
	"bytes"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a JSON walker that finds where an object's members start and
// end without decoding them. Envelope and format detection only need to know
// which keys an object has at its top level and, for a few of them, the
// value; a full decode would cost tens of allocations per record, and
// searching the bytes for a quoted key would also find keys of nested objects
// and words inside strings (a canonical event whose diagnostic says "queue").

// members walks the top-level members of one JSON object.
type members struct {
	b    []byte
	i    int
	done bool
	bad  bool
}

// objectMembers starts a walk over b, which must start (after white space)
// with '{'.
func objectMembers(b []byte) (members, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return members{}, false
	}
	m := members{b: b, i: i + 1}
	if j := skipWS(b, m.i); j < len(b) && b[j] == '}' {
		m.i, m.done = j+1, true
	}
	return m, true
}

// next returns the next member: key is the text between the key's quotes
// with escapes left as they are, val the value's text. ok is false at the
// end of the object or at the first syntax error (then complete is false).
func (m *members) next() (key, val []byte, ok bool) {
	if m.done || m.bad {
		return nil, nil, false
	}
	b := m.b
	i := skipWS(b, m.i)
	if i >= len(b) || b[i] != '"' {
		m.bad = true
		return nil, nil, false
	}
	end := skipString(b, i)
	if end < 0 {
		m.bad = true
		return nil, nil, false
	}
	key = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		m.bad = true
		return nil, nil, false
	}
	i = skipWS(b, i+1)
	vend := skipValue(b, i)
	if vend < 0 {
		m.bad = true
		return nil, nil, false
	}
	val = b[i:vend]
	i = skipWS(b, vend)
	if i >= len(b) {
		m.bad = true
		return nil, nil, false
	}
	switch b[i] {
	case ',':
		m.i = i + 1
	case '}':
		m.i, m.done = i+1, true
	default:
		m.bad = true
		return nil, nil, false
	}
	return key, val, true
}

// complete reports whether the walk ended at the object's closing brace
// with only white space after it: the object is well formed as far as the
// walker checks (values inside nested objects are only bracket-matched).
func (m *members) complete() bool {
	return m.done && !m.bad && skipWS(m.b, m.i) == len(m.b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the closing quote of the string that
// starts at b[i] == '"', or -1. It jumps from quote to quote and counts the
// backslashes before each, which is much faster than a byte loop on long
// strings.
func skipString(b []byte, i int) int {
	j := i + 1
	for j <= len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return -1
}

// skipValue returns the index after the value that starts at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		return skipNested(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) {
			c := b[j]
			if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				j++
				continue
			}
			break
		}
		return j
	}
	return -1
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// skipNested returns the index after the object or array that starts at
// b[i], matching brackets by depth only (not by kind): it is a skipper, not
// a validator, and it never recurses, so deep nesting cannot exhaust the
// stack.
func skipNested(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end := skipString(b, j)
			if end < 0 {
				return -1
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// member returns the value of key among obj's top-level members; obj is the
// text of an object value.
func member(obj []byte, key string) ([]byte, bool) {
	m, ok := objectMembers(obj)
	if !ok {
		return nil, false
	}
	for {
		k, v, ok := m.next()
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return v, true
		}
	}
}

// isString reports whether val is the text of a JSON string.
func isString(val []byte) bool {
	return len(val) >= 2 && val[0] == '"'
}

// isContainer reports whether val is the text of a JSON object or array.
func isContainer(val []byte) bool {
	return len(val) > 0 && (val[0] == '{' || val[0] == '[')
}

// unquote decodes the text of a JSON string. Without escapes it returns a
// slice of val itself, so the common case costs nothing.
func unquote(val []byte) ([]byte, bool) {
	out, _, ok := unquoteLone(val)
	return out, ok
}

// unquoteLone is unquote that also reports whether a lone surrogate
// escape was read as U+FFFD: the text's writer had a broken string, and
// what it meant is a guess.
func unquoteLone(val []byte) (out []byte, lone, ok bool) {
	if !isString(val) {
		return nil, false, false
	}
	s := val[1 : len(val)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, false, true
	}
	out = make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, false, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return nil, false, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; a lone half becomes U+FFFD, as
				// encoding/json does.
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						i += 6
						continue
					}
				}
				r, lone = utf8.RuneError, true
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, false, false
		}
		i += 2
	}
	return out, lone, true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonInt reads an integer given as a JSON number or a JSON string of
// digits (Vector's parse_syslog returns procid as a string, Fluent Bit's
// parser as either).
func jsonInt(val []byte) (int64, bool) {
	if isString(val) {
		val = val[1 : len(val)-1]
	}
	return atoi(val)
}

// atoi parses a non-negative decimal that fits in 63 bits.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// jsonTime reads a shipper timestamp: a JSON number of epoch seconds with
// an optional fraction (Fluent Bit's default "double" format), or a JSON
// string in RFC 3339 (Filebeat, Vector, Fluent Bit iso8601). A stamp
// without a zone is read in cfg.Zone; zoned reports whether it had one.
func jsonTime(val []byte, cfg *Config) (t time.Time, zoned, ok bool) {
	if isString(val) {
		s, ok := unquote(val)
		if !ok {
			return time.Time{}, false, false
		}
		st, n, ok := scanISO(s, 0)
		if !ok || n != len(s) {
			return time.Time{}, false, false
		}
		if st.zoned {
			return st.at(time.UTC), true, true
		}
		return st.at(cfg.location()), false, true
	}
	t, ok = epoch(val)
	return t, true, ok
}

// epoch parses seconds since 1970 with up to nine fractional digits.
// Exponents and negative values are refused: no shipper writes them, and
// refusing is cheaper than guessing.
func epoch(b []byte) (time.Time, bool) {
	dot := bytes.IndexByte(b, '.')
	whole, frac := b, []byte(nil)
	if dot >= 0 {
		whole, frac = b[:dot], b[dot+1:]
		if len(frac) == 0 {
			return time.Time{}, false
		}
	}
	sec, ok := atoi(whole)
	if !ok || sec > 1<<40 {
		return time.Time{}, false
	}
	var ns int64
	for i, c := range frac {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		if i < 9 {
			ns = ns*10 + int64(c-'0')
		}
	}
	for i := len(frac); i < 9; i++ {
		ns *= 10
	}
	return time.Unix(sec, ns).UTC(), true
}

// keySet finds a key repeated among an object's members. Keys compare as
// decoded, so "a" and "\u0061" are one key. It holds 32 keys without
// allocating (an envelope has a dozen, a KumoMTA record thirty), more in a
// map, so that a record of a million keys costs linear time.
type keySet struct {
	n    int
	hash [32]uint32
	keys [32][]byte
	many map[string]struct{}
}

// add records key, the text between a key's quotes with its escapes as
// they are, and reports whether it is new.
func (s *keySet) add(key []byte) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		q := make([]byte, 0, len(key)+2)
		q = append(append(append(q, '"'), key...), '"')
		if u, ok := unquote(q); ok {
			key = u
		}
	}
	if s.many != nil {
		if _, dup := s.many[string(key)]; dup {
			return false
		}
		s.many[string(key)] = struct{}{}
		return true
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	for i := range s.n {
		if s.hash[i] == h && bytes.Equal(s.keys[i], key) {
			return false
		}
	}
	if s.n < len(s.keys) {
		s.hash[s.n], s.keys[s.n] = h, key
		s.n++
		return true
	}
	s.many = make(map[string]struct{}, 2*len(s.keys))
	for _, k := range s.keys {
		s.many[string(k)] = struct{}{}
	}
	s.many[string(key)] = struct{}{}
	return true
}

// repeatedKey returns the first key of obj, an object's text, that
// repeats one before it, or nil.
func repeatedKey(obj []byte) []byte {
	m, ok := objectMembers(obj)
	if !ok {
		return nil
	}
	var seen keySet
	for {
		k, _, ok := m.next()
		if !ok {
			return nil
		}
		if !seen.add(k) {
			return k
		}
	}
}
