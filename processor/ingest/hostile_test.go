package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
	"github.com/bounced-dev/bounced/topics"
)

// The hostile input set: every line of every format, in every envelope,
// must end as exactly one of
//
//   - event: attempts that are each valid (see hostileCheck), with no error;
//   - skip:  no attempts, no error, a non-empty reason;
//   - error: a *raw.Error with a snake_case or dotted reason (possibly with
//     the good attempts of a multi-recipient record beside it);
//
// never a panic, never nothing at all, and never an event for a line marked
// as junk. Generated lines (hostileGenerated) are held to those rules;
// the hand-written tricky lines of testdata/hostile/inputs.txt are also
// held to the outcome recorded in testdata/hostile/expect.jsonl, so that a
// change of behaviour shows. A known bug is recorded with a "bug" field
// there (or in known_bugs.jsonl for a generated line): the test logs it
// instead of failing, until it is fixed.

var updateHostile = flag.Bool("update-hostile", false, "rewrite testdata/hostile/expect.jsonl from the current behaviour (bug notes are kept)")

// hostileReceived is the Kafka timestamp of every hostile record.
var hostileReceived = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// hostileCase is one input record.
type hostileCase struct {
	id    string
	topic string // "auto" (detected) or "pin.<format>"
	value []byte
	// pre are records fed to the same session first (a PowerMTA header).
	pre [][]byte
	// junk: the line must not be accepted as an event.
	junk bool
	// lookalike is the ASCII key a homoglyph recipient must not become.
	lookalike string
}

// hostileResult is what one record became.
type hostileResult struct {
	kind     string // event, skip, error, partial, panic, nothing
	reason   string
	events   int
	problems []string // validity problems of the attempts, or of the reason
	notes    []string // oddities that are not failures (reported in the summary)
	detail   string
}

var hostileReasonShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

func hostileIngester(t testing.TB) *Ingester {
	formats := map[string]string{"pin.canonical": FormatCanonical}
	for _, f := range []string{raw.FormatPostfix, raw.FormatExim, raw.FormatPMTA, raw.FormatKumoMTA,
		raw.FormatSES, raw.FormatSendGrid, raw.FormatMailgun, raw.FormatPostmark} {
		formats["pin."+f] = f
	}
	return newIngester(t, Config{Formats: formats})
}

// runHostile decodes one case in a fresh session (so that no case depends
// on another's state), recovering a panic.
func runHostile(in *Ingester, c hostileCase) (res hostileResult) {
	defer func() {
		if p := recover(); p != nil {
			res = hostileResult{kind: "panic", detail: fmt.Sprint(p)}
		}
	}()
	s := in.NewSession(c.topic)
	for _, p := range c.pre {
		if _, _, err := s.Decode(p, hostileReceived); err != nil {
			return hostileResult{kind: "error", reason: "test.preamble", problems: []string{"the preamble was refused: " + err.Error()}}
		}
	}
	atts, skip, err := s.Decode(c.value, hostileReceived)
	res.events = len(atts)
	switch {
	case err != nil:
		res.kind = "error"
		if len(atts) > 0 {
			res.kind = "partial"
		}
		var re *raw.Error
		if !errors.As(err, &re) {
			res.problems = append(res.problems, fmt.Sprintf("error is %T, not a *raw.Error: %v", err, err))
		} else {
			res.reason = re.Reason
			if !hostileReasonShape.MatchString(re.Reason) {
				res.problems = append(res.problems, fmt.Sprintf("error reason %q is not snake_case/dotted", re.Reason))
			}
		}
		res.detail = err.Error()
		if skip != "" {
			res.problems = append(res.problems, "both a skip reason and an error")
		}
	case len(atts) > 0:
		res.kind = "event"
		if skip != "" {
			res.problems = append(res.problems, "both attempts and a skip reason "+skip)
		}
	case skip != "":
		res.kind, res.reason = "skip", skip
		if !hostileReasonShape.MatchString(skip) {
			res.problems = append(res.problems, fmt.Sprintf("skip reason %q is not snake_case/dotted", skip))
		}
	default:
		res.kind = "nothing"
		res.problems = append(res.problems, "no attempt, no skip reason and no error")
	}
	for i := range atts {
		p, n := hostileCheck(&atts[i], c.lookalike)
		for _, s := range p {
			res.problems = append(res.problems, fmt.Sprintf("attempt %d: %s", i, s))
		}
		res.notes = append(res.notes, n...)
	}
	if len(atts) > 0 {
		res.detail = fmt.Sprintf("first attempt: recipient=%q norm=%q outcome=%s at=%s code=%d enh=%q text=%.80q",
			atts[0].Recipient, atts[0].RecipientNorm, atts[0].Outcome, atts[0].OccurredAt.Format(time.RFC3339),
			atts[0].SMTP.Code, atts[0].SMTP.Enhanced, atts[0].SMTP.Text)
	}
	return res
}

