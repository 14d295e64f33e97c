package raw

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a one-pass JSON reader for decoders written by hand against
// a known set of fields (the canonical attempt, the ESP bodies, KumoMTA
// records). encoding/json scans a whole text once to validate it and a
// second time to decode it, through reflection; this reader validates
// while the decoder walks the text, so each byte is read once.
//
// Its typed reads keep encoding/json's Unmarshal rules for the Go type
// they fill, so a decoder built on them accepts, refuses and fills exactly
// what json.Unmarshal into the same struct would (each decoder's
// differential fuzz test holds it to that):
//
//   - syntax as encoding/json's checkValid, nesting depth at most 10000;
//     a syntax error anywhere wins over every other error, because
//     encoding/json validates before it decodes;
//   - strings unescaped as encoding/json does: invalid UTF-8 and lone
//     surrogates become U+FFFD;
//   - null leaves a string, number, bool or struct as it was and clears a
//     pointer, map or slice;
//   - a value of the wrong type is skipped and reported once decoding is
//     over (the first such mismatch, like encoding/json's saved error),
//     unless an UnmarshalJSON method's error (Abort) stopped it first;
//   - keys match a field exactly, else under Unicode case folding (Fields);
//     unknown keys are skipped; a repeated key is read again (the last
//     wins, objects merge, slices reuse their elements).
//
// A Strict reader departs from encoding/json where its leniency lets junk
// through: it refuses a key that repeats one before it in the same object
// (read through Field or checked with Duplicate), and a string it returns
// that is not valid UTF-8 or holds a lone UTF-16 surrogate escape, instead
// of reading U+FFFD into it. Either is a *JSONStrictError, and stops the
// reader as a syntax error does.

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// maxPath is how many levels of keys a strict reader's messages name; the
// records bounced reads nest two or three deep.
const maxPath = 8

// JSON reads one JSON text; Reset starts it on one. Reads after an error do
// nothing and return zero values, so a decoder checks for an error once, at
// the end:
//
//	var r raw.JSON
//	r.Reset(b)
//	for more := r.Object(); more; more = r.More() {
//		switch fields.Index(r.Key()) {
//		case 0:
//			r.String(&v.Name)
//		case 1:
//			r.Int(&v.Count)
//		default:
//			r.Skip()
//		}
//	}
//	err := r.Finish()
type JSON struct {
	b     []byte
	i     int
	depth int
	key   []byte // the last key read, for error messages
	text  string // b as one string, for ShareStrings
	share bool
	// strict refuses repeated keys and strings that are not UTF-8; path
	// holds the keys of the objects being read, for its error messages.
	strict bool
	path   [maxPath][]byte
	npath  int
	keyAt  int   // where the last key starts
	err    error // the first syntax error: every read stops
	abort  error // the first error an UnmarshalJSON method returned: encoding/json stops there
	saved  error // the first type mismatch: encoding/json goes on and reports it at the end
}

// Reset starts reading b.
func (r *JSON) Reset(b []byte) {
	*r = JSON{b: b}
}

// ShareStrings makes the strings the reader returns from then on share one
// copy of the text: one allocation for the record instead of one per
// string, but any string kept keeps the whole text alive, so use it on
// small texts whose strings are mostly kept (a canonical attempt).
func (r *JSON) ShareStrings() {
	r.share = true
}

// Strict makes the reader refuse what encoding/json would read with a
// guess: a key repeated in one object (the last would win) and a string
// that is not valid UTF-8 (it would hold U+FFFD where the bytes were).
// Decoders that keep what they read (the canonical attempt) want it;
// decoders held to encoding/json's verdicts do not.
func (r *JSON) Strict() {
	r.strict = true
}

// IsStrict reports whether Strict was called: a decoder that reads a value
// again with a reader of its own makes that one strict too.
func (r *JSON) IsStrict() bool { return r.strict }

// JSONStrictError is well-formed JSON that a Strict reader refuses.
type JSONStrictError struct {
	Field  string // the member, as a dotted path ("smtp.text")
	Msg    string // what is wrong with it
	Offset int
}

func (e *JSONStrictError) Error() string {
	return fmt.Sprintf("%s (offset %d)", e.Msg, e.Offset)
}

// Keys is what a Strict reader remembers of the keys of one object, to
// refuse one that repeats: a decoder keeps one per object it reads. Its
// zero value has seen no key.
type Keys struct {
	fields uint64              // the fields matched, by index below 64
	other  map[string]struct{} // the keys that matched no field (made on the first)
}

