package event

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/attempt_v1.golden from the current encoder")

// fullAttempt sets every field, with times in two zones that are not UTC.
func fullAttempt() Attempt {
	v := NewVerdict(MailboxFull, "text.mailbox_full")
	v.Local = true
	return Attempt{
		EventID:    "4f1c2a9b8e7d6c5b4a39281706f5e4d3",
		OccurredAt: time.Date(2026, 6, 1, 11, 4, 5, 123456789, time.FixedZone("", 2*3600)),
		SentAt:     time.Date(2026, 6, 1, 3, 0, 0, 0, time.FixedZone("", -5*3600-30*60)),
		Recipient:  "Jane.Doe@Example.ORG",
		Outcome:    Deferred,
		Source:     Source{Kind: "pmta", Host: "pmta1.example"},
		Sender:     "bounces@sender.example",
		MessageID:  "<m1@sender.example>",
		QueueID:    "4ZfX1k2Lmnz9",
		CampaignID: "nov-news",
		Tenant:     "acme",
		SendingIP:  "192.0.2.10",
		Pool:       "warm",
		Attempt:    3,
		SMTP: SMTP{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full <jane.doe@example.org> & over quota", Command: "RCPT TO",
			RemoteHost: "mx1.example.org", RemoteIP: "2001:db8::25"},
		Diagnostic:           "smtp; 452 4.2.2 Mailbox full",
		DelaySeconds:         3725.25,
		SourceClassification: &SourceClassification{Scheme: "pmta.bounceCat", Value: "quota-issues"},
		Metadata:             map[string]string{"dsn_status": "4.2.2", "env_id": "abc", "": "empty key", "router": ""},
		RecipientNorm:        "jane.doe@example.org",
		RecipientDomain:      "example.org",
		Verdict:              &v,
	}
}

func codecAttempts() map[string]Attempt {
	big := map[string]string{}
	for i := range 2000 {
		big[fmt.Sprintf("header.x-%04d", i)] = strings.Repeat("v", i%300)
	}
	big["long"] = strings.Repeat("ü€😀", 50000)
	hard := NewVerdict(MailboxUnknown, "code.5.1.1")
	utc := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	return map[string]Attempt{
		"every field": fullAttempt(),
		"zero":        {},
		"minimal":     {OccurredAt: utc, Recipient: "a@b.example", Outcome: Delivered, RecipientNorm: "a@b.example"},
		"typical bounce": {EventID: "e1", OccurredAt: utc, Recipient: "a@b.example", Outcome: Bounced,
			Source: Source{Kind: "postfix", Host: "mx"}, QueueID: "ABC123", SMTP: SMTP{Code: 550, Enhanced: "5.1.1", Text: "user unknown"},
			RecipientNorm: "a@b.example", RecipientDomain: "b.example", Verdict: &hard},
		"unicode and escapes": {OccurredAt: utc, Recipient: "josé@bücher.example", Sender: "\"quoted\" <s@x>\n\t\\",
			Diagnostic: "日本語のエラー 😀 \u2028\u2029 <script>&amp;", SMTP: SMTP{Text: "\x00\x01\x1f\x7f"},
			Metadata: map[string]string{"ключ": "значение", "emoji 🎉": "✓"}},
		"invalid UTF-8": {OccurredAt: utc, Recipient: "a\xffb@x.example", Diagnostic: "\xc3\x28 cut \xe2\x82",
			Metadata: map[string]string{"\xff": "\xfe"}},
		"huge metadata": {OccurredAt: utc, Recipient: "a@b.example", Metadata: big},
		"zero times in a zone": {OccurredAt: time.Time{}.In(time.FixedZone("", 3600)),
			SentAt: time.Time{}.In(time.FixedZone("", -7200))},
		"zero occurred, sent set": {SentAt: utc},
		"offsets": {OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 1, time.FixedZone("", 5*3600+45*60)),
			SentAt: time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 14*3600))},
		"extreme offsets": {OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -(23*3600+59*60))),
			SentAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 23*3600+59*60+59))},
		"offset with seconds (LMT)": {OccurredAt: time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 561))},
		"named zone":                {OccurredAt: time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200))},
		"utc as +00:00":             {OccurredAt: time.Date(2026, 7, 1, 12, 0, 0, 0, time.FixedZone("", 0))},
		"local":                     {OccurredAt: time.Date(2026, 7, 1, 12, 0, 0, 0, time.Local)},
		"monotonic":                 {OccurredAt: time.Now()},
		"years 0 and 9999": {OccurredAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
			SentAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		"year 0 east of UTC": {OccurredAt: time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600))},
		"before 1678 and after 2262": {OccurredAt: time.Date(1066, 10, 14, 9, 0, 0, 0, time.UTC),
			SentAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"empty pointers and maps": {OccurredAt: utc, SourceClassification: &SourceClassification{}, Verdict: &Verdict{},
			Metadata: map[string]string{}},
		"numbers": {OccurredAt: utc, Attempt: -7, SMTP: SMTP{Code: math.MaxInt32}, DelaySeconds: math.Copysign(0, -1)},
		"large numbers": {OccurredAt: utc, Attempt: math.MaxInt64, SMTP: SMTP{Code: math.MinInt64},
			DelaySeconds: math.MaxFloat64},
		"tiny delay":     {OccurredAt: utc, DelaySeconds: math.SmallestNonzeroFloat64},
		"negative delay": {OccurredAt: utc, DelaySeconds: -0.1},
		"unknown enums": {OccurredAt: utc, Outcome: "vanished",
			Verdict: &Verdict{Class: "weird", Label: "new_label", Scope: "galaxy", Rule: "r"}},
	}
}