// hostileCheck returns what makes a decoded attempt invalid, and notes on
// what is odd but allowed.
func hostileCheck(a *event.Attempt, lookalike string) (problems, notes []string) {
	bad := func(f string, args ...any) { problems = append(problems, fmt.Sprintf(f, args...)) }
	norm, dom, err := NormaliseAddress(a.RecipientNorm)
	if err != nil || norm != a.RecipientNorm || dom != a.RecipientDomain {
		bad("recipient_norm %q is not a fixed point of NormaliseAddress (%q %q %v)", a.RecipientNorm, norm, dom, err)
	}
	if n2, _, err := NormaliseAddress(a.Recipient); err != nil || n2 != a.RecipientNorm {
		bad("recipient %q does not normalise to its recipient_norm %q (%q %v)", a.Recipient, a.RecipientNorm, n2, err)
	}
	if lookalike != "" && a.RecipientNorm == lookalike {
		bad("homoglyph recipient %q merged with the real mailbox %q", a.Recipient, lookalike)
	}
	if !a.Outcome.Valid() {
		bad("outcome %q", a.Outcome)
	}
	lo, hi := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	if a.OccurredAt.Before(lo) || !a.OccurredAt.Before(hi) {
		bad("occurred_at %s outside 1990..2100", a.OccurredAt)
	}
	if !a.SentAt.IsZero() && (a.SentAt.Before(lo) || !a.SentAt.Before(hi)) {
		bad("sent_at %s outside 1990..2100", a.SentAt)
	}
	if a.SMTP.Code < 0 || a.SMTP.Code > 599 {
		bad("smtp code %d outside 0..599", a.SMTP.Code)
	}
	if a.SMTP.Enhanced != "" && !reply.ValidEnhanced(a.SMTP.Enhanced) {
		bad("enhanced %q is not RFC 3463", a.SMTP.Enhanced)
	}
	if a.Attempt < 0 || a.Attempt > 100000 {
		bad("attempt %d outside 0..100000", a.Attempt)
	}
	if a.DelaySeconds < 0 || math.IsNaN(a.DelaySeconds) || math.IsInf(a.DelaySeconds, 0) {
		bad("delay_seconds %v", a.DelaySeconds)
	}
	if a.EventID == "" || a.Verdict == nil {
		bad("event_id %q or verdict %v missing", a.EventID, a.Verdict)
	}
	for _, f := range []struct{ name, v string }{{"smtp.text", a.SMTP.Text}, {"diagnostic", a.Diagnostic}} {
		if s := hostileUnsafe(f.v); s != "" {
			bad("%s holds %s: %.80q", f.name, s, f.v)
		}
	}
	// The other strings are stored and shown too; they are not required
	// to be clean, but the summary lists what got through.
	others := []struct{ name, v string }{{"sender", a.Sender}, {"message_id", a.MessageID}, {"queue_id", a.QueueID},
		{"source.host", a.Source.Host}, {"campaign_id", a.CampaignID}, {"tenant", a.Tenant}, {"sending_ip", a.SendingIP},
		{"pool", a.Pool}, {"smtp.command", a.SMTP.Command}, {"smtp.remote_host", a.SMTP.RemoteHost}, {"smtp.remote_ip", a.SMTP.RemoteIP}}
	for k, v := range a.Metadata {
		others = append(others, struct{ name, v string }{"metadata." + k, v})
	}
	for _, f := range others {
		if s := hostileUnsafe(f.v); s != "" {
			notes = append(notes, fmt.Sprintf("%s holds %s: %.60q", f.name, s, f.v))
		}
	}
	msg, err := topics.AttemptMessage("attempts", a, "in/0/0/0", topics.EncodingBinary)
	if err != nil {
		bad("does not encode: %v", err)
		return problems, notes
	}
	var back event.Attempt
	if err := topics.DecodeAttempt(msg.Value, &back); err != nil {
		bad("does not decode: %v", err)
		return problems, notes
	}
	if d := hostileDiff(a, &back); d != "" {
		bad("binary round trip differs: %s", d)
	}
	return problems, notes
}

// hostileUnsafe names what in s could not be shown as it is: invalid UTF-8,
// a control character other than tab, ESC, DEL or a C1 control.
func hostileUnsafe(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return "invalid UTF-8"
			}
		case r == 0x1b:
			return "ESC"
		case r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f:
			return fmt.Sprintf("control character %U", r)
		}
	}
	return ""
}

func hostileDiff(a, b *event.Attempt) string {
	x, y := *a, *b
	if !x.OccurredAt.Equal(y.OccurredAt) || !x.SentAt.Equal(y.SentAt) {
		return fmt.Sprintf("times %s/%s vs %s/%s", x.OccurredAt, x.SentAt, y.OccurredAt, y.SentAt)
	}
	x.OccurredAt, y.OccurredAt, x.SentAt, y.SentAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(x.Metadata) == 0 {
		x.Metadata = nil
	}
	if len(y.Metadata) == 0 {
		y.Metadata = nil
	}
	if !reflect.DeepEqual(x, y) {
		return fmt.Sprintf("%+v vs %+v", x, y)
	}
	return ""
}

// --- the generated set ---

// hostileFormat is one input format's template: a record with slots
// ({RCPT}, {TEXT}, {CODE}, {ENH}, {TIME}, {SENDER}) that the generator
// fills with hostile values, escaped for where they stand.
type hostileFormat struct {
	name     string
	tmpl     string
	esc      func(string) string // how a string value is written into the template
	json     bool                // the record is JSON (it may ride as an envelope's object)
	pre      string              // a record fed to the session first (PowerMTA header)
	syslog   string              // the syslog program, for a text format logged through syslog
	times    []hostileValue      // values of {TIME}, already escaped (they differ by format)
	codes    []hostileValue      // values of {CODE}, already escaped
	fixed    map[string]string   // the defaults of the slots
	postWrap func(string) string // wraps the filled template (SES in SNS)
}

// hostileValue is a value for a slot; junk says a record holding it must
// not become an event, lookalike is the ASCII key it must not merge into.
type hostileValue struct {
	name, v   string
	junk      bool
	lookalike string
}

func hostileIdent(s string) string { return s }

// hostileJSONEsc writes s into a JSON string as a careless producer would: quotes,
// backslashes and C0 controls escaped, every other byte as it is (invalid
// UTF-8 included).
func hostileJSONEsc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hostileJSONQuote(s string) string { return `"` + hostileJSONEsc(s) + `"` }

func hostileCSVEsc(s string) string { return strings.ReplaceAll(s, `"`, `""`) }