// add records a key that matched no field (or a field past 64) and
// reports whether it is new.
func (k *Keys) add(key string) bool {
	if _, dup := k.other[key]; dup {
		return false
	}
	if k.other == nil {
		k.other = map[string]struct{}{}
	}
	k.other[key] = struct{}{}
	return true
}

// Field reads a member's key, as Key does, and returns the number of its
// field in f, or -1. A Strict reader refuses a key whose field (under
// case folding, as Fields matches) or whose exact text came before it in
// the same object; seen is that object's Keys.
func (r *JSON) Field(f *Fields, seen *Keys) int {
	key := r.Key()
	if r.err != nil {
		return -1
	}
	i := f.Index(key)
	if !r.strict {
		return i
	}
	switch {
	case i >= 0 && i < 64:
		if seen.fields&(1<<i) != 0 {
			r.duplicate(f.names[i])
		}
		seen.fields |= 1 << i
	case i >= 64:
		if !seen.add("\x00" + f.names[i]) {
			r.duplicate(f.names[i])
		}
	default:
		if !seen.add(string(key)) {
			r.duplicate("")
		}
	}
	return i
}

// Duplicate refuses the key just read, in a Strict reader, as a repeat of
// one before it in its object: for decoders that keep their own record of
// the keys, such as the map they fill.
func (r *JSON) Duplicate() {
	if r.strict {
		r.duplicate("")
	}
}

// duplicate records that the last key repeats an earlier one, which
// matched the field named field ("" when it was the same text).
func (r *JSON) duplicate(field string) {
	if r.err != nil {
		return
	}
	name := r.fieldName()
	msg := fmt.Sprintf("duplicate key %q: a key may appear once in an object", name)
	if field != "" && field != string(r.key) {
		msg = fmt.Sprintf("duplicate key %q: it names field %q again (keys match fields without regard to case); a key may appear once in an object", name, field)
	}
	r.err = &JSONStrictError{Field: name, Msg: msg, Offset: r.keyAt}
}

// fieldName is the dotted path of the last key read.
func (r *JSON) fieldName() string {
	if obj := r.objectName(); obj != "" {
		return obj + "." + string(r.key)
	}
	return string(r.key)
}

// objectName is the dotted path of the object being read, "" at the top.
func (r *JSON) objectName() string {
	var b []byte
	for _, p := range r.path[:min(r.npath, maxPath)] {
		if len(p) == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, p...)
	}
	return string(b)
}

// badString records a string a Strict reader refuses; start is where it
// starts, key whether it is a key.
func (r *JSON) badString(start int, f flaw, key bool) {
	if r.err != nil {
		return
	}
	what := "is not valid UTF-8"
	if f == loneSurrogate {
		what = "holds a lone UTF-16 surrogate escape (half of a pair)"
	}
	if key {
		obj := r.objectName()
		where := "at the top level"
		if obj != "" {
			where = fmt.Sprintf("in %q", obj)
		}
		r.err = &JSONStrictError{Field: obj, Msg: fmt.Sprintf("a key %s %s", where, what), Offset: start}
		return
	}
	name := r.fieldName()
	r.err = &JSONStrictError{Field: name, Msg: fmt.Sprintf("field %q: the string %s", name, what), Offset: start}
}

// JSONSyntaxError is a text that is not JSON.
type JSONSyntaxError struct {
	Msg    string
	Offset int // the byte at which the text stopped being JSON
}

func (e *JSONSyntaxError) Error() string {
	return fmt.Sprintf("%s (offset %d)", e.Msg, e.Offset)
}

// JSONTypeError is a JSON value of a type its field cannot hold.
type JSONTypeError struct {
	Field  string // the key of the member that held the value
	Value  string // "string", "number 1.5", "object", …
	Want   string // the Go type of the field
	Offset int
}

func (e *JSONTypeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("JSON %s where %s was expected (offset %d)", e.Value, e.Want, e.Offset)
	}
	return fmt.Sprintf("field %s: JSON %s where %s was expected (offset %d)", e.Field, e.Value, e.Want, e.Offset)
}

// Err returns the error json.Unmarshal would have returned for the text
// read so far: a syntax error, else the first Abort, else the first type
// mismatch.
func (r *JSON) Err() error {
	switch {
	case r.err != nil:
		return r.err
	case r.abort != nil:
		return r.abort
	}
	return r.saved
}