func mustJSON(t testing.TB, a *Attempt) []byte {
	t.Helper()
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestAttemptBinaryRoundTrip(t *testing.T) {
	for name, a := range codecAttempts() {
		t.Run(name, func(t *testing.T) {
			want := mustJSON(t, &a)
			b, err := a.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != AttemptBinaryV1 || json.Valid(b) {
				t.Fatalf("encoding starts with %#x", b[0])
			}
			// Decode into an attempt that holds something: nothing of it
			// may survive.
			got := fullAttempt()
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if j := mustJSON(t, &got); !bytes.Equal(j, want) {
				t.Errorf("JSON after the binary round trip\n got %s\nwant %s", j, want)
			}
			// The JSON round trip, which the binary one replaces, agrees,
			// except on invalid UTF-8: JSON writes "\ufffd" for it, then
			// the U+FFFD it decoded. The binary encoding keeps the bytes,
			// so its attempt's JSON is the original's.
			var viaJSON Attempt
			if err := json.Unmarshal(want, &viaJSON); err != nil {
				t.Fatal(err)
			}
			if j := mustJSON(t, &viaJSON); !bytes.Equal(j, want) && name != "invalid UTF-8" {
				t.Errorf("JSON round trip differs: %s", j)
			}
			// The same attempt is the same bytes.
			again, err := got.AppendBinary(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs (%v)\n got %x\nwant %x", err, again, b)
			}
			// The decoded attempt does not share the input's bytes.
			for i := range b {
				b[i] = 0xff
			}
			if j := mustJSON(t, &got); !bytes.Equal(j, want) {
				t.Errorf("the decoded attempt changed with its input buffer: %s", j)
			}
		})
	}
}

// A field added to Attempt (or to a struct in it) must be added to the
// encoding too: this fills every field by reflection and checks that the
// round trip keeps it.
func TestAttemptBinaryCoversEveryField(t *testing.T) {
	var a Attempt
	fill(t, reflect.ValueOf(&a).Elem(), "attempt")
	want := mustJSON(t, &a)
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got Attempt
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if j := mustJSON(t, &got); !bytes.Equal(j, want) {
		t.Errorf("a field is lost: add it to codec.go (with a new version byte)\n got %s\nwant %s", j, want)
	}
}

// fill sets every field of v to a value that is not its zero value.
func fill(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(path)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Float64:
		v.SetFloat(float64(len(path)) / 4)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+".key")
		fill(t, e, path+".value")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, len(path), time.FixedZone("", 3600*(len(path)%12)))))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	default:
		t.Fatalf("%s: fill does not know %s; teach it, and codec.go", path, v.Type())
	}
}

