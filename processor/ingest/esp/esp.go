package esp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Source kinds, as written to Attempt.Source.Kind and used as the prefix of
// skip and error reasons.
const (
	KindSES      = "ses"
	KindSendGrid = "sendgrid"
	KindMailgun  = "mailgun"
	KindPostmark = "postmark"
	KindPostal   = "postal"
)

// Error reasons, after the "<kind>." prefix. They label the DLQ header and a
// metric, so they are few and stable.
const (
	reasonJSON      = "malformed_json" // not JSON, or JSON of the wrong types
	reasonShape     = "shape"          // JSON, but not this provider's body
	reasonTime      = "invalid_time"   // the event's timestamp is missing or unreadable
	reasonRecipient = "no_recipient"   // a delivery event names no recipient
)

// reasonSchema is the whole reason (no "<kind>." prefix) of a value that
// no reply could hold, such as a numeric code field of 99999: the same
// token as ingest.ReasonSchema, which a canonical record's out-of-range
// smtp.code gets, so the same junk fares the same in every format.
const reasonSchema = "schema"

func fail(kind, reason, format string, args ...any) error {
	return raw.Errorf(kind+"."+reason, format, args...)
}

// jsonFail turns a JSON error (raw.JSON's: a syntax error, a field of the
// wrong type, which the message names, or a flex field holding an object)
// into a *raw.Error.
func jsonFail(kind string, err error) error {
	return fail(kind, reasonJSON, "%w", err)
}

// newAttempt starts an attempt with what every provider shares.
func newAttempt(kind string, rec *raw.Record) event.Attempt {
	return event.Attempt{Source: event.Source{Kind: kind, Host: rec.Host}}
}

// ---------------------------------------------------------------- replies

// enhancedOf returns a provider's separate status field when it is an
// enhanced status code, else "": the field is untrusted input, and what is
// not a code must not be filed as one.
func enhancedOf(s string) string {
	s = strings.TrimSpace(s)
	if reply.ValidEnhanced(s) {
		return s
	}
	return ""
}

// setReply fills a's SMTP reply and diagnostic from a provider's diagnostic
// text and its separate enhanced status (SES status, SendGrid status). The
// separate status wins over the one in the text: it is what the provider
// filed the failure under.
func setReply(a *event.Attempt, diagnostic, status string) {
	r := reply.ParseDiagnostic(diagnostic)
	a.SMTP.Code = r.Code
	a.SMTP.Enhanced = r.Enhanced
	if e := enhancedOf(status); e != "" {
		a.SMTP.Enhanced = e
	}
	// Without a code the text is the provider's prose ("Email was
	// deferred due to ..."), not a server's reply: diagnostic only.
	if r.Code != 0 || r.Enhanced != "" {
		a.SMTP.Text = r.Text
	}
	a.Diagnostic = oneLine(diagnostic)
}

// oneLine joins a multi-line text with spaces (Postmark's Details and
// Mailgun's messages can hold newlines, formats.md §8.2).
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// ---------------------------------------------------------------- times

// parseTime reads an RFC 3339 timestamp, with any number of fractional
// digits (Postmark sends seven) and any offset, and returns it in UTC. A
// timestamp without an offset is taken as UTC: every provider here logs in
// UTC or says its offset (formats.md §8.1).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse("2006-01-02T15:04:05.999999999", s); err2 != nil {
			return time.Time{}, err
		}
	}
	return t.UTC(), nil
}

// parseEpoch reads Unix seconds written as an integer or a decimal
// fraction ("1534110422.389832", Mailgun). The fraction is read digit by
// digit, not through a float64, so the result is exact and the same on
// every machine.
func parseEpoch(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < 0 || !digitsOrEmpty(frac) {
		f, ferr := strconv.ParseFloat(s, 64) // 1.5e9, as some bridges write it
		if ferr != nil || f < 0 || f > 1e12 {
			return time.Time{}, fmt.Errorf("%q is not a Unix time in seconds", reply.Clip(s, 40))
		}
		return time.UnixMicro(int64(f * 1e6)).UTC(), nil
	}
	if sec > 1e12 {
		return time.Time{}, fmt.Errorf("%q is not a Unix time in seconds", reply.Clip(s, 40))
	}
	var ns int64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, ns).UTC(), nil
}