// Finish checks that only white space follows the value just read (as
// json.Unmarshal does) and returns Err.
func (r *JSON) Finish() error {
	if r.err == nil {
		if r.i = skipWS(r.b, r.i); r.i < len(r.b) {
			r.fail("after top-level value")
		}
	}
	return r.Err()
}

// FinishStream ends a text read as json.Decoder.Decode reads its first
// value: what follows may be another value, but Decoder.More says there is
// none when it starts with ']' or '}'. It returns Err, and whether more
// follows.
func (r *JSON) FinishStream() (more bool, err error) {
	if r.err == nil {
		r.i = skipWS(r.b, r.i)
		more = r.i < len(r.b) && r.b[r.i] != ']' && r.b[r.i] != '}'
	}
	return more, r.Err()
}

// Abort records the error of an UnmarshalJSON method: encoding/json stops
// decoding at it, so it wins over type mismatches, but not over a syntax
// error further on.
func (r *JSON) Abort(err error) {
	if r.abort == nil {
		r.abort = err
	}
}

// Value reads one value with read and returns the error json.Unmarshal of
// that value on its own would have returned for its content: read's Abort,
// else its first type mismatch. Those do not count for the reader's Err; a
// syntax error does.
func (r *JSON) Value(read func(*JSON)) error {
	abort, saved := r.abort, r.saved
	r.abort, r.saved = nil, nil
	read(r)
	err := r.abort
	if err == nil {
		err = r.saved
	}
	r.abort, r.saved = abort, saved
	return err
}

// Merge takes on the errors of sub, a reader of a value r has read (its
// Raw text), as if r had read the value itself.
func (r *JSON) Merge(sub *JSON) {
	if r.err == nil && sub.err != nil {
		r.err = sub.err
	}
	if r.abort == nil {
		r.abort = sub.abort
	}
	if r.saved == nil {
		r.saved = sub.saved
	}
}

func (r *JSON) fail(context string) {
	if r.err != nil {
		return
	}
	if r.i >= len(r.b) {
		r.err = &JSONSyntaxError{Msg: "unexpected end of JSON input", Offset: len(r.b)}
		return
	}
	r.err = &JSONSyntaxError{Msg: fmt.Sprintf("invalid character %s %s", quoteChar(r.b[r.i]), context), Offset: r.i}
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(rune(c)) + "'"
}

// Mismatch records that the next value is not of the type want and skips
// it.
func (r *JSON) Mismatch(want string) {
	if r.err != nil {
		return
	}
	off := skipWS(r.b, r.i)
	start, end := r.skip()
	if r.err != nil || r.saved != nil {
		return
	}
	v := r.b[start:end]
	var what string
	switch v[0] {
	case '{':
		what = "object"
	case '[':
		what = "array"
	case '"':
		what = "string"
	case 't', 'f':
		what = "bool"
	case 'n':
		what = "null"
	default:
		what = "number"
	}
	r.saved = &JSONTypeError{Field: string(r.key), Value: what, Want: want, Offset: off}
}

// mismatchNumber records a number its field cannot hold (out of range, or
// a fraction for an integer).
func (r *JSON) mismatchNumber(num []byte, want string, off int) {
	if r.saved == nil {
		r.saved = &JSONTypeError{Field: string(r.key), Value: "number " + string(num), Want: want, Offset: off}
	}
}

// Peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', '-' or a digit), or 0 at the end of the text or after an error.
func (r *JSON) Peek() byte {
	if r.err != nil {
		return 0
	}
	r.i = skipWS(r.b, r.i)
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// Null reads a null if one is next.
func (r *JSON) Null() bool {
	if r.Peek() == 'n' {
		r.skip()
		return r.err == nil
	}
	return false
}

// open enters a container that starts with c ('{' or '['), past its opening
// byte and the white space after it. A null, the end of input or a value of
// another type (a mismatch naming want) is read and returns false.
func (r *JSON) open(c byte, want string) bool {
	switch r.Peek() {
	case c:
	case 'n':
		r.skip()
		return false
	case 0:
		r.fail("looking for beginning of value")
		return false
	default:
		r.Mismatch(want)
		return false
	}
	if r.depth++; r.depth > maxJSONDepth {
		r.fail("exceeded max depth")
		return false
	}
	r.i = skipWS(r.b, r.i+1)
	return true
}

// Object starts reading an object value. It returns true when the object
// has a first member: read its key with Key, its value with any read, then
// call More. A null, an empty object or a value of another type (recorded
// as a mismatch) returns false, having been read.
func (r *JSON) Object() bool {
	if !r.open('{', "object") {
		return false
	}
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case '}':
			r.i++
			r.depth--
			return false
		case '"':
			if r.strict {
				if r.npath < maxPath {
					r.path[r.npath] = r.key
				}
				r.npath++
			}
			return true
		}
	}
	r.fail("looking for beginning of object key string")
	return false
}