func TestAttemptBinaryAppends(t *testing.T) {
	a := fullAttempt()
	b, err := a.AppendBinary([]byte("prefix"))
	if err != nil || string(b[:6]) != "prefix" {
		t.Fatalf("%q %v", b, err)
	}
	var got Attempt
	if err := got.UnmarshalBinary(b[6:]); err != nil {
		t.Fatal(err)
	}
}

// Every cut of an encoding is refused, and so is anything after it.
func TestAttemptBinaryRefusesTruncated(t *testing.T) {
	for name, a := range codecAttempts() {
		if name == "huge metadata" {
			continue // 2.6 MB of prefixes
		}
		b, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		for n := range b {
			var cut Attempt
			if err := cut.UnmarshalBinary(b[:n]); err == nil {
				t.Errorf("%s: %d of %d bytes decoded without error", name, n, len(b))
			}
		}
		var long Attempt
		if err := long.UnmarshalBinary(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
			t.Errorf("%s: a trailing byte: %v", name, err)
		}
	}
}

func TestAttemptBinaryRefusesGarbage(t *testing.T) {
	// epoch is the zero attempt at the Unix epoch: its time takes 3 bytes
	// (seconds, nanoseconds, offset), then come 12 empty strings, the
	// attempt and the code, 6 empty strings, the delay (byte 25), the
	// metadata count and 2 empty strings.
	epoch, err := (&Attempt{OccurredAt: time.Unix(0, 0).UTC()}).AppendBinary(nil)
	if err != nil || len(epoch) != 29 {
		t.Fatalf("layout changed: %x %v", epoch, err)
	}
	head := []byte{AttemptBinaryV1, 0}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	sv := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	for name, b := range map[string][]byte{
		"empty":                       nil,
		"JSON":                        []byte(`{"recipient":"a@b"}`),
		"whitespace":                  []byte(" {}"),
		"unknown version":             cat([]byte{0x02}, epoch[1:]),
		"only version":                {AttemptBinaryV1},
		"only flags":                  head,
		"zeroes":                      make([]byte, 64),
		"unknown flag":                cat([]byte{AttemptBinaryV1, 0x10}, epoch[2:]),
		"local without verdict":       cat([]byte{AttemptBinaryV1, flagLocal}, epoch[2:]),
		"verdict missing":             cat([]byte{AttemptBinaryV1, flagVerdict}, epoch[2:]),
		"nanoseconds":                 cat(head, sv(0), uv(1e9), epoch[4:]),
		"offset a day":                cat(head, sv(0), uv(0), sv(maxOffset), epoch[5:]),
		"offset minus a day":          cat(head, sv(0), uv(0), sv(-maxOffset), epoch[5:]),
		"year 10000":                  cat(head, sv(maxWall), epoch[3:]),
		"year -1":                     cat(head, sv(minWall-1), epoch[3:]),
		"year -1 by its offset":       cat(head, sv(minWall), uv(0), sv(-60), epoch[5:]),
		"seconds overflow":            cat(head, sv(math.MaxInt64), uv(0), sv(maxOffset-1), epoch[5:]),
		"varint of 11 bytes":          cat(head, bytes.Repeat([]byte{0xff}, 10), []byte{0x01}, epoch[3:]),
		"string past the end":         cat(head, epoch[2:5], uv(1<<31), epoch[6:]),
		"string length 2^64-1":        cat(head, epoch[2:5], uv(math.MaxUint64)),
		"NaN delay":                   cat(epoch[:25], uv(bits.ReverseBytes64(math.Float64bits(math.NaN()))), epoch[26:]),
		"infinite delay":              cat(epoch[:25], uv(bits.ReverseBytes64(math.Float64bits(math.Inf(1)))), epoch[26:]),
		"metadata count past the end": cat(epoch[:26], uv(math.MaxUint64), epoch[27:]),
		"metadata count one too many": cat(epoch[:26], uv(2), []byte{0, 0, 0}, epoch[27:]),
		"trailing byte":               cat(epoch, []byte{0}),
	} {
		var a Attempt
		if err := a.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: %x decoded", name, b)
		}
	}
}