func digitsOrEmpty(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- JSON

// flex is a JSON scalar read as text whatever its type: providers write the
// same field as a number in one event and a string in another (SendGrid's
// attempt, Postmark's IDs, Mailgun's codes).
type flex string

// readFlex reads a string, number, boolean or null (as "") into f; an
// object or array stops the decode, as the UnmarshalJSON method it
// replaces did (the tests keep that method, for the reference decode).
func readFlex(r *raw.JSON, f *flex) {
	b := r.Raw()
	if b == nil {
		return
	}
	s, ok := scalar(b)
	if !ok {
		r.Abort(fmt.Errorf("want a string or number, got %s", reply.Clip(string(b), 32)))
		return
	}
	*f = flex(s)
}

// strList is a string or a list of strings (SendGrid's category).
type strList []string

// readStrList reads a string, a list of scalars, or null into l; an object
// stops the decode.
func readStrList(r *raw.JSON, l *strList) {
	if r.Peek() == '[' {
		out := strList{}
		for more := r.Array(); more; more = r.MoreElems() {
			if s, ok := scalar(r.Raw()); ok && s != "" {
				out = append(out, s)
			}
		}
		*l = out
		return
	}
	b := r.Raw()
	if b == nil {
		return
	}
	s, ok := scalar(b)
	if !ok {
		r.Abort(fmt.Errorf("want a string or a list, got %s", reply.Clip(string(b), 32)))
		return
	}
	if s == "" {
		*l = nil
	} else {
		*l = strList{s}
	}
}

// scalar returns the text of a JSON string, number or boolean, "" for null;
// ok is false for objects and arrays. A string without escapes is sliced,
// not decoded.
func scalar(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", false
	}
	switch b[0] {
	case '"':
		if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 {
			return string(b[1 : len(b)-1]), true
		}
		return raw.JSONString(b)
	case '{', '[':
		return "", false
	case 'n':
		return "", string(b) == "null"
	}
	return string(b), true
}

// valueText is the metadata text of any JSON value: a scalar's text, or an
// object's or array's compact JSON.
func valueText(b []byte) string {
	if s, ok := scalar(b); ok {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return ""
	}
	return buf.String()
}

// ---------------------------------------------------------------- metadata

// Limits that keep an attempt inside schemas/attempt.schema.json (at most 64
// metadata entries of at most 4096 characters): a webhook with hundreds of
// custom args must not push a whole batch into the dead-letter topic.
const (
	maxMetadata   = 56   // entries; leaves room for ingest and later stages
	maxMetaValue  = 1024 // bytes per value
	maxMetaKey    = 128  // bytes per key
	maxFieldBytes = 998  // message ids and the like, the schema's smallest long limit
)

// meta collects an attempt's metadata. Entries the decoder itself derives
// are set first; user-supplied ones (tags, custom args) fill what room is
// left, in sorted key order so the same body always keeps the same ones.
type meta map[string]string

func (m meta) set(k, v string) {
	if v == "" || len(m) >= maxMetadata {
		return
	}
	m[reply.Clip(k, maxMetaKey)] = reply.Clip(v, maxMetaValue)
}

// setAll adds user-supplied entries under prefix, sorted by key.
func (m meta) setAll(prefix string, kv map[string]string) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.set(prefix+k, kv[k])
	}
}

// clone gives each attempt of a multi-recipient body its own map, so a later
// stage that edits one attempt's metadata does not edit its siblings'.
func (m meta) clone() map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// ---------------------------------------------------------------- campaigns

// Where a campaign id came from (formats.md §0.5 campaign_source), recorded
// as metadata "campaign_source".
const (
	campaignFromHeader   = "header"
	campaignFromTag      = "esp_tag"
	campaignFromMetadata = "esp_metadata"
)

// lookup finds the first configured key present in kv (ignoring case) with a
// non-empty value.
func (r *campaignRule) lookup(kv map[string]string) (string, bool) {
	for _, want := range r.keys {
		for k, v := range kv {
			if v != "" && strings.EqualFold(k, want) {
				return v, true
			}
		}
	}
	return "", false
}

// setCampaign records the campaign id and where it came from.
func setCampaign(a *event.Attempt, m meta, id, source string) {
	if id = strings.TrimSpace(id); id == "" {
		return
	}
	a.CampaignID = reply.Clip(id, 256)
	m.set("campaign_source", source)
}