// More reads what follows an object member: true when another member
// follows (read its key next), false at the end of the object.
func (r *JSON) More() bool {
	if r.err != nil {
		return false
	}
	i := skipWS(r.b, r.i)
	if i < len(r.b) {
		switch r.b[i] {
		case ',':
			r.i = skipWS(r.b, i+1)
			if r.i < len(r.b) && r.b[r.i] == '"' {
				return true
			}
			r.fail("looking for beginning of object key string")
			return false
		case '}':
			r.i = i + 1
			r.depth--
			if r.strict && r.npath > 0 {
				r.npath--
				if r.npath < maxPath {
					r.key = r.path[r.npath]
				}
			}
			return false
		}
	}
	r.i = i
	r.fail("after object key:value pair")
	return false
}

// Key reads a member's key and the colon after it. The key is unescaped;
// it may alias the text.
func (r *JSON) Key() []byte {
	if r.err != nil {
		return nil
	}
	start := r.i
	end, esc, wide := r.scanString(start)
	if end < 0 {
		return nil
	}
	r.i = skipWS(r.b, end)
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		r.fail("after object key")
		return nil
	}
	r.i++
	k := r.b[start+1 : end-1]
	if esc || (wide && !utf8.Valid(k)) {
		var f flaw
		if k, f = unquoteJSON(k); f != 0 && r.strict {
			r.badString(start, f, true)
			return nil
		}
	}
	r.key, r.keyAt = k, start
	return k
}

// Array starts reading an array value. It returns true when the array has
// a first element: read it with any read, then call MoreElems. A null, an
// empty array or a value of another type (a mismatch) returns false,
// having been read.
func (r *JSON) Array() bool {
	if !r.open('[', "array") {
		return false
	}
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		r.depth--
		return false
	}
	return true
}

// MoreElems reads what follows an array element: true when another
// element follows, false at the end of the array.
func (r *JSON) MoreElems() bool {
	if r.err != nil {
		return false
	}
	i := skipWS(r.b, r.i)
	if i < len(r.b) {
		switch r.b[i] {
		case ',':
			r.i = i + 1
			return true
		case ']':
			r.i = i + 1
			r.depth--
			return false
		}
	}
	r.i = i
	r.fail("after array element")
	return false
}

// Skip reads the next value and ignores it.
func (r *JSON) Skip() { r.skip() }

// Raw reads the next value and returns its text (json.RawMessage's
// contents, which alias the text being read).
//
// A Strict reader refuses a value whose strings are not valid UTF-8 or
// hold a lone surrogate escape, as it refuses such a string read with
// String: a decoder reads a value raw to keep it (metadata, a flexible
// field) or to read it again. Keys repeated inside the value are the
// second reading's business.
func (r *JSON) Raw() []byte {
	start, end := r.skip()
	if r.err != nil {
		return nil
	}
	if r.strict {
		if at, f := rawFlaw(r.b[start:end]); f != 0 {
			r.badString(start+at, f, false)
			return nil
		}
	}
	return r.b[start:end]
}

// rawFlaw finds the first string flaw in the text of a valid JSON value:
// bytes that are not UTF-8, or a surrogate escape that is not half of a
// pair. Backslashes stand only inside strings in valid JSON, so the escapes
// are found without tracking where strings start.
func rawFlaw(v []byte) (at int, f flaw) {
	if !utf8.Valid(v) {
		for i := 0; i < len(v); {
			c, n := utf8.DecodeRune(v[i:])
			if c == utf8.RuneError && n == 1 {
				return i, invalidUTF8
			}
			i += n
		}
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		if i+1 < len(v) && v[i+1] == 'u' && i+6 <= len(v) {
			c := getu4(v[i:])
			switch {
			case c >= 0xd800 && c < 0xdc00:
				if i+12 <= len(v) && v[i+6] == '\\' && v[i+7] == 'u' {
					if lo := getu4(v[i+6:]); lo >= 0xdc00 && lo < 0xe000 {
						i += 11
						continue
					}
				}
				return i, loneSurrogate
			case c >= 0xdc00 && c < 0xe000:
				return i, loneSurrogate
			}
			i += 5
			continue
		}
		i++ // the escaped character
	}
	return 0, 0
}