var (
	hostileISOTimes = []hostileValue{
		{name: "ok", v: `"2026-11-20T10:00:05Z"`},
		{name: "year0000", v: `"0000-01-01T00:00:00Z"`, junk: true},
		{name: "year9999", v: `"9999-12-31T23:59:59Z"`, junk: true},
		{name: "year1970", v: `"1970-01-01T00:00:00Z"`, junk: true},
		{name: "garbage", v: `"yesterday"`, junk: true},
		{name: "month13", v: `"2026-13-45T99:00:00Z"`, junk: true},
		{name: "badutf8", v: "\"2026-11-20T10:00:05Z\xff\"", junk: true},
		{name: "empty", v: `""`}, // absent, in effect: another time may stand in
		{name: "number", v: `1763632805`},
		{name: "null", v: `null`},
		{name: "object", v: `{"t":1}`, junk: true},
	}
	hostileEpochTimes = []hostileValue{
		{name: "ok", v: `1763632805`},
		{name: "float", v: `1763632805.25`},
		{name: "zero", v: `0`, junk: true},
		{name: "negative", v: `-1`, junk: true},
		{name: "year9999", v: `253402300799`, junk: true},
		{name: "huge", v: `1e300`, junk: true},
		{name: "nan", v: `NaN`, junk: true},
		{name: "millis", v: `1763632805000`, junk: true},
		{name: "string", v: `"1763632805"`},
		{name: "garbage", v: `"yesterday"`, junk: true},
		{name: "null", v: `null`},
	}
	hostileJSONCodes = []hostileValue{
		{name: "ok", v: `550`},
		{name: "99999", v: `99999`},
		{name: "minus1", v: `-1`},
		{name: "600", v: `600`},
		{name: "float", v: `550.5`},
		{name: "string", v: `"550"`},
		{name: "big", v: `99999999999999999999999`},
		{name: "null", v: `null`},
		{name: "bool", v: `true`},
	}
	hostileTextCodes = []hostileValue{
		{name: "ok", v: `550`},
		{name: "99999", v: `99999`},
		{name: "minus1", v: `-1`},
		{name: "600", v: `600`},
		{name: "099", v: `099`},
		{name: "none", v: ``},
	}
)

func hostileFormats() []hostileFormat {
	fixed := map[string]string{"RCPT": "user@example.org", "TEXT": "User unknown", "ENH": "5.1.1", "SENDER": "news@sender.example"}
	return []hostileFormat{
		{name: "canonical", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileISOTimes, codes: hostileJSONCodes,
			tmpl: `{"occurred_at":{TIME},"recipient":"{RCPT}","outcome":"bounced","sender":"{SENDER}","attempt":1,"smtp":{"code":{CODE},"enhanced":"{ENH}","text":"{TEXT}"},"diagnostic":"smtp; 550 {ENH} {TEXT}"}`},
		{name: "postfix", esc: hostileIdent, fixed: fixed, syslog: "postfix/smtp", codes: hostileTextCodes,
			times: []hostileValue{{name: "ok", v: "Nov 20 10:00:05"}},
			tmpl:  `4ABC1234: to=<{RCPT}>, relay=mx.example.org[192.0.2.10]:25, delay=5, delays=0.1/0/0.2/4.7, dsn={ENH}, status=bounced (host mx.example.org[192.0.2.10] said: {CODE} {ENH} {TEXT} (in reply to RCPT TO command))`},
		{name: "exim", esc: hostileIdent, fixed: fixed, codes: hostileTextCodes,
			times: []hostileValue{
				{name: "ok", v: "2026-11-20 10:00:05"},
				{name: "year0000", v: "0000-01-01 00:00:00", junk: true},
				{name: "year9999", v: "9999-12-31 23:59:59", junk: true},
				{name: "feb30", v: "2026-02-30 10:00:00", junk: true},
				{name: "hour25", v: "2026-11-20 25:61:61", junk: true},
			},
			tmpl: `{TIME} 1RookS-000Pg8-VO ** {RCPT} R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<{RCPT}>: {CODE} {ENH} {TEXT}`},
		{name: "pmta", esc: hostileCSVEsc, fixed: fixed, codes: hostileTextCodes,
			pre: "type,timeLogged,timeQueued,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,jobId",
			times: []hostileValue{
				{name: "ok", v: "2026-11-20 10:00:05+0000"},
				{name: "epoch", v: "1763632805"},
				{name: "year0000", v: "0000-01-01 00:00:00+0000", junk: true},
				{name: "year9999", v: "9999-12-31 23:59:59+0000", junk: true},
				{name: "zero", v: "0", junk: true},
				{name: "negative", v: "-1", junk: true},
				{name: "garbage", v: "yesterday", junk: true},
				{name: "empty", v: ""}, // CSV's absent: timeQueued may stand in
			},
			tmpl: `b,{TIME},2026-11-20 09:59:00+0000,"{SENDER}","{RCPT}",failed,"{ENH} (bad destination mailbox address)","smtp;{CODE} {ENH} {TEXT}",mx.example.org (192.0.2.10),bad-mailbox,198.51.100.7,vmta1,job-42`},
		{name: "kumomta", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileEpochTimes, codes: hostileJSONCodes,
			tmpl: `{"type":"Bounce","id":"1d8f","sender":"{SENDER}","recipient":"{RCPT}","queue":"camp:tenant@example.org","site":"","size":10,"response":{"code":{CODE},"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"{TEXT}","command":"RCPT TO"},"timestamp":{TIME},"num_attempts":1}`},
		{name: "ses", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileISOTimes, codes: hostileTextCodes,
			tmpl: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"{RCPT}","status":"{ENH}","action":"failed","diagnosticCode":"smtp; {CODE} {ENH} {TEXT}"}],"timestamp":{TIME},"feedbackId":"0102015fd91a6479","reportingMTA":"dsn; a4-8.smtp-out.eu-west-1.amazonses.com"},"mail":{"timestamp":"2026-11-20T10:00:00Z","source":"{SENDER}","messageId":"0102015fd91a6479-mid","destination":["{RCPT}"]}}`},
		{name: "ses_sns", json: true, esc: func(s string) string { return hostileJSONEsc(hostileJSONEsc(s)) }, fixed: fixed, times: hostileISOTimes, codes: hostileTextCodes,
			tmpl: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"{RCPT}","status":"{ENH}","action":"failed","diagnosticCode":"smtp; {CODE} {ENH} {TEXT}"}],"timestamp":{TIME},"feedbackId":"0102015fd91a6479"},"mail":{"timestamp":"2026-11-20T10:00:00Z","source":"{SENDER}","messageId":"0102015fd91a6479-mid","destination":["{RCPT}"]}}`,
			postWrap: func(inner string) string {
				return `{"Type":"Notification","MessageId":"19ba9823","TopicArn":"arn:aws:sns:us-east-1:1234567890:SES","Message":` + hostileJSONQuote(inner) + `,"Timestamp":"2026-11-20T10:00:06.000Z","SignatureVersion":"1"}`
			}},
		{name: "sendgrid", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileEpochTimes, codes: hostileTextCodes,
			tmpl: `[{"email":"{RCPT}","timestamp":{TIME},"smtp-id":"<abc@ismtpd0006p1>","event":"bounce","type":"bounce","sg_event_id":"lC0Rc-FuQmKbnxCWxX1jRQ","sg_message_id":"Lli-03HcQ5.filter0077","reason":"{CODE} {ENH} {TEXT}","status":"{ENH}","ip":"167.89.17.173"}]`},
		{name: "mailgun", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileEpochTimes, codes: hostileJSONCodes,
			tmpl: `{"signature":{"timestamp":"1763632805","token":"t","signature":"s"},"event-data":{"event":"failed","id":"ev-1","severity":"permanent","reason":"bounce","recipient":"{RCPT}","timestamp":{TIME},"message":{"headers":{"to":"{RCPT}","message-id":"20261120.1@example.net","from":"{SENDER}"}},"delivery-status":{"attempt-no":1,"code":{CODE},"message":"{ENH} {TEXT}","description":""}}}`},
		{name: "postmark", json: true, esc: hostileJSONEsc, fixed: fixed, times: hostileISOTimes, codes: hostileTextCodes,
			tmpl: `{"RecordType":"Bounce","ID":901542550,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce","MessageID":"2706ee8a-737c","Description":"unknown user","Details":"smtp;{CODE} {ENH} {TEXT}","Email":"{RCPT}","From":"{SENDER}","BouncedAt":{TIME},"Inactive":true}`},
	}
}

