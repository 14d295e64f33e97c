package raw

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/ingest/internal/jsoncheck"
)

var jsonSeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e-3`, `"x"`, `{"a":[1,{"b":null}]}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":1]`, `[1}`, `01`, `1.`, `1e`, `-`, `.5`, `+1`, `tru`, `nul`, `"\x"`, `"\u12g4"`,
	"\"a\x01\"", "\"\xff\xfe\"", `"\ud83d\ude00\ud83d"`, `{"a":1} x`, `{"a":1}{}`, "\t{ \"a\" :\r\n1 }\n",
	`["` + strings.Repeat("abcdefgh", 9) + `\"` + strings.Repeat("é", 9) + `"]`,
	// what a Strict reader refuses
	`{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"a":{"b":1,"b":2}}`, `{"\u0061":1,"a":2}`, "{\"a\":\"\xed\xa0\x80\"}",
	"{\"\xff\":1}", `{"a":"\udc00"}`, `["\ud83d\ude00","\ud83d"]`,
}

// FuzzJSONValid holds the reader's validation to encoding/json's: Skip then
// Finish succeeds exactly on the texts json.Valid accepts, and reading a
// value as any gives what json.Unmarshal gives.
func FuzzJSONValid(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsStd)
}

// TestJSONDepth: nesting as deep as encoding/json allows and one level
// deeper (too slow as fuzz seeds).
func TestJSONDepth(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
		strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
		strings.Repeat(`[{"a":`, 5000) + strings.Repeat("}]", 5000),
		strings.Repeat(`[{"a":`, 5000) + "1" + strings.Repeat("}]", 5000),
	} {
		sameAsStd(t, []byte(s))
	}
}

func sameAsStd(t *testing.T, b []byte) {
	t.Helper()
	var r JSON
	r.Reset(b)
	r.Skip()
	err := r.Finish()
	if valid := json.Valid(b); valid != (err == nil) {
		t.Fatalf("json.Valid = %v, Skip+Finish = %v for %q", valid, err, b)
	}
	var want any
	werr := json.Unmarshal(b, &want)
	r.Reset(b)
	got := r.Any(nil)
	gerr := r.Finish()
	if (werr == nil) != (gerr == nil) || werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("json.Unmarshal = %#v, %v; Any = %#v, %v for %q", want, werr, got, gerr, b)
	}
	var ws string
	werr = json.Unmarshal(b, &ws)
	if werr == nil && string(bytes.TrimSpace(b)) == "null" {
		return // a no-op for encoding/json, not a string for JSONString
	}
	gs, ok := JSONString(b)
	if (werr == nil) != ok || ok && ws != gs {
		t.Fatalf("json.Unmarshal = %q, %v; JSONString = %q, %v for %q", ws, werr, gs, ok, b)
	}
}

// FuzzJSONNumbers holds Int and Float to encoding/json's conversions.
func FuzzJSONNumbers(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"1.5", "1e3", "0.1", "123456789012345", "1234567890123456", "0.000001", "1e-400", "1e400", "-12.5e-2", "999999999999999.9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var wi, gi int
		werr := json.Unmarshal(b, &wi)
		var r JSON
		r.Reset(b)
		r.Int(&gi)
		gerr := r.Finish()
		// On an error the value is not looked at (encoding/json validates
		// first and leaves it alone; the reader may have set it).
		if (werr == nil) != (gerr == nil) || werr == nil && wi != gi {
			t.Fatalf("int: json.Unmarshal = %d, %v; Int = %d, %v for %q", wi, werr, gi, gerr, b)
		}
		var wf, gf float64
		werr = json.Unmarshal(b, &wf)
		r.Reset(b)
		r.Float(&gf)
		gerr = r.Finish()
		if (werr == nil) != (gerr == nil) || werr == nil && wf != gf {
			t.Fatalf("float: json.Unmarshal = %v, %v; Float = %v, %v for %q", wf, werr, gf, gerr, b)
		}
	})
}

// readStrict reads b as an object of fields a and b, objects under o, r as
// a raw value, m with Any, and anything else skipped, as a strict decoder
// would.
func readStrict(b []byte, strict bool) error {
	fields := NewFields("a", "b", "o", "r", "m")
	var r JSON
	r.Reset(b)
	if strict {
		r.Strict()
	}
	var obj func()
	obj = func() {
		var seen Keys
		for more := r.Object(); more; more = r.More() {
			switch r.Field(fields, &seen) {
			case 0, 1:
				var s string
				r.String(&s)
			case 2:
				obj()
			case 3:
				r.Raw()
			case 4:
				r.Any(nil)
			default:
				r.Skip()
			}
		}
	}
	obj()
	return r.Finish()
}