// String reads a value into a string field: a string sets it, null leaves
// it, anything else is a mismatch.
func (r *JSON) String(p *string) {
	switch r.Peek() {
	case '"':
		if s, ok := r.str(); ok {
			*p = s
		}
	case 'n':
		r.skip()
	case 0:
		r.fail("looking for beginning of value")
	default:
		r.Mismatch("string")
	}
}

// str reads the string value at r.i.
func (r *JSON) str() (string, bool) {
	start := r.i
	end, esc, wide := r.scanString(start)
	if end < 0 {
		return "", false
	}
	r.i = end
	s := r.b[start+1 : end-1]
	if esc || (wide && !utf8.Valid(s)) {
		u, f := unquoteJSON(s)
		if f != 0 && r.strict {
			r.badString(start, f, false)
			return "", false
		}
		return string(u), true
	}
	if r.share {
		if r.text == "" {
			r.text = string(r.b)
		}
		return r.text[start+1 : end-1], true
	}
	return string(s), true
}

// Int reads a value into an int field (64 bits): an integer in range sets
// it, null leaves it, anything else is a mismatch.
func (r *JSON) Int(p *int) {
	switch c := r.Peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		off := r.i
		num, ok := r.number()
		if !ok {
			return
		}
		if n, ok := parseInt64(num); ok {
			*p = int(n)
			return
		}
		r.mismatchNumber(num, "int", off)
	case c == 'n':
		r.skip()
	case c == 0:
		r.fail("looking for beginning of value")
	default:
		r.Mismatch("int")
	}
}

// Float reads a value into a float64 field: a number in range sets it,
// null leaves it, anything else is a mismatch.
func (r *JSON) Float(p *float64) {
	switch c := r.Peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		off := r.i
		num, ok := r.number()
		if !ok {
			return
		}
		if f, ok := parseFloat64(num); ok {
			*p = f
			return
		}
		r.mismatchNumber(num, "float64", off)
	case c == 'n':
		r.skip()
	case c == 0:
		r.fail("looking for beginning of value")
	default:
		r.Mismatch("float64")
	}
}

// Bool reads a value into a bool field: true or false sets it, null leaves
// it, anything else is a mismatch.
func (r *JSON) Bool(p *bool) {
	switch r.Peek() {
	case 't':
		if r.skip(); r.err == nil {
			*p = true
		}
	case 'f':
		if r.skip(); r.err == nil {
			*p = false
		}
	case 'n':
		r.skip()
	case 0:
		r.fail("looking for beginning of value")
	default:
		r.Mismatch("bool")
	}
}

// Time reads a value into a time.Time field through its UnmarshalJSON, as
// encoding/json does: whatever the value (null leaves the time as it was;
// a string is parsed as RFC 3339 without unescaping it). Its error stops
// encoding/json, so it is an Abort.
func (r *JSON) Time(p *time.Time) {
	v := r.Raw()
	if r.err != nil {
		return
	}
	if err := p.UnmarshalJSON(v); err != nil {
		r.Abort(err)
	}
}

// Number reads a value into a json.Number field of a decoder with
// UseNumber (KumoMTA's timestamps): a number sets its text, a string that
// holds a valid number sets that (any other string is an Abort, as in
// encoding/json), null leaves it, anything else is a mismatch.
func (r *JSON) Number(p *string) {
	switch c := r.Peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		if num, ok := r.number(); ok {
			*p = string(num)
		}
	case c == '"':
		start := r.i
		s, ok := r.str()
		if !ok {
			return
		}
		if !validNumber(s) {
			r.Abort(fmt.Errorf("json: invalid number literal, trying to unmarshal %s into Number", r.b[start:r.i]))
			return
		}
		*p = s
	case c == 'n':
		r.skip()
	case c == 0:
		r.fail("looking for beginning of value")
	default:
		r.Mismatch("json.Number")
	}
}

// validNumber reports whether s is a JSON number in full.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	end, ok := scanNumber([]byte(s), 0)
	return ok && end == len(s)
}