// Hostile values of the string slots.
var (
	hostileRecipients = []hostileValue{
		{name: "ok", v: "user@example.org"},
		{name: "badutf8_local", v: "us\xffer@example.org", junk: true},
		{name: "badutf8_domain", v: "user@exa\xc3\x28mple.org", junk: true},
		{name: "overlong_utf8", v: "\xc0\xafuser@example.org", junk: true},
		{name: "surrogate_utf8", v: "\xed\xa0\x80user@example.org", junk: true},
		{name: "kelvin", v: "\u212Aate@example.org", junk: true, lookalike: "kate@example.org"},
		{name: "dotted_I", v: "B\u0130LL@example.org", lookalike: "bill@example.org"},
		{name: "rtl_override", v: "us\u202Eer@example.org", junk: true},
		{name: "zero_width", v: "us\u200Ber@example.org", junk: true},
		{name: "zero_width_domain", v: "user@exam\u200Bple.org", junk: true},
		{name: "bom", v: "\uFEFFuser@example.org", junk: true},
		{name: "fullwidth", v: "\uFF4B\uFF41\uFF54\uFF45@example.org", lookalike: "kate@example.org"},
		{name: "fullwidth_at", v: "user\uFF20example.org", junk: true},
		{name: "cyrillic_a", v: "p\u0430ypal@example.org", lookalike: "paypal@example.org"},
		{name: "cyrillic_domain", v: "user@ex\u0430mple.org", lookalike: "user@example.org"},
		{name: "nbsp", v: "user\u00A0@example.org", junk: true},
		{name: "empty", v: "", junk: true},
		{name: "no_at", v: "not-an-address", junk: true},
		{name: "no_local", v: "@example.org", junk: true},
		{name: "no_domain", v: "user@", junk: true},
		{name: "nul", v: "us\x00er@example.org", junk: true},
		{name: "esc", v: "\x1b[31muser@example.org", junk: true},
		{name: "newline", v: "user@example.org\nX-Injected: 1", junk: true},
		{name: "long_local", v: strings.Repeat("a", 400) + "@example.org", junk: true},
		{name: "long_domain", v: "user@" + strings.Repeat("d", 300) + ".org", junk: true},
		{name: "literal", v: "user@[192.0.2.1]", junk: true},
		{name: "two_ats", v: "a@b@example.org"},
		{name: "quoted", v: `"john doe"@example.org`},
		{name: "quote_unbalanced", v: `"john@example.org`, junk: true},
	}
	hostileTexts = []hostileValue{
		{name: "ok", v: "User unknown"},
		{name: "ansi_color", v: "\x1b[31mUser unknown\x1b[0m"},
		{name: "ansi_title", v: "\x1b]0;pwned\x07User unknown"},
		{name: "ansi_cut", v: "User unknown\x1b["},
		{name: "nul", v: "User\x00unknown"},
		{name: "bell_bs", v: "User\x07\x08unknown"},
		{name: "crlf", v: "User unknown\r\n550 5.1.1 second line"},
		{name: "del", v: "User\x7funknown"},
		{name: "c1_csi", v: "User \xc2\x9b31m unknown"},
		{name: "raw_c1_byte", v: "User \x9b31m unknown"},
		{name: "badutf8", v: "User \xff\xfe unknown"},
		{name: "rtl_override", v: "User \u202Enwonknu"},
		{name: "tab", v: "User\tunknown"},
		{name: "forged_log", v: "ok\nNov 20 10:00:06 mx1 postfix/smtp[1]: 4ABC9999: to=<x@example.org>, status=sent"},
		{name: "huge", v: strings.Repeat("User unknown ", 8000)}, // 104 kB: over the 65536 characters of smtp.text
		{name: "json_breaker", v: `"},"recipient":"evil@example.org","x":{"`},
		{name: "csv_breaker", v: `a","evil@example.org","`},
		{name: "paren", v: "))) ((("},
	}
	hostileEnhanced = []hostileValue{
		{name: "ok", v: "5.1.1"},
		{name: "five_parts", v: "9.9.9.9.9"},
		{name: "class9", v: "9.1.1"},
		{name: "short", v: "5.1"},
		{name: "long_detail", v: "5.1.1000"},
		{name: "letters", v: "X.Y.Z"},
		{name: "empty", v: ""},
		{name: "badutf8", v: "5.1.\xff"},
		{name: "dotted_end", v: "5.1.1."},
	}
	hostileSenders = []hostileValue{
		{name: "badutf8", v: "ne\xffws@sender.example"},
		{name: "esc", v: "\x1b[2Jnews@sender.example"},
		{name: "nul", v: "news\x00@sender.example"},
		{name: "rtl_override", v: "news\u202E@sender.example"},
		{name: "empty", v: ""},
		{name: "long", v: strings.Repeat("s", 2000) + "@sender.example"},
	}
)

