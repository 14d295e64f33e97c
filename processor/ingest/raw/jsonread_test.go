package raw

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var jsonSeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e-3`, `"x"`, `{"a":[1,{"b":null}]}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":1]`, `[1}`, `01`, `1.`, `1e`, `-`, `.5`, `+1`, `tru`, `nul`, `"\x"`, `"\u12g4"`,
	"\"a\x01\"", "\"\xff\xfe\"", `"\ud83d\ude00\ud83d"`, `{"a":1} x`, `{"a":1}{}`, "\t{ \"a\" :\r\n1 }\n",
	`["` + strings.Repeat("abcdefgh", 9) + `\"` + strings.Repeat("é", 9) + `"]`,
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