// Any reads any value as encoding/json does into an interface{}: objects
// as map[string]any, arrays as []any, strings, booleans and nil; numbers
// as json.Number text when useNumber is set (a string-kinded value of the
// type number makes), else as float64 (a number out of range is a
// mismatch, and nil). number makes the Number values, so this package
// need not import encoding/json. A Strict reader refuses a key repeated in
// an object (exactly: a map keeps keys apart by case).
func (r *JSON) Any(number func(string) any) any {
	switch c := r.Peek(); {
	case c == '{':
		m := map[string]any{}
		for more := r.Object(); more; more = r.More() {
			k := string(r.Key())
			if _, dup := m[k]; dup {
				r.Duplicate()
			}
			m[k] = r.Any(number)
		}
		return m
	case c == '[':
		s := []any{}
		for more := r.Array(); more; more = r.MoreElems() {
			s = append(s, r.Any(number))
		}
		return s
	case c == '"':
		s, _ := r.str()
		return s
	case c == 't' || c == 'f':
		r.skip()
		return c == 't'
	case c == 'n':
		r.skip()
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		off := r.i
		num, ok := r.number()
		if !ok {
			return nil
		}
		if number != nil {
			return number(string(num))
		}
		if f, ok := parseFloat64(num); ok {
			return f
		}
		r.mismatchNumber(num, "float64", off)
		return nil
	}
	r.fail("looking for beginning of value")
	return nil
}

// number reads the number at r.i.
func (r *JSON) number() ([]byte, bool) {
	end, ok := scanNumber(r.b, r.i)
	if !ok {
		r.i = end
		r.fail("in numeric literal")
		return nil, false
	}
	num := r.b[r.i:end]
	r.i = end
	return num, true
}

// scanNumber returns the end of the number that starts at b[i], and false
// with the offending index when it is not one.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, true
}

// parseInt64 is strconv.ParseInt(s, 10, 64) on a JSON number, without the
// string conversion in the common case.
func parseInt64(num []byte) (int64, bool) {
	neg := num[0] == '-'
	digits := num
	if neg {
		digits = num[1:]
	}
	if len(digits) > 0 && len(digits) <= 18 {
		var n int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, false // a fraction or an exponent: not an int
			}
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, true
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	return n, err == nil
}