// hostileEnvelope wraps a payload the way a shipper would.
type hostileEnvelope struct {
	name string
	wrap func(payload string, isJSON bool) (string, bool) // false: not applicable
}

func hostileEnvelopes() []hostileEnvelope {
	return []hostileEnvelope{
		{"bare", func(p string, _ bool) (string, bool) { return p, true }},
		{"vector", func(p string, _ bool) (string, bool) {
			return `{"file":"/var/log/mail.log","host":"mx1","message":` + hostileJSONQuote(p) + `,"source_type":"file","timestamp":"2026-11-20T10:00:06Z"}`, true
		}},
		{"vector_object", func(p string, isJSON bool) (string, bool) {
			if !isJSON {
				return "", false
			}
			return `{"host":"mx1","message":` + p + `,"source_type":"kafka","timestamp":"2026-11-20T10:00:06Z"}`, true
		}},
		{"fluentbit", func(p string, _ bool) (string, bool) {
			return `{"@timestamp":1763632806.5,"log":` + hostileJSONQuote(p) + `}`, true
		}},
		{"filebeat", func(p string, _ bool) (string, bool) {
			return `{"@timestamp":"2026-11-20T10:00:06.656Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.14.4"},"log":{"offset":42,"file":{"path":"/var/log/mail.log"}},"message":` +
				hostileJSONQuote(p) + `,"input":{"type":"log"},"host":{"name":"mx1"},"agent":{"type":"filebeat","version":"8.14.4"}}`, true
		}},
	}
}

// hostileSyslogPrefixes put a text line behind a syslog prefix.
func hostileSyslogPrefixes(program string) []hostileValue {
	return []hostileValue{
		{name: "rfc3164", v: "Nov 20 10:00:05 mx1 " + program + "[103]: "},
		{name: "rfc5424", v: "<22>1 2026-11-20T10:00:05.123Z mx1 " + program + " 103 - - "},
	}
}

func hostileFill(f hostileFormat, vals map[string]string) string {
	s := f.tmpl
	for _, slot := range []string{"RCPT", "TEXT", "ENH", "SENDER"} {
		v, ok := vals[slot]
		if !ok {
			v = f.fixed[slot]
		}
		s = strings.ReplaceAll(s, "{"+slot+"}", f.esc(v))
	}
	code, ok := vals["CODE"]
	if !ok {
		code = f.codes[0].v
	}
	tm, ok := vals["TIME"]
	if !ok {
		tm = f.times[0].v
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "{CODE}", code), "{TIME}", tm)
	if f.postWrap != nil {
		s = f.postWrap(s)
	}
	return s
}

// hostileGenerated builds the generated set: each format's template with
// one slot at a time filled with each hostile value, in each envelope,
// detected and pinned; then structural junk (truncations, nesting, sizes,
// garbage) in each envelope.
func hostileGenerated(maxBytes int) []hostileCase {
	var out []hostileCase
	envs := hostileEnvelopes()
	add := func(id string, f hostileFormat, line string, junk bool, lookalike string) {
		lines := []struct{ name, v string }{{"", line}}
		if f.syslog != "" {
			lines = lines[:0]
			for _, p := range hostileSyslogPrefixes(f.syslog) {
				lines = append(lines, struct{ name, v string }{"/" + p.name, p.v + line})
			}
		}
		for _, l := range lines {
			for _, e := range envs {
				v, ok := e.wrap(l.v, f.json)
				if !ok {
					continue
				}
				junk := junk
				if e.name == "vector_object" && strings.HasSuffix(id, "as_string") {
					// A JSON string in an envelope's message is how
					// every shipper sends a JSON line: not junk there.
					junk = false
				}
				var pre [][]byte
				if f.pre != "" {
					p, _ := e.wrap(f.pre, false)
					pre = [][]byte{[]byte(p)}
				}
				for _, topic := range []string{"auto", "pin." + strings.TrimSuffix(f.name, "_sns")} {
					out = append(out, hostileCase{id: fmt.Sprintf("gen/%s/%s%s/%s@%s", f.name, id, l.name, e.name, topic),
						topic: topic, value: []byte(v), pre: pre, junk: junk, lookalike: lookalike})
				}
			}
		}
	}
	for _, f := range hostileFormats() {
		slots := []struct {
			slot string
			vals []hostileValue
		}{{"RCPT", hostileRecipients}, {"TEXT", hostileTexts}, {"ENH", hostileEnhanced}, {"SENDER", hostileSenders},
			{"CODE", f.codes}, {"TIME", f.times}}
		for _, s := range slots {
			for _, v := range s.vals {
				if v.name == "ok" && s.slot != "RCPT" {
					continue // the ok line is made once, under RCPT
				}
				add(strings.ToLower(s.slot)+"/"+v.name, f, hostileFill(f, map[string]string{s.slot: v.v}), v.junk, v.lookalike)
			}
		}
		// Truncations of the good record: a JSON record cut anywhere is
		// not JSON; a text line cut before its status is no attempt.
		good := hostileFill(f, nil)
		for _, cut := range hostileCutPoints(good, f) {
			add(fmt.Sprintf("cut/%d", cut.at), f, good[:cut.at], cut.junk, "")
		}
		// Just over ingest.max_record_bytes, and a record whose attempt
		// would be huge but fits.
		over := hostileFill(f, map[string]string{"TEXT": strings.Repeat("x", maxBytes)})
		add("oversized", f, over, true, "")
		near := hostileFill(f, map[string]string{"TEXT": strings.Repeat("y", maxBytes-4096)})
		add("huge_attempt", f, near, false, "")
		if f.json {
			for _, d := range hostileJSONMutations(f, good) {
				add("json/"+d.name, f, d.v, d.junk, "")
			}
		}
	}
	out = append(out, hostileStructural(maxBytes)...)
	return out
}