// The encoder refuses what json.Marshal refuses, so that stage 1 sends the
// same attempts to the dead-letter topic whichever encoding it writes.
func TestAttemptBinaryRefusesWhatJSONRefuses(t *testing.T) {
	utc := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for name, a := range map[string]Attempt{
		"year 10000":        {OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year -1":           {OccurredAt: time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)},
		"year 10000 local":  {OccurredAt: time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC).In(time.FixedZone("", 3600))},
		"sent_at year 1e5":  {OccurredAt: utc, SentAt: time.Date(100000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"24h offset":        {OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
		"-24h offset":       {OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -24*3600))},
		"NaN delay":         {OccurredAt: utc, DelaySeconds: math.NaN()},
		"infinite delay":    {OccurredAt: utc, DelaySeconds: math.Inf(1)},
		"-infinite delay":   {OccurredAt: utc, DelaySeconds: math.Inf(-1)},
		"year -1 as year 0": {OccurredAt: time.Date(0, 1, 1, 0, 30, 0, 0, time.UTC).In(time.FixedZone("", -3600))},
	} {
		_, jerr := json.Marshal(&a)
		_, berr := a.AppendBinary(nil)
		if jerr == nil || berr == nil {
			t.Errorf("%s: json error %v, binary error %v: both must refuse", name, jerr, berr)
		}
	}
}

// The enumerations' values decode without a copy; anything else is copied.
func TestAttemptBinaryKnownValues(t *testing.T) {
	var all []string
	for _, o := range []Outcome{Delivered, Deferred, Bounced, Expired, Dropped} {
		all = append(all, string(o))
	}
	for _, c := range []Class{ClassHard, ClassSoft, ClassBlock, ClassComplaint, ClassAutoReply, ClassDelivered} {
		all = append(all, string(c))
	}
	for _, s := range []Scope{ScopeRecipient, ScopeDomain, ScopeUpstream, ScopeTransport, ScopeUnknown, ScopeMessage, ScopeSender, ScopeNonBounce} {
		all = append(all, string(s))
	}
	for _, l := range Labels() {
		all = append(all, string(l))
	}
	for _, s := range all {
		if got, ok := known([]byte(s)); !ok || got != s {
			t.Errorf("%q is not known", s)
		}
	}
	v := []byte("mailbox_full")
	if n := testing.AllocsPerRun(100, func() { known(v) }); n != 0 {
		t.Errorf("known allocates %v times", n)
	}
}

// The golden file pins the encoding: a change to it must be deliberate (a
// new version byte), and bytes written by this version must still decode.
func TestAttemptBinaryGolden(t *testing.T) {
	a := fullAttempt()
	a.Metadata = map[string]string{"dsn_status": "4.2.2", "env_id": "abc"}
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "attempt_v1.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(hex.Dump(b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	golden := undump(t, string(dump))
	if !bytes.Equal(b, golden) {
		t.Errorf("the encoding changed; if on purpose, bump AttemptBinaryV1, keep decoding v1, and run go test -update\n got:\n%s\nwant:\n%s", hex.Dump(b), dump)
	}
	var got Attempt
	if err := got.UnmarshalBinary(golden); err != nil {
		t.Fatal(err)
	}
	if j, want := mustJSON(t, &got), mustJSON(t, &a); !bytes.Equal(j, want) {
		t.Errorf("golden bytes decode to\n%s\nwant\n%s", j, want)
	}
}

// undump reads hex.Dump's output back.
func undump(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		if i := strings.Index(line, "  |"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		b, err := hex.DecodeString(strings.Join(f[1:], ""))
		if err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

func FuzzAttemptCodec(f *testing.F) {
	for _, a := range codecAttempts() {
		if len(a.Metadata) > 100 {
			continue
		}
		b, err := a.AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(mustJSON(f, &a))
	}
	f.Add([]byte(`{"occurred_at":"2026-01-01T10:00:00.5+02:00","sent_at":"0000-01-01T00:00:00-00:30","delay_seconds":1e-7}`))
	f.Add([]byte(`{"occurred_at":"2026-01-01T10:00:00+00:00","metadata":{},"verdict":null,"source_classification":{}}`))
	f.Add([]byte(`{"recipient":"\ud800\udc00\u0000","metadata":{"a":"1","a":"2"},"attempt":-1,"smtp":{"code":0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any bytes: an error or an attempt that JSON can carry, which
		// encodes again to the same JSON.
		var a Attempt
		if err := a.UnmarshalBinary(data); err == nil {
			j, err := json.Marshal(&a)
			if err != nil {
				t.Fatalf("decoded an attempt JSON cannot write: %v", err)
			}
			roundTrip(t, &a, j)
		}
		// JSON that json accepts: the binary round trip keeps its JSON.
		var viaJSON Attempt
		if json.Unmarshal(data, &viaJSON) != nil {
			return
		}
		j, jerr := json.Marshal(&viaJSON)
		if jerr != nil {
			if _, err := viaJSON.AppendBinary(nil); err == nil {
				t.Fatalf("json refuses %+v (%v), the binary encoding does not", viaJSON, jerr)
			}
			return
		}
		roundTrip(t, &viaJSON, j)
	})
}

func roundTrip(t *testing.T, a *Attempt, want []byte) {
	t.Helper()
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatalf("encode %s: %v", want, err)
	}
	var got Attempt
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode the encoding of %s: %v", want, err)
	}
	if j := mustJSON(t, &got); !bytes.Equal(j, want) {
		t.Fatalf("binary round trip\n got %s\nwant %s", j, want)
	}
}

// benchAttempt is a classified Postfix bounce as stage 1 writes it.
func benchAttempt() Attempt {
	v := NewVerdict(MailboxUnknown, "enhanced.5.1.1")
	return Attempt{
		EventID:    "9b2f6e1d0c3a4b5c6d7e8f9012345678",
		OccurredAt: time.Date(2026, 6, 1, 9, 14, 7, 412000000, time.UTC),
		Recipient:  "jane.doe@example.org",
		Outcome:    Bounced,
		Source:     Source{Kind: "postfix", Host: "mta3.sender.example"},
		Sender:     "bounces+nov@sender.example",
		MessageID:  "<20260601091405.4ZfX1k2Lmnz9@sender.example>",
		QueueID:    "4ZfX1k2Lmnz9",
		CampaignID: "nov-news",
		SMTP: SMTP{Code: 550, Enhanced: "5.1.1",
			Text:    "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser 41be03b00d2f7-b7a2e1c1b5dsi123456a12.345 - gsmtp",
			Command: "RCPT TO", RemoteHost: "gmail-smtp-in.l.google.com", RemoteIP: "142.250.153.26"},
		Diagnostic:      "host gmail-smtp-in.l.google.com[142.250.153.26] said: 550-5.1.1 The email account that you tried to reach does not exist (in reply to RCPT TO command)",
		DelaySeconds:    1.8,
		RecipientNorm:   "jane.doe@example.org",
		RecipientDomain: "example.org",
		Verdict:         &v,
	}
}

func BenchmarkAttemptEncode(b *testing.B) {
	a := benchAttempt()
	b.Run("binary", func(b *testing.B) {
		v, _ := a.AppendBinary(nil)
		b.SetBytes(int64(len(v)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.AppendBinary(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		v := mustJSON(b, &a)
		b.SetBytes(int64(len(v)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&a); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAttemptDecode(b *testing.B) {
	a := benchAttempt()
	b.Run("binary", func(b *testing.B) {
		v, _ := a.AppendBinary(nil)
		b.SetBytes(int64(len(v)))
		b.ReportAllocs()
		for b.Loop() {
			if err := new(Attempt).UnmarshalBinary(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		v := mustJSON(b, &a)
		b.SetBytes(int64(len(v)))
		b.ReportAllocs()
		for b.Loop() {
			if err := json.Unmarshal(v, new(Attempt)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