// float64pow10 are the powers of ten a float64 holds exactly.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat64 is strconv.ParseFloat(s, 64) on a JSON number. Numbers of
// at most 15 significant digits and a small exponent are converted exactly
// (one correctly rounded multiplication or division of two exact values,
// as strconv's own fast path); the rest go to strconv.
func parseFloat64(num []byte) (float64, bool) {
	i, neg := 0, false
	if num[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, exp := 0, 0
	for ; i < len(num) && num[i] >= '0' && num[i] <= '9'; i++ {
		if mant != 0 || num[i] != '0' {
			digits++
		}
		mant = mant*10 + uint64(num[i]-'0')
		if digits > 15 {
			goto slow
		}
	}
	if i < len(num) && num[i] == '.' {
		for i++; i < len(num) && num[i] >= '0' && num[i] <= '9'; i++ {
			if mant != 0 || num[i] != '0' {
				digits++
			}
			mant = mant*10 + uint64(num[i]-'0')
			exp--
			if digits > 15 {
				goto slow
			}
		}
	}
	if i < len(num) {
		goto slow // an exponent
	}
	if exp < -22 {
		goto slow
	}
	{
		f := float64(mant)
		if exp < 0 {
			f /= float64pow10[-exp]
		}
		if neg {
			f = -f
		}
		return f, true
	}
slow:
	f, err := strconv.ParseFloat(string(num), 64)
	return f, err == nil
}

// skip reads one value, validating it, and returns where it starts and
// ends. It never recurses, so deep nesting cannot exhaust the stack; like
// encoding/json it refuses nesting deeper than 10000.
func (r *JSON) skip() (start, end int) {
	if r.err != nil {
		return 0, 0
	}
	b := r.b
	i := skipWS(b, r.i)
	start = i
	// kinds holds one bit per open container: 1 for an object.
	var small [4]uint64
	kinds := small[:]
	n := 0
	push := func(obj bool) bool {
		if r.depth+n+1 > maxJSONDepth {
			return false
		}
		if n/64 >= len(kinds) {
			kinds = append(kinds, 0)
		}
		if obj {
			kinds[n/64] |= 1 << (n % 64)
		} else {
			kinds[n/64] &^= 1 << (n % 64)
		}
		n++
		return true
	}
	isObj := func() bool { return kinds[(n-1)/64]&(1<<((n-1)%64)) != 0 }
	var context string
value:
	i = skipWS(b, i)
	if i >= len(b) {
		goto eof
	}
	switch c := b[i]; {
	case c == '{':
		if !push(true) {
			r.i, context = i, "exceeded max depth"
			goto bad
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
			n--
			goto after
		}
		goto key
	case c == '[':
		if !push(false) {
			r.i, context = i, "exceeded max depth"
			goto bad
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			i++
			n--
			goto after
		}
		goto value
	case c == '"':
		e, _, _ := r.scanString(i)
		if e < 0 {
			return 0, 0
		}
		i = e
	case c == 't':
		if !literal(b, i, "true") {
			r.i, context = literalEnd(b, i, "true"), "in literal true (expecting 'r')"
			goto bad
		}
		i += 4
	case c == 'f':
		if !literal(b, i, "false") {
			r.i, context = literalEnd(b, i, "false"), "in literal false"
			goto bad
		}
		i += 5
	case c == 'n':
		if !literal(b, i, "null") {
			r.i, context = literalEnd(b, i, "null"), "in literal null"
			goto bad
		}
		i += 4
	case c == '-' || (c >= '0' && c <= '9'):
		e, ok := scanNumber(b, i)
		if !ok {
			r.i, context = e, "in numeric literal"
			goto bad
		}
		i = e
	default:
		r.i, context = i, "looking for beginning of value"
		goto bad
	}
after:
	if n == 0 {
		r.i = i
		return start, i
	}
	i = skipWS(b, i)
	if i >= len(b) {
		goto eof
	}
	switch b[i] {
	case ',':
		i++
		if isObj() {
			goto key
		}
		goto value
	case '}':
		if isObj() {
			i++
			n--
			goto after
		}
	case ']':
		if !isObj() {
			i++
			n--
			goto after
		}
	}
	r.i, context = i, "after value"
	goto bad
key:
	i = skipWS(b, i)
	if i >= len(b) {
		goto eof
	}
	if b[i] != '"' {
		r.i, context = i, "looking for beginning of object key string"
		goto bad
	}
	{
		e, _, _ := r.scanString(i)
		if e < 0 {
			return 0, 0
		}
		i = skipWS(b, e)
	}
	if i >= len(b) {
		goto eof
	}
	if b[i] != ':' {
		r.i, context = i, "after object key"
		goto bad
	}
	i++
	goto value
eof:
	r.i = len(b)
	r.fail("")
	return 0, 0
bad:
	r.fail(context)
	return 0, 0
}

func literal(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// literalEnd is where a broken literal stops matching.
func literalEnd(b []byte, i int, lit string) int {
	j := 0
	for j < len(lit) && i+j < len(b) && b[i+j] == lit[j] {
		j++
	}
	return i + j
}

// SWAR masks: a word's bytes that are below 0x20, or equal to '"' or '\'.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialMask flags, in its high bits, the bytes of w that are control
// characters, quotes or backslashes. Bytes above a flagged one may be
// flagged wrongly (a borrow carries up), but the lowest flag is exact.
func specialMask(w uint64) uint64 {
	q := w ^ ('"' * ones)
	bs := w ^ ('\\' * ones)
	return ((w-0x20*ones)&^w | (q-ones)&^q | (bs-ones)&^bs) & highs
}

// scanString validates the string that starts at r.b[i] == '"' and returns
// the index after its closing quote (or -1, with the syntax error
// recorded), whether it has escapes, and whether it has bytes outside
// ASCII. It reads eight bytes at a time up to the next byte that needs a
// look.
func (r *JSON) scanString(i int) (end int, esc, wide bool) {
	b := r.b
	j := i + 1
	var acc uint64 // the bytes passed over, or-ed: their high bits say "wide"
	for {
		if j+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[j:])
			m := specialMask(w)
			if m == 0 {
				acc |= w
				j += 8
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			acc |= w & (1<<(8*k) - 1)
			j += k
		} else if j >= len(b) {
			r.i = j
			r.fail("")
			return -1, false, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, wide || acc&highs != 0
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				r.i = len(b)
				r.fail("")
				return -1, false, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if j+k >= len(b) {
						r.i = len(b)
						r.fail("")
						return -1, false, false
					}
					if !isHex(b[j+k]) {
						r.i = j + k
						r.fail("in \\u hexadecimal character escape")
						return -1, false, false
					}
				}
				j += 6
			default:
				r.i = j + 1
				r.fail("in string escape code")
				return -1, false, false
			}
		case c < 0x20:
			r.i = j
			r.fail("in string literal")
			return -1, false, false
		default: // the last bytes of the text, read one by one
			if c >= 0x80 {
				wide = true
			}
			j++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// flaw is what unquoteJSON replaced by U+FFFD, if anything.
type flaw uint8

const (
	invalidUTF8 flaw = 1 + iota
	loneSurrogate
)

// unquoteJSON decodes the contents of a valid JSON string (between its
// quotes) as encoding/json does: escapes decoded, invalid UTF-8 and lone
// surrogates replaced by U+FFFD. It reports the first such replacement.
func unquoteJSON(s []byte) ([]byte, flaw) {
	var bad flaw
	out := make([]byte, 0, len(s)+utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
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
				rr := getu4(s[i:])
				i += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[i:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
					rr = unicode.ReplacementChar
					if bad == 0 {
						bad = loneSurrogate
					}
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // '"', '\\', '/'
				out = append(out, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			rr, size := utf8.DecodeRune(s[i:])
			if rr == utf8.RuneError && size == 1 && bad == 0 {
				bad = invalidUTF8
			}
			out = utf8.AppendRune(out, rr)
			i += size
		}
	}
	return out, bad
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	r, ok := hex4(s, 2)
	if !ok {
		return -1
	}
	return r
}

// JSONString decodes the text of one JSON string value, with encoding/json's
// rules; ok is false when text is not exactly one valid JSON string.
func JSONString(text []byte) (s string, ok bool) {
	b, ok := JSONStringBytes(text)
	return string(b), ok
}

// JSONStringBytes is JSONString without the conversion to a string: the
// result aliases text when the string has no escapes and valid UTF-8.
func JSONStringBytes(text []byte) ([]byte, bool) {
	var r JSON
	r.Reset(text)
	if r.Peek() != '"' {
		return nil, false
	}
	start := r.i
	end, esc, wide := r.scanString(start)
	if end < 0 {
		return nil, false
	}
	r.i = end
	if r.Finish() != nil {
		return nil, false
	}
	s := text[start+1 : end-1]
	if esc || (wide && !utf8.Valid(s)) {
		s, _ = unquoteJSON(s)
	}
	return s, true
}

// Fields matches object keys to a struct's fields as encoding/json does:
// a field whose name equals the key, else the first field whose name
// equals it under Unicode case folding. It is built once and only read.
type Fields struct {
	names  []string       // by number
	byLen  [][]field      // names by length, in field order
	folded map[string]int // folded name → first field
	maxLen int            // the longest name, in bytes
	ascii  bool           // every name is ASCII
}

type field struct {
	name string
	i    int
}

// NewFields numbers names from 0 in the order given, which should be the
// struct's field order (it decides between names that fold alike).
func NewFields(names ...string) *Fields {
	f := &Fields{names: names, folded: map[string]int{}, ascii: true}
	for _, n := range names {
		f.maxLen = max(f.maxLen, len(n))
	}
	f.byLen = make([][]field, f.maxLen+1)
	for i, n := range names {
		f.byLen[len(n)] = append(f.byLen[len(n)], field{n, i})
		k := string(foldName(nil, []byte(n)))
		if _, ok := f.folded[k]; !ok {
			f.folded[k] = i
		}
		if !isASCII([]byte(n)) {
			f.ascii = false
		}
	}
	return f
}

// Index returns the number of key's field, or -1.
func (f *Fields) Index(key []byte) int {
	if len(key) <= f.maxLen {
		for _, e := range f.byLen[len(key)] {
			if e.name == string(key) {
				return e.i
			}
		}
	}
	if f.ascii && isASCII(key) {
		// ASCII folds to ASCII of the same length: compare names of
		// that length without regard to case.
		if len(key) <= f.maxLen {
			for _, e := range f.byLen[len(key)] {
				if asciiEqualFold(e.name, key) {
					return e.i
				}
			}
		}
		return -1
	}
	// A rune's folded form is at least a third of its length (the
	// Kelvin sign, 3 bytes, folds to K), so longer keys cannot match.
	if len(key) > 3*f.maxLen {
		return -1
	}
	var buf [64]byte
	if i, ok := f.folded[string(foldName(buf[:0], key))]; ok {
		return i
	}
	return -1
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiEqualFold(name string, key []byte) bool {
	for i := 0; i < len(key); i++ {
		a, b := name[i], key[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// foldName is encoding/json's: each rune replaced by the smallest rune of
// its case-folding set.
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
