package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/internal/jsoncheck"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// stdDecode is Ingester.Decode as it was before decodeAttempt: through
// encoding/json (with the texts cleaned, as decodeAttempt stores them). It
// stays here, as the reference the one-pass decoder is held to.
func stdDecode(in *Ingester, b []byte) (event.Attempt, error) {
	var a event.Attempt
	if len(b) > in.cfg.MaxRecordBytes {
		return a, refuse(ReasonTooLarge, "too large")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return a, refuse(ReasonEmpty, "empty")
	}
	if b[0] != '{' {
		return a, refuse(ReasonJSON, "not an object")
	}
	if err := json.Unmarshal(b, &a); err != nil {
		var te *time.ParseError
		if errors.As(err, &te) {
			return a, refuse(ReasonTime, "%v", err)
		}
		return a, refuse(ReasonJSON, "%v", err)
	}
	a.SMTP.Text, a.Diagnostic = reply.Clean(a.SMTP.Text), reply.Clean(a.Diagnostic)
	return a, in.Complete(&a)
}

// errClass names what kind of error encoding/json or raw.JSON returned, so
// the two can be compared: the reasons of RecordError only tell time errors
// from the rest.
func errClass(err error) string {
	var (
		se  *json.SyntaxError
		rse *raw.JSONSyntaxError
		te  *json.UnmarshalTypeError
		rte *raw.JSONTypeError
		pe  *time.ParseError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se), errors.As(err, &rse):
		return "syntax"
	case errors.As(err, &te), errors.As(err, &rte):
		return "type"
	case errors.As(err, &pe):
		return "time"
	}
	return "other: " + err.Error()
}

func reasonOf(err error) string {
	var re *RecordError
	if errors.As(err, &re) {
		return re.Reason
	}
	if err != nil {
		return "not a RecordError: " + err.Error()
	}
	return ""
}

// canonicalSeeds are records that reach the corners of encoding/json's
// rules.
var canonicalSeeds = []string{
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"Bob@Example.com","outcome":"bounced","smtp":{"code":550,"enhanced":"5.1.1","text":"user unknown"}}`,
	`{"occurred_at":"2026-10-01T10:00:00+02:00","sent_at":"2026-10-01T09:58:00.123456789Z","recipient":"a@example.com","outcome":"deferred","attempt":3,"delay_seconds":120.5,"source":{"kind":"postfix","host":"mx1"},"metadata":{"a":"b","c":"d"},"source_classification":{"scheme":"ses","value":"Permanent"},"verdict":{"class":"hard","label":"x","scope":"recipient","rule":"r","local":true}}`,
	`{"recipient":`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"\u00e9@b\u00fccher.example","outcome":"deferred"}`,
	// keys: case folding (the Kelvin sign folds to k, the long s to s), escapes, repeats
	`{"OCCURRED_AT":"2026-10-01T10:00:00Z","Recipient":"a@example.com","outcome":"bounced","ſender":"x@y.z","source":{"\u212aind":"k"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recip\u0069ent":"a@example.com","outcome":"bounced","outcome":"delivered"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":550},"smtp":{"text":"t"},"metadata":{"a":"1"},"metadata":{"b":"2"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":{"a":"1"},"metadata":null,"source_classification":{"scheme":"s"},"source_classification":{"value":"v"}}`,
	// null leaves fields as they were
	`{"occurred_at":"2026-10-01T10:00:00Z","occurred_at":null,"recipient":"a@example.com","recipient":null,"outcome":"bounced","smtp":null,"attempt":null,"verdict":null}`,
	// wrong types
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":5,"outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","attempt":1.5}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","attempt":1e2}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","attempt":99999999999999999999}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","delay_seconds":1e400}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","delay_seconds":-0.000001e-3}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","delay_seconds":0.1234567890123456789}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":{"a":1}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":[]}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","verdict":{"local":"yes"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","source":"x"}`,
	// times: errors that stop encoding/json win over saved type errors
	`{"recipient":5,"occurred_at":"yesterday","outcome":"bounced"}`,
	`{"occurred_at":"yesterday","recipient":5,"outcome":"bounced"}`,
	`{"occurred_at":5,"recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":{"a":1},"recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00\u005a","recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T1:00:00Z","recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"yesterday","recipient":"a@example.com","outcome":"bounced"} x`,
	// strings: invalid UTF-8, lone surrogates, escapes
	"{\"occurred_at\":\"2026-10-01T10:00:00Z\",\"recipient\":\"a@example.com\",\"outcome\":\"bounced\",\"diagnostic\":\"\xff\xfe \xed\xa0\x80 ok\"}",
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","diagnostic":"\ud83d\ude00 \ud83d x \ude00 \u0000 \/ \b\f\n\r\t"}`,
	"{\"occurred_at\":\"2026-10-01T10:00:00Z\",\"recipient\":\"a@example.com\",\"outcome\":\"bounced\",\"diagnostic\":\"tab\there\"}",
	// syntax
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced",}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced"]`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":[1,2}]}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":01}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":-}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":tru}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":"\x"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":"\u12"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced"}{}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":{"a" 1}}`,
	// strict: repeats at every level, bad UTF-8 in kept and skipped strings, bad enhanced codes, control characters
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","Outcome":"delivered"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":550,"Code":250}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":{"a":"1","a":"2"},"x":{"b":1,"b":2}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","x":1,"x":2}`,
	"{\"occurred_at\":\"2026-10-01T10:00:00Z\",\"recipient\":\"a\xff@example.com\",\"outcome\":\"bounced\"}",
	"{\"occurred_at\":\"2026-10-01T10:00:00Z\",\"recipient\":\"a@example.com\",\"outcome\":\"bounced\",\"x\":\"\xff\",\"metadata\":{\"\xfe\":\"v\"}}",
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":550,"enhanced":"9.9.9.9.9"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":550,"enhanced":"5.1.1000"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"text":"\u001b[31mred\u001b[0m\r\n\u0000"},"diagnostic":"\u009b\u001b]0;t\u0007"}`,
}

