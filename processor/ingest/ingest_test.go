package ingest

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

type fixedClassifier struct{}

func (fixedClassifier) Attempt(a *event.Attempt) event.Verdict {
	if a.Outcome == event.Delivered {
		return event.NewVerdict(event.LabelDelivered, "outcome.delivered")
	}
	return event.NewVerdict(event.Unknown, "test")
}

func newIngester(t testing.TB, cfg Config) *Ingester {
	t.Helper()
	schema, err := os.ReadFile("../../schemas/attempt.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(cfg, fixedClassifier{}, schema)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestNormaliseAddress(t *testing.T) {
	for _, tc := range []struct {
		in, norm, domain, err string
	}{
		{in: "Foo.Bar+news@Example.COM", norm: "foo.bar+news@example.com", domain: "example.com"},
		{in: "<user@example.org>", norm: "user@example.org", domain: "example.org"},
		{in: " user@example.org. ", norm: "user@example.org", domain: "example.org"},
		{in: "Jörg@Bücher.example", norm: "jörg@xn--bcher-kva.example", domain: "xn--bcher-kva.example"},
		{in: "user@XN--BCHER-KVA.example", norm: "user@xn--bcher-kva.example", domain: "xn--bcher-kva.example"},
		{in: `"john doe"@example.com`, norm: `"john doe"@example.com`, domain: "example.com"},
		{in: "not-an-address", err: "no local part or no domain"},
		{in: "user@", err: "no local part or no domain"},
		{in: "@example.com", err: "no local part or no domain"},
		{in: "a@b@c.com", err: "only allowed when quoted"},
		{in: "user@localhost", err: "not a fully qualified name"},
		{in: "us\x00er@example.com", err: "control character"},
		{in: "us\x1b[31mer@example.com", err: "control character"},
		{in: "a..b@example.com", err: "misplaced dot"},
		{in: "user@[192.0.2.1]", err: "address literals"},
		{in: strings.Repeat("a", 65) + "@example.com", err: "longer than 64"},
		{in: "user@exa mple.com", err: "domain"},
		{in: "0@.0", err: "empty or over-long label"},
		{in: "a@example.123", err: "all-numeric"},
		{in: "a@-bad.example", err: "invalid label"},
		{in: "", err: "empty address"},
	} {
		norm, dom, err := NormaliseAddress(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormaliseAddress(%q) error = %v, want it to contain %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || norm != tc.norm || dom != tc.domain {
			t.Errorf("NormaliseAddress(%q) = %q, %q, %v; want %q, %q", tc.in, norm, dom, err, tc.norm, tc.domain)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(map[bool]string{false: "typed", true: "schema"}[full], func(t *testing.T) {
			testDecode(t, newIngester(t, Config{MaxRecordBytes: 4096, ValidateSchema: full}))
		})
	}
}

func testDecode(t *testing.T, in *Ingester) {
	good := `{"occurred_at":"2026-10-01T10:00:00+02:00","recipient":"Bob@Example.com","outcome":"bounced",
		"smtp":{"code":550,"enhanced":"5.1.1","text":"user unknown"},"campaign_id":"c1","unknown_field":1}`
	a, err := in.Decode([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if a.RecipientNorm != "bob@example.com" || a.RecipientDomain != "example.com" {
		t.Errorf("normalised to %q %q", a.RecipientNorm, a.RecipientDomain)
	}
	if !a.OccurredAt.Equal(time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)) || a.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at = %v, want 08:00 UTC", a.OccurredAt)
	}
	if len(a.EventID) != 32 || a.Verdict == nil || a.Verdict.Rule != "test" {
		t.Errorf("derived fields: event_id %q verdict %+v", a.EventID, a.Verdict)
	}
	again, _ := in.Decode([]byte(good))
	if again.EventID != a.EventID {
		t.Errorf("event_id not stable: %q then %q", a.EventID, again.EventID)
	}
	given, err := in.Decode([]byte(`{"event_id":"abc","occurred_at":"2026-10-01T10:00:00Z","recipient":"b@example.com","outcome":"delivered"}`))
	if err != nil || given.EventID != "abc" {
		t.Errorf("a producer's event_id must be kept: %q %v", given.EventID, err)
	}

	for _, tc := range []struct{ name, rec, reason string }{
		{"too large", `{"recipient":"` + strings.Repeat("x", 5000) + `"}`, ReasonTooLarge},
		{"empty", "   ", ReasonEmpty},
		{"truncated", `{"recipient":`, ReasonJSON},
		{"array", `[{"recipient":"a@example.com"}]`, ReasonJSON},
		{"no recipient", `{"occurred_at":"2026-10-01T10:00:00Z","outcome":"bounced"}`, ReasonSchema},
		{"no time", `{"recipient":"a@example.com","outcome":"bounced"}`, ReasonSchema},
		{"bad outcome", `{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"exploded"}`, ReasonSchema},
		{"bad time", `{"occurred_at":"yesterday","recipient":"a@example.com","outcome":"bounced"}`, ReasonSchema + "|" + ReasonTime},
		{"code range", `{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":9999}}`, ReasonSchema},
		{"bad address", `{"occurred_at":"2026-10-01T10:00:00Z","recipient":"not-an-address","outcome":"bounced"}`, ReasonAddress},
		{"hostile address", `{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a\u0000b@example.com","outcome":"bounced"}`, ReasonAddress},
		{"ancient", `{"occurred_at":"1900-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced"}`, ReasonTime},
	} {
		_, err := in.Decode([]byte(tc.rec))
		var re *RecordError
		if !errors.As(err, &re) || !slices.Contains(strings.Split(tc.reason, "|"), re.Reason) {
			t.Errorf("%s: error %v, want reason %s", tc.name, err, tc.reason)
		}
	}
}

// agreementCases are records on both sides of each limit of the schema.
var agreementCases = []string{
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"exploded"}`,
	`{"occurred_at":"yesterday","recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","sent_at":"","recipient":"a@example.com","outcome":"bounced"}`,
	`{"recipient":"a@example.com","outcome":"bounced"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":599}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":600}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":"550"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"code":550.5}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":"550"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","attempt":-1}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","attempt":100001}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","delay_seconds":-1}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"enhanced":"5.1.1.1.1.1.1.1.1"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","smtp":{"enhanced":"5.1.1"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":{"k":1}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","metadata":{"k":"v"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","campaign_id":"` + strings.Repeat("é", 256) + `"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","campaign_id":"` + strings.Repeat("é", 257) + `"}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","source":{"kind":"` + strings.Repeat("k", 65) + `"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","source_classification":{"scheme":"ses","value":"Permanent"}}`,
	`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"a@example.com","outcome":"bounced","diagnostic":"` + strings.Repeat("d", 65537) + `"}`,
}

// TestTypedMatchesSchema holds the typed checks (the default) to the JSON
// Schema's verdicts, so the schema stays the contract.
func TestTypedMatchesSchema(t *testing.T) {
	typed := newIngester(t, Config{})
	full := newIngester(t, Config{ValidateSchema: true})
	for _, rec := range agreementCases {
		_, terr := typed.Decode([]byte(rec))
		_, serr := full.Decode([]byte(rec))
		if (terr == nil) != (serr == nil) {
			t.Errorf("typed %v, schema %v for %.120s", terr, serr, rec)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{MaxRecordBytes: 10}).Validate(); err == nil || !strings.Contains(err.Error(), "ingest.max_record_bytes") {
		t.Errorf("Validate() = %v, want an error naming ingest.max_record_bytes", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"Bob@Example.com","outcome":"bounced","smtp":{"code":550}}`))
	f.Add([]byte(`{"recipient":`))
	f.Add([]byte(`{"occurred_at":"2026-10-01T10:00:00Z","recipient":"\u00e9@b\u00fccher.example","outcome":"deferred"}`))
	for _, c := range agreementCases {
		f.Add([]byte(c))
	}
	in := newIngester(f, Config{})
	full := newIngester(f, Config{ValidateSchema: true})
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := in.Decode(raw)
		_, serr := full.Decode(raw)
		var re *RecordError
		// The typed checks are never stricter than the schema, except
		// on what the schema cannot say (addresses, time ranges). They
		// are a little more lenient where encoding/json is: null reads
		// as absent, keys match without regard to case, and time.Parse
		// takes one-digit hours; TestTypedMatchesSchema pins the limits.
		if err != nil && serr == nil && errors.As(err, &re) && re.Reason != ReasonAddress && re.Reason != ReasonTime && re.Reason != ReasonJSON {
			t.Fatalf("typed refused what the schema accepts (%v): %q", err, raw)
		}
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) || re.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if a.RecipientNorm == "" || a.RecipientDomain == "" || a.EventID == "" || a.Verdict == nil || !a.Outcome.Valid() {
			t.Fatalf("accepted an incomplete attempt: %+v", a)
		}
		if n, _, err := NormaliseAddress(a.RecipientNorm); err != nil || n != a.RecipientNorm {
			t.Fatalf("normalisation is not idempotent: %q -> %q (%v)", a.RecipientNorm, n, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	rec := []byte(`{"occurred_at":"2026-10-01T10:00:00Z","sent_at":"2026-10-01T09:58:00Z","recipient":"Bob.Smith@Example.com","outcome":"bounced","message_id":"<abc.123@mail.example.net>","campaign_id":"c-2026-10-welcome","sending_ip":"192.0.2.10","pool":"shared-1","attempt":1,"source":{"kind":"generic","host":"mta-1"},"smtp":{"code":550,"enhanced":"5.1.1","text":"The email account that you tried to reach does not exist.","command":"RCPT TO"}}`)
	for _, skip := range []bool{false, true} {
		name := "schema"
		if skip {
			name = "typed_only"
		}
		b.Run(name, func(b *testing.B) {
			in := newIngester(b, Config{ValidateSchema: !skip})
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, err := in.Decode(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
