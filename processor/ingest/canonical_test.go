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
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// stdDecode is Ingester.Decode as it was before decodeAttempt: through
// encoding/json. It stays here, as the reference the one-pass decoder is
// held to.
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
// as a struct and through Ingester.Decode, and fails on any difference.
func sameAsStd(t *testing.T, in *Ingester, b []byte) {
	t.Helper()
	var want, got event.Attempt
	werr := json.Unmarshal(b, &want)
	gerr := decodeAttempt(b, &got)
	if wc, gc := errClass(werr), errClass(gerr); wc != gc {
		t.Fatalf("encoding/json: %s (%v)\none pass:      %s (%v)\ninput %.300q", wc, werr, gc, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %.300q", want, got, b)
	}

	wa, werr := stdDecode(in, b)
	ga, gerr := in.Decode(b)
	if wr, gr := reasonOf(werr), reasonOf(gerr); wr != gr {
		t.Fatalf("encoding/json: %q (%v)\none pass:      %q (%v)\ninput %.300q", wr, werr, gr, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(wa, ga) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %.300q", wa, ga, b)
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