// deepRecords nest as deep as encoding/json allows, and one level deeper.
// They are tested on their own: as fuzz seeds they slow the fuzzer down.
var deepRecords = []string{
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	`{"smtp":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 9999) + "1" + strings.Repeat("}", 9999) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 10000) + "1" + strings.Repeat("}", 10000) + `}`,
}

// FuzzCanonicalDecode holds the one-pass decoder to encoding/json: the
// same bytes give the same attempt, or errors of the same reason (and of
// the same kind, before validation).
func FuzzCanonicalDecode(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	for _, s := range agreementCases {
		f.Add([]byte(s))
	}
	in := newIngester(f, Config{})
	f.Fuzz(func(t *testing.T, b []byte) { sameAsStd(t, in, b) })
}

func TestCanonicalDecodeDeep(t *testing.T) {
	in := newIngester(t, Config{MaxRecordBytes: 1 << 20})
	for _, s := range deepRecords {
		sameAsStd(t, in, []byte(s))
	}
}

// sameAsStd decodes b with encoding/json and with the one-pass decoder,
// as a struct and through Ingester.Decode, and fails on any difference but
// the strict decoder's: it may refuse a record encoding/json reads with a
// guess (strictViolation must then agree that it holds a repeated key or
// a string that is not UTF-8), and it cleans the texts.
func sameAsStd(t *testing.T, in *Ingester, b []byte) {
	t.Helper()
	var want, got event.Attempt
	werr := json.Unmarshal(b, &want)
	gerr := readAttempt(b, &got, false)
	if wc, gc := errClass(werr), errClass(gerr); wc != gc {
		t.Fatalf("encoding/json: %s (%v)\none pass:      %s (%v)\ninput %.300q", wc, werr, gc, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %.300q", want, got, b)
	}

	var strict event.Attempt
	serr := decodeAttempt(b, &strict)
	var se *raw.JSONStrictError
	refused := errors.As(serr, &se)
	switch {
	case refused && !strictViolation(b):
		t.Fatalf("strict decoder refused a record without a repeated key or bad UTF-8: %v\ninput %.300q", serr, b)
	case refused:
	case errClass(serr) != errClass(gerr):
		t.Fatalf("lenient: %v\nstrict:  %v\ninput %.300q", gerr, serr, b)
	case serr == nil:
		got.SMTP.Text, got.Diagnostic = reply.Clean(got.SMTP.Text), reply.Clean(got.Diagnostic)
		if !reflect.DeepEqual(got, strict) {
			t.Fatalf("lenient, cleaned: %+v\nstrict:           %+v\ninput %.300q", got, strict, b)
		}
	}

	wa, werr := stdDecode(in, b)
	ga, gerr := in.Decode(b)
	if refused {
		if r := reasonOf(gerr); r != ReasonJSON && !(len(b) > in.cfg.MaxRecordBytes && r == ReasonTooLarge) {
			t.Fatalf("strict refusal %v: Decode gave reason %q (%v), want %q", serr, r, gerr, ReasonJSON)
		}
		return
	}
	if wr, gr := reasonOf(werr), reasonOf(gerr); wr != gr {
		t.Fatalf("encoding/json: %q (%v)\none pass:      %q (%v)\ninput %.300q", wr, werr, gr, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(wa, ga) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %.300q", wa, ga, b)
	}
}

// TestCanonicalStrict: what encoding/json reads with a guess, the
// canonical decoder refuses, naming the key or field.
func TestCanonicalStrict(t *testing.T) {
	in := newIngester(t, Config{})
	const base = `"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced"`
	for _, tc := range []struct {
		name, rec string
		reason    string // "" when accepted
		msg       string // in the error
	}{
		{"no repeats", `{` + base + `,"smtp":{"code":550,"enhanced":"5.1.1"},"metadata":{"a":"1","A":"2"}}`, "", ""},
		{"repeated top-level key", `{` + base + `,"outcome":"delivered"}`, ReasonJSON, `duplicate key "outcome"`},
		{"repeated key in another case", `{` + base + `,"Recipient":"b@example.com"}`, ReasonJSON, `duplicate key "Recipient": it names field "recipient" again`},
		{"repeated key by escape", `{` + base + `,"recip\u0069ent":"b@example.com"}`, ReasonJSON, `duplicate key "recipient"`},
		{"repeated unknown key", `{` + base + `,"x":1,"x":2}`, ReasonJSON, `duplicate key "x"`},
		{"repeated key in smtp", `{` + base + `,"smtp":{"code":550,"code":250}}`, ReasonJSON, `duplicate key "smtp.code"`},
		{"repeated key in source", `{` + base + `,"source":{"kind":"a","KIND":"b"}}`, ReasonJSON, `duplicate key "source.KIND"`},
		{"repeated key in verdict", `{` + base + `,"verdict":{"rule":"a","rule":"b"}}`, ReasonJSON, `duplicate key "verdict.rule"`},
		{"repeated key in source_classification", `{` + base + `,"source_classification":{"value":"a","value":"b"}}`, ReasonJSON, `duplicate key "source_classification.value"`},
		{"repeated metadata key", `{` + base + `,"metadata":{"a":"1","a":"2"}}`, ReasonJSON, `duplicate key "metadata.a"`},
		{"repeated object", `{` + base + `,"smtp":{"code":550},"smtp":{"text":"t"}}`, ReasonJSON, `duplicate key "smtp"`},
		{"repeated key inside a skipped value is not read", `{` + base + `,"x":{"a":1,"a":2}}`, "", ""},
		{"invalid UTF-8 in the recipient", "{\"occurred_at\":\"2026-10-01T10:00:00Z\",\"outcome\":\"bounced\",\"recipient\":\"b\xffob@example.com\"}", ReasonJSON, `field "recipient": the string is not valid UTF-8`},
		{"invalid UTF-8 in smtp.text", "{" + base + ",\"smtp\":{\"text\":\"caf\xe9\"}}", ReasonJSON, `field "smtp.text": the string is not valid UTF-8`},
		{"invalid UTF-8 beside an escape", "{" + base + ",\"diagnostic\":\"\\n\xc3\"}", ReasonJSON, `field "diagnostic": the string is not valid UTF-8`},
		{"invalid UTF-8 in a metadata value", "{" + base + ",\"metadata\":{\"k\":\"\xed\xa0\x80\"}}", ReasonJSON, `field "metadata.k": the string is not valid UTF-8`},
		{"invalid UTF-8 in a key", "{" + base + ",\"metadata\":{\"\xff\":\"v\"}}", ReasonJSON, `a key in "metadata" is not valid UTF-8`},
		{"lone surrogate", `{` + base + `,"diagnostic":"\ud83d alone"}`, ReasonJSON, `field "diagnostic": the string holds a lone UTF-16 surrogate`},
		{"surrogate pair is fine", `{` + base + `,"diagnostic":"\ud83d\ude00"}`, "", ""},
		{"escaped U+FFFD is fine", `{` + base + `,"diagnostic":"\ufffd"}`, "", ""},
		{"invalid UTF-8 in a skipped value is not read", "{" + base + ",\"x\":\"\xff\"}", "", ""},
		{"enhanced 9.9.9.9.9", `{` + base + `,"smtp":{"code":550,"enhanced":"9.9.9.9.9"}}`, ReasonSchema, `/smtp/enhanced: "9.9.9.9.9" is not an RFC 3463 enhanced status code`},
		{"enhanced with a fourth part", `{` + base + `,"smtp":{"enhanced":"5.1.1.1"}}`, ReasonSchema, `/smtp/enhanced`},
		{"enhanced class 3", `{` + base + `,"smtp":{"enhanced":"3.1.1"}}`, ReasonSchema, `/smtp/enhanced`},
		{"enhanced four-digit detail", `{` + base + `,"smtp":{"enhanced":"5.1.1000"}}`, ReasonSchema, `/smtp/enhanced`},
		{"enhanced with a space", `{` + base + `,"smtp":{"enhanced":"5.1.1 "}}`, ReasonSchema, `/smtp/enhanced`},
		{"enhanced 5.7.26", `{` + base + `,"smtp":{"enhanced":"5.7.26"}}`, "", ""},
		{"enhanced 2.0.0", `{` + base + `,"smtp":{"enhanced":"2.0.0"}}`, "", ""},
		{"enhanced 4.100.999", `{` + base + `,"smtp":{"enhanced":"4.100.999"}}`, "", ""},
		{"enhanced empty", `{` + base + `,"smtp":{"enhanced":""}}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Decode([]byte(tc.rec))
			if got := reasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestCanonicalClean: the reply text and the diagnostic are stored without