func TestJSONStrict(t *testing.T) {
	for _, c := range []struct {
		name, in string
		msg      string // "" when a strict reader accepts
	}{
		{"distinct keys", `{"a":"x","b":"y","c":1,"o":{"a":"z"}}`, ""},
		{"same key in nested objects", `{"a":"x","o":{"a":"y","o":{"a":"z"}}}`, ""},
		{"repeated field", `{"a":"x","a":"y"}`, `duplicate key "a": a key may appear once in an object (offset 9)`},
		{"repeated field in another case", `{"a":"x","A":"y"}`, `duplicate key "A": it names field "a" again`},
		{"repeated field by escape", `{"\u0061":"x","a":"y"}`, `duplicate key "a"`},
		{"repeated unknown key", `{"c":1,"c":2}`, `duplicate key "c"`},
		{"unknown keys in another case are two keys", `{"c":1,"C":2}`, ""},
		{"repeated key in a nested object", `{"o":{"o":{"b":"x","B":"y"}}}`, `duplicate key "o.o.B"`},
		{"nested object closed: back to its parent", `{"o":{"a":"x"},"a":"y","o":{}}`, `duplicate key "o"`},
		{"repeated key in a skipped value", `{"c":{"x":1,"x":2}}`, ""},
		{"invalid UTF-8", "{\"a\":\"caf\xe9\"}", `field "a": the string is not valid UTF-8`},
		{"invalid UTF-8 after an escape", "{\"o\":{\"b\":\"\\n\xff\"}}", `field "o.b": the string is not valid UTF-8`},
		{"encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", `not valid UTF-8`},
		{"lone surrogate escape", `{"a":"x\ud83d"}`, `field "a": the string holds a lone UTF-16 surrogate escape`},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, ""},
		{"escaped U+FFFD", `{"a":"\ufffd"}`, ""},
		{"invalid UTF-8 in a key", "{\"o\":{\"\xff\":1}}", `a key in "o" is not valid UTF-8`},
		{"invalid UTF-8 in a top-level key", "{\"\xff\":1}", `a key at the top level is not valid UTF-8`},
		{"invalid UTF-8 in a skipped value", "{\"c\":\"\xff\"}", ""},
		{"raw value", `{"r":{"x":["\ud83d\ude00","\\ud800",1]}}`, ""},
		{"invalid UTF-8 in a raw value", "{\"r\":[1,\"a\xffb\"]}", `field "r": the string is not valid UTF-8`},
		{"lone surrogate in a raw value", `{"r":{"x":"a\udcffb"}}`, `field "r": the string holds a lone UTF-16 surrogate escape`},
		{"lone high surrogate at the end of a raw value", `{"r":"\ud800"}`, `lone UTF-16 surrogate`},
		{"repeated key inside a raw value is its reader's business", `{"r":{"x":1,"x":2}}`, ""},
		{"repeated key read by Any", `{"m":{"x":1,"y":{"z":1,"z":2}}}`, `duplicate key "m.y.z"`},
		{"keys in another case are two keys for Any", `{"m":{"x":1,"X":2}}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := readStrict([]byte(c.in), false); err != nil {
				t.Fatalf("lenient reader: %v", err)
			}
			err := readStrict([]byte(c.in), true)
			var se *JSONStrictError
			switch {
			case c.msg == "" && err != nil:
				t.Fatalf("strict reader refused: %v", err)
			case c.msg == "":
			case !errors.As(err, &se):
				t.Fatalf("err = %v, want a *JSONStrictError", err)
			case !strings.Contains(err.Error(), c.msg):
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

// FuzzJSONStrict: a strict reader reads what a lenient one does, or
// refuses with a *JSONStrictError, and only when the text has a repeated
// key, bad UTF-8 or a surrogate escape.
func FuzzJSONStrict(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"o":{"a":"x","o":{"A":"y"}},"c":[1,{"c":1,"c":2}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lerr := readStrict(b, false)
		serr := readStrict(b, true)
		var se *JSONStrictError
		if errors.As(serr, &se) {
			if utf8.Valid(b) && !bytes.Contains(bytes.ToLower(b), []byte(`\ud`)) && !jsoncheck.Repeat(b) {
				t.Fatalf("strict reader refused %q: %v", b, serr)
			}
			return
		}
		if (lerr == nil) != (serr == nil) {
			t.Fatalf("lenient %v, strict %v for %q", lerr, serr, b)
		}
		var r JSON
		r.Reset(b)
		r.Strict()
		sany := r.Any(nil)
		if err := r.Finish(); err == nil {
			r.Reset(b)
			if lany := r.Any(nil); !reflect.DeepEqual(lany, sany) {
				t.Fatalf("strict Any %#v, lenient %#v for %q", sany, lany, b)
			}
		}
	})
}