type hostileCut struct {
	at   int
	junk bool
}

// hostileCutPoints are where a good record is cut: at every field boundary (a
// space, comma, colon, quote or bracket), and for JSON at every such byte.
func hostileCutPoints(s string, f hostileFormat) []hostileCut {
	var out []hostileCut
	statusEnd := len(s)
	if f.name == "postfix" {
		statusEnd = strings.Index(s, "status=bounced") + len("status=bounced")
	}
	if f.name == "exim" {
		statusEnd = strings.Index(s, " R=") // the address is complete
	}
	if f.name == "pmta" {
		statusEnd = strings.Index(s, `",failed`) + 1 // the recipient's field has ended
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune(" ,:;\"[]{}()<>=", rune(s[i])) {
			continue
		}
		junk := f.json || i < statusEnd
		out = append(out, hostileCut{i, junk})
	}
	return out
}

// hostileJSONMutations are JSON-specific hostile records derived from a good one.
func hostileJSONMutations(f hostileFormat, good string) []hostileValue {
	var out []hostileValue
	inner := good
	if f.name == "ses_sns" {
		inner = hostileFill(hostileFormat{tmpl: f.tmpl, esc: hostileJSONEsc, fixed: f.fixed, times: f.times, codes: f.codes}, nil)
	}
	// A repeated top-level key: which one the producer meant is a guess.
	if i := strings.Index(good, `{"`); i >= 0 {
		j := strings.Index(good[i+2:], `"`)
		key := good[i+2 : i+2+j]
		out = append(out, hostileValue{name: "duplicate_first_key", v: good[:i+1] + `"` + key + `":"x",` + good[i+1:], junk: true})
	}
	// The recipient repeated with another value (inside nested objects).
	for _, k := range []string{`"recipient":`, `"emailAddress":`, `"email":`, `"Email":`} {
		if i := strings.Index(good, k); i >= 0 {
			out = append(out, hostileValue{name: "duplicate_recipient", v: good[:i] + k + `"evil@example.org",` + good[i:], junk: true})
			break
		}
	}
	// Deep nesting: in a value of the record, and as the record.
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	out = append(out,
		hostileValue{name: "deep_value", v: strings.Replace(good, `{`, `{"zz":`+deep+`,`, 1)},
		hostileValue{name: "deep_array_value", v: strings.Replace(good, `{`, `{"zz":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`,`, 1)},
		hostileValue{name: "trailing_garbage", v: good + `xyz`, junk: true},
		hostileValue{name: "two_records", v: good + good, junk: true},
		hostileValue{name: "bom_prefix", v: "\uFEFF" + good},
		hostileValue{name: "nul_inside", v: strings.Replace(good, `,`, ",\x00", 1), junk: true},
		hostileValue{name: "single_quotes", v: strings.ReplaceAll(good, `"`, `'`), junk: true},
		hostileValue{name: "as_string", v: hostileJSONQuote(good), junk: true},
		hostileValue{name: "in_array", v: "[" + good + "]"},
		hostileValue{name: "nested_array", v: "[[" + good + "]]", junk: true},
	)
	if f.name == "ses_sns" {
		wrap := func(msg string) string {
			return `{"Type":"Notification","MessageId":"19ba9823","Message":` + msg + `,"Timestamp":"2026-11-20T10:00:06.000Z"}`
		}
		out = append(out,
			hostileValue{name: "sns_message_not_json", v: wrap(`"not json at all"`), junk: true},
			hostileValue{name: "sns_message_truncated", v: wrap(hostileJSONQuote(inner[:len(inner)/2])), junk: true},
			hostileValue{name: "sns_message_array", v: wrap(hostileJSONQuote("[" + inner + "]")), junk: true},
			hostileValue{name: "sns_message_number", v: wrap(`42`), junk: true},
			hostileValue{name: "sns_message_null", v: wrap(`null`), junk: true},
			hostileValue{name: "sns_message_empty", v: wrap(`""`), junk: true},
			hostileValue{name: "sns_message_object", v: wrap(inner)},
			hostileValue{name: "sns_message_deep", v: wrap(hostileJSONQuote(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))), junk: true},
			hostileValue{name: "sns_message_badutf8", v: wrap("\"{\xff\xfe}\""), junk: true},
			hostileValue{name: "sns_message_dup", v: wrap(hostileJSONQuote(strings.Replace(inner, `{"`, `{"notificationType":"Delivery","`, 1))), junk: true},
			hostileValue{name: "sns_subscription", v: `{"Type":"SubscriptionConfirmation","MessageId":"1","Token":"t","Message":"You have chosen to subscribe","SubscribeURL":"https://example.com"}`, junk: true},
		)
	}
	return out
}

// hostileStructural are records of no format: empty, garbage, bare JSON
// values, deep nesting and oversized records, bare and in each envelope.
func hostileStructural(maxBytes int) []hostileCase {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return string(b)
	}
	vals := []hostileValue{
		{name: "empty", v: ""},
		{name: "spaces", v: " \t\r\n "},
		{name: "nul", v: "\x00"},
		{name: "nuls", v: strings.Repeat("\x00", 64)},
		{name: "bom", v: "\uFEFF"},
		{name: "garbage16", v: garbage(16)},
		{name: "garbage256", v: garbage(256)},
		{name: "garbage4k", v: garbage(4096)},
		{name: "hello", v: "hello world"},
		{name: "json_null", v: "null"},
		{name: "json_true", v: "true"},
		{name: "json_number", v: "42"},
		{name: "json_string", v: `"user@example.org"`},
		{name: "json_empty_object", v: "{}"},
		{name: "json_empty_array", v: "[]"},
		{name: "json_array_of_numbers", v: "[1,2,3]"},
		{name: "json_array_of_strings", v: `["user@example.org"]`},
		{name: "json_array_empty_objects", v: `[{},{}]`},
		{name: "json_unclosed", v: `{"recipient":"user@example.org","outcome":"bounced"`},
		{name: "deep_objects", v: strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
		{name: "deep_arrays", v: strings.Repeat("[", 10000) + strings.Repeat("]", 10000)},
		{name: "deep_arrays_unclosed", v: strings.Repeat("[", 100000)},
		{name: "deep_objects_unclosed", v: strings.Repeat(`{"a":`, 100000)},
		{name: "deep_max", v: strings.Repeat("[", maxBytes/2-64) + strings.Repeat("]", maxBytes/2-64)},
		{name: "oversized_spaces", v: strings.Repeat(" ", maxBytes+1)},
		{name: "oversized_garbage", v: garbage(maxBytes + 1)},
		{name: "syslog_only_prefix", v: "Nov 20 10:00:05 mx1 postfix/smtp[103]:"},
		{name: "syslog_only_prefix_space", v: "Nov 20 10:00:05 mx1 postfix/smtp[103]: "},
		{name: "syslog_5424_only", v: "<22>1 2026-11-20T10:00:05Z mx1 postfix/smtp 103 - -"},
		{name: "syslog_pri_only", v: "<22>"},
		{name: "syslog_bad_pri", v: "<999>1 2026-11-20T10:00:05Z mx1 postfix/smtp 103 - - 4ABC1234: to=<user@example.org>, status=bounced (550)"},
		{name: "syslog_year0000", v: "<22>1 0000-01-01T00:00:00Z mx1 postfix/smtp 103 - - 4ABC1234: to=<user@example.org>, relay=none, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 x)"},
		{name: "syslog_year9999", v: "<22>1 9999-12-31T23:59:59Z mx1 postfix/smtp 103 - - 4ABC1234: to=<user@example.org>, relay=none, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 x)"},
		{name: "syslog_feb30", v: "Feb 30 10:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<user@example.org>, relay=none, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 x)"},
		{name: "syslog_hour99", v: "Nov 20 99:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<user@example.org>, relay=none, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 x)"},
		{name: "syslog_pid_huge", v: "Nov 20 10:00:05 mx1 postfix/smtp[99999999999999999999]: 4ABC1234: to=<user@example.org>, relay=none, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 x)"},
		{name: "pmta_no_header", v: "b,2026-11-20 10:00:05+0000,s@example.net,user@example.org,5.1.1"},
		{name: "exim_no_id", v: "2026-11-20 10:00:05 ** user@example.org"},
		{name: "sendmail", v: "Nov 20 10:00:05 mx1 sendmail[1]: 4ABC1234: to=<user@example.org>, stat=User unknown"},
	}
	var out []hostileCase
	for _, v := range vals {
		junk := !strings.HasPrefix(v.name, "syslog_pid") && v.name != "syslog_feb30" && v.name != "syslog_hour99"
		for _, e := range hostileEnvelopes() {
			w, ok := e.wrap(v.v, false)
			if !ok {
				continue
			}
			out = append(out, hostileCase{id: "gen/structural/" + v.name + "/" + e.name + "@auto", topic: "auto", value: []byte(w), junk: junk})
			if e.name == "bare" {
				for _, f := range []string{"canonical", "postfix", "exim", "pmta", "kumomta", "ses", "sendgrid", "mailgun", "postmark"} {
					out = append(out, hostileCase{id: "gen/structural/" + v.name + "/bare@pin." + f, topic: "pin." + f, value: []byte(w), junk: junk})
				}
			}
		}
	}
	return out
}

// --- the hand-written set ---

// hostileExpect is one line of testdata/hostile/expect.jsonl.
type hostileExpect struct {
	ID     string `json:"id"`
	Want   string `json:"want"`             // event, skip, error or partial
	Reason string `json:"reason,omitempty"` // the skip or error reason
	Events int    `json:"events,omitempty"`
	// Bug records a known failure: the test logs it instead of failing.
	Bug string `json:"bug,omitempty"`
	// Match, in known_bugs.jsonl, is a regular expression on generated
	// ids: one bug shows in many formats and envelopes.
	Match string `json:"match,omitempty"`
}

// hostileKnownBug returns the known_bugs.jsonl entry that covers id.
func hostileKnownBug(bugs []hostileExpect, id string) (hostileExpect, bool) {
	for _, b := range bugs {
		if b.ID == id || b.Match != "" && regexp.MustCompile(b.Match).MatchString(id) {
			return b, true
		}
	}
	return hostileExpect{}, false
}

// loadHostileInputs reads testdata/hostile/inputs.txt: one record a line,
// "id topic junk|ok <Go-quoted value>"; # starts a comment.
func loadHostileInputs(t *testing.T) []hostileCase {
	f, err := os.Open(filepath.Join("testdata", "hostile", "inputs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hostileCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.SplitN(line, " ", 4)
		if len(parts) != 4 {
			t.Fatalf("inputs.txt:%d: want `id topic junk|ok \"value\"`, got %q", n, line)
		}
		v, err := strconv.Unquote(parts[3])
		if err != nil {
			t.Fatalf("inputs.txt:%d: value is not a Go string literal: %v", n, err)
		}
		if seen[parts[0]] {
			t.Fatalf("inputs.txt:%d: id %s repeated", n, parts[0])
		}
		seen[parts[0]] = true
		c := hostileCase{id: parts[0], topic: parts[1], value: []byte(expandHostile(v)), junk: parts[2] == "junk"}
		if c.topic == "pin.pmta" || strings.HasPrefix(c.id, "pmta/") {
			c.pre = [][]byte{[]byte("type,timeLogged,timeQueued,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,jobId")}
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// expandHostile expands ${repeat:N:text:} in a hand-written value, so the
// file can hold large records without being large.
func expandHostile(s string) string {
	re := regexp.MustCompile(`\$\{repeat:(\d+):(.*?):\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		sm := re.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sm[1])
		return strings.Repeat(sm[2], n)
	})
}

func loadHostileExpect(t *testing.T, name string) map[string]hostileExpect {
	b, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]hostileExpect{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hostileExpect{}
	for i, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var e hostileExpect
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("%s:%d: %v", name, i+1, err)
		}
		if e.ID == "" {
			e.ID = e.Match
		}
		out[e.ID] = e
	}
	return out
}

// --- the test ---

func TestHostileInputs(t *testing.T) {
	in := hostileIngester(t)
	maxBytes := DefaultMaxRecordBytes
	hand := loadHostileInputs(t)
	expect := loadHostileExpect(t, "expect.jsonl")
	var knownBugs []hostileExpect
	for _, b := range loadHostileExpect(t, "known_bugs.jsonl") {
		knownBugs = append(knownBugs, b)
	}
	cases := append(hand, hostileGenerated(maxBytes)...)

	kinds := map[string]int{}
	reasons := map[string]int{}
	notes := map[string]int{}
	noteExample := map[string]string{}
	var bugs, fails int
	var updated []hostileExpect
	isHand := map[string]bool{}
	for _, c := range hand {
		isHand[c.id] = true
	}
	for _, c := range cases {
		res := runHostile(in, c)
		kinds[res.kind]++
		if res.reason != "" {
			reasons[res.kind+" "+res.reason]++
		}
		for _, n := range res.notes {
			key := n[:strings.Index(n, ":")]
			notes[key]++
			if _, ok := noteExample[key]; !ok {
				noteExample[key] = c.id + ": " + n
			}
		}
		var problems []string
		problems = append(problems, res.problems...)
		if res.kind == "panic" {
			problems = append(problems, "panic: "+res.detail)
		}
		if c.junk && (res.kind == "event" || res.kind == "partial") {
			problems = append(problems, "junk accepted as an event")
		}
		var exp hostileExpect
		var hasExp bool
		if isHand[c.id] {
			exp, hasExp = expect[c.id]
			got := hostileExpect{ID: c.id, Want: res.kind, Reason: res.reason, Events: res.events, Bug: exp.Bug}
			if res.kind == "event" || res.kind == "nothing" || res.kind == "panic" {
				got.Reason = ""
			}
			updated = append(updated, got)
			switch {
			case !hasExp && !*updateHostile:
				problems = append(problems, "no expectation in expect.jsonl (run with -update-hostile)")
			case hasExp && !*updateHostile && (exp.Want != got.Want || exp.Reason != got.Reason || exp.Events != got.Events):
				problems = append(problems, fmt.Sprintf("behaviour changed: want %s %q (%d events), got %s %q (%d events)",
					exp.Want, exp.Reason, exp.Events, got.Want, got.Reason, got.Events))
			}
		} else {
			exp, hasExp = hostileKnownBug(knownBugs, c.id)
		}
		if len(problems) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s: %s\n\tinput: %.300q\n\tresult: %s %s %s", c.id, strings.Join(problems, "; "), c.value, res.kind, res.reason, res.detail)
		if hasExp && exp.Bug != "" {
			bugs++
			t.Logf("KNOWN BUG (%s) %s", exp.Bug, msg)
			continue
		}
		fails++
		if fails <= 2000 {
			t.Errorf("%s", msg)
		}
	}
	if fails > 2000 {
		t.Errorf("and %d more failures", fails-2000)
	}
	if *updateHostile {
		var b bytes.Buffer
		for _, e := range updated {
			j, _ := json.Marshal(e)
			b.Write(j)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join("testdata", "hostile", "expect.jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("hostile inputs: %d records (%d hand-written, %d generated); %d failures, %d known bugs", len(cases), len(hand), len(cases)-len(hand), fails, bugs)
	for _, k := range hostileSortedKeys(kinds) {
		t.Logf("  %-8s %6d", k, kinds[k])
	}
	t.Logf("by reason:")
	for _, k := range hostileSortedKeys(reasons) {
		t.Logf("  %-50s %6d", k, reasons[k])
	}
	if len(notes) > 0 {
		t.Logf("accepted attempts with unsafe text outside smtp.text/diagnostic (allowed, listed for review):")
		for _, k := range hostileSortedKeys(notes) {
			t.Logf("  %-50s %6d  e.g. %.200s", k, notes[k], noteExample[k])
		}
	}
}

func hostileSortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