// control characters or terminal escapes; other fields are left alone.
func TestCanonicalClean(t *testing.T) {
	in := newIngester(t, Config{})
	rec := `{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced",` +
		`"smtp":{"code":550,"enhanced":"5.1.1","text":"\u001b[31muser unknown\u001b[0m\r\nsecond line\u0007"},` +
		`"diagnostic":"smtp; 550 5.1.1 x\u001b]0;title\u0007\u0000\u007f\u009b\ty"}`
	a, err := in.Decode([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	const ph = reply.Placeholder
	if want := ph + "user unknown" + ph + " second line" + ph; a.SMTP.Text != want {
		t.Errorf("smtp.text = %q, want %q", a.SMTP.Text, want)
	}
	if want := "smtp; 550 5.1.1 x" + ph + ph + ph + ph + "\ty"; a.Diagnostic != want {
		t.Errorf("diagnostic = %q, want %q", a.Diagnostic, want)
	}
}

func TestFieldsFold(t *testing.T) {
	f := raw.NewFields("kind", "host", "sender")
	for key, want := range map[string]int{"kind": 0, "KIND": 0, "\u212aind": 0, "Host": 1, "ſender": 2, "senders": -1, "": -1, "kin": -1} {
		if got := f.Index([]byte(key)); got != want {
			t.Errorf("Index(%q) = %d, want %d", key, got, want)
		}
	}
}

// BenchmarkDecodeAttempt compares the JSON step alone: encoding/json and
// the one-pass decoder, on the record of BenchmarkSession/canonical.
func BenchmarkDecodeAttempt(b *testing.B) {
	rec := []byte(`{"occurred_at":"2026-11-20T10:00:00Z","recipient":"Bob@Example.com","outcome":"bounced","campaign_id":"c1","message_id":"<m1@x>","smtp":{"code":550,"enhanced":"5.1.1","text":"5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table"}}`)
	for _, bc := range []struct {
		name   string
		decode func([]byte, *event.Attempt) error
	}{
		{"encoding_json", func(b []byte, a *event.Attempt) error { return json.Unmarshal(b, a) }},
		{"one_pass", decodeAttempt},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				var a event.Attempt
				if err := bc.decode(rec, &a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// strictViolation: jsoncheck.Violation at every depth of b.
func strictViolation(b []byte) bool { return jsoncheck.Violation(b, false) }
