package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"time"
)

// AttemptBinaryV1 is the first byte of an attempt in the binary encoding.
// No JSON text starts with it (JSON starts with '{' or whitespace), so a
// reader tells the binary encoding from the JSON of older versions by the
// first byte. A change of the layout below takes a new version byte.
const AttemptBinaryV1 = 0x01

// The binary encoding of an Attempt, after the version byte:
//
//	byte     flags: 1 sent_at is set, 2 source_classification is present,
//	         4 verdict is present, 8 verdict.local
//	time     occurred_at
//	time     sent_at (only with flag 1)
//	string   event_id, recipient, outcome, source.kind, source.host, sender,
//	         message_id, queue_id, campaign_id, tenant, sending_ip, pool
//	varint   attempt
//	varint   smtp.code
//	string   smtp.enhanced, smtp.text, smtp.command, smtp.remote_host,
//	         smtp.remote_ip, diagnostic
//	uvarint  delay_seconds: its IEEE 754 bits, bytes reversed (as gob
//	         does), so that 0 and round numbers of seconds take 1-3 bytes
//	string   source_classification.scheme, .value (only with flag 2)
//	uvarint  metadata entries, then each key and value as strings, keys
//	         in increasing order
//	string   recipient_norm, recipient_domain
//	string   verdict.class, .label, .scope, .rule (only with flag 4)
//
// A string is its length (uvarint) and its bytes. A time is its Unix
// seconds (varint), its nanoseconds (uvarint) and its zone offset in
// seconds (varint): it decodes in time.UTC when the offset is 0, in an
// unnamed fixed zone otherwise, so that its JSON is what the original's
// was ("Z", "+02:00"); the zone's name and the monotonic clock, which JSON
// does not keep either, are dropped.
//
// The encoding holds exactly what the JSON encoding holds: the JSON of an
// attempt decoded from it is byte for byte the JSON of the original. Both
// refuse the same attempts: a time whose year is outside 0..9999 or whose
// zone offset is a day or more, a delay that is NaN or infinite.
const (
	flagSentAt = 1 << iota
	flagSourceClassification
	flagVerdict
	flagLocal
	flagsKnown = flagSentAt | flagSourceClassification | flagVerdict | flagLocal
)

// The range of times JSON can write: the wall clock's year in 0..9999 (as
// seconds since the Unix epoch) and a zone offset under 24 hours.
const (
	minWall   = -62167219200 // 0000-01-01T00:00:00
	maxWall   = 253402300800 // 10000-01-01T00:00:00
	maxOffset = 24 * 60 * 60
)

var (
	errTruncated = errors.New("truncated")
	errYear      = errors.New("year outside of range [0,9999]")
	errOffset    = errors.New("zone offset outside of range (-24h,24h)")
	errDelay     = errors.New("delay_seconds is NaN or infinite")
)

// AppendBinary appends the binary encoding of a to b (encoding.BinaryAppender).
// It refuses what json.Marshal refuses.
func (a *Attempt) AppendBinary(b []byte) ([]byte, error) {
	var flags byte
	if err := checkTime(a.OccurredAt); err != nil {
		return b, fmt.Errorf("occurred_at: %w", err)
	}
	if !a.SentAt.IsZero() {
		if err := checkTime(a.SentAt); err != nil {
			return b, fmt.Errorf("sent_at: %w", err)
		}
		flags |= flagSentAt
	}
	if math.IsNaN(a.DelaySeconds) || math.IsInf(a.DelaySeconds, 0) {
		return b, errDelay
	}
	if a.SourceClassification != nil {
		flags |= flagSourceClassification
	}
	if a.Verdict != nil {
		flags |= flagVerdict
		if a.Verdict.Local {
			flags |= flagLocal
		}
	}
	b = slices.Grow(b, a.sizeHint())
	b = append(b, AttemptBinaryV1, flags)
	b = appendTime(b, a.OccurredAt)
	if flags&flagSentAt != 0 {
		b = appendTime(b, a.SentAt)
	}
	for _, s := range [...]string{a.EventID, a.Recipient, string(a.Outcome), a.Source.Kind, a.Source.Host, a.Sender,
		a.MessageID, a.QueueID, a.CampaignID, a.Tenant, a.SendingIP, a.Pool} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(a.Attempt))
	b = binary.AppendVarint(b, int64(a.SMTP.Code))
	for _, s := range [...]string{a.SMTP.Enhanced, a.SMTP.Text, a.SMTP.Command, a.SMTP.RemoteHost, a.SMTP.RemoteIP, a.Diagnostic} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, bits.ReverseBytes64(math.Float64bits(a.DelaySeconds)))
	if sc := a.SourceClassification; sc != nil {
		b = appendString(appendString(b, sc.Scheme), sc.Value)
	}
	b = appendMetadata(b, a.Metadata)
	b = appendString(appendString(b, a.RecipientNorm), a.RecipientDomain)
	if v := a.Verdict; v != nil {
		b = appendString(appendString(b, string(v.Class)), string(v.Label))
		b = appendString(appendString(b, string(v.Scope)), v.Rule)
	}
	return b, nil
}

// sizeHint is about the size of a's encoding: one allocation is enough
// for almost every attempt.
func (a *Attempt) sizeHint() int {
	n := 96 + len(a.EventID) + len(a.Recipient) + len(a.Outcome) + len(a.Source.Kind) + len(a.Source.Host) +
		len(a.Sender) + len(a.MessageID) + len(a.QueueID) + len(a.CampaignID) + len(a.Tenant) + len(a.SendingIP) +
		len(a.Pool) + len(a.SMTP.Enhanced) + len(a.SMTP.Text) + len(a.SMTP.Command) + len(a.SMTP.RemoteHost) +
		len(a.SMTP.RemoteIP) + len(a.Diagnostic) + len(a.RecipientNorm) + len(a.RecipientDomain)
	if sc := a.SourceClassification; sc != nil {
		n += 2 + len(sc.Scheme) + len(sc.Value)
	}
	for k, v := range a.Metadata {
		n += 4 + len(k) + len(v)
	}
	if v := a.Verdict; v != nil {
		n += 4 + len(v.Class) + len(v.Label) + len(v.Scope) + len(v.Rule)
	}
	return n
}

func checkTime(t time.Time) error {
	_, off := t.Zone()
	if off <= -maxOffset || off >= maxOffset {
		return errOffset
	}
	if wall := t.Unix() + int64(off); wall < minWall || wall >= maxWall {
		return errYear
	}
	return nil
}

func appendTime(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	return binary.AppendVarint(b, int64(off))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMetadata(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	switch len(m) {
	case 0:
		return b
	case 1:
		for k, v := range m {
			b = appendString(appendString(b, k), v)
		}
		return b
	}
	// Sorted, as JSON writes them: the same attempt is the same bytes.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendString(appendString(b, k), m[k])
	}
	return b
}

// UnmarshalBinary sets *a to the attempt that AppendBinary encoded in b
// (encoding.BinaryUnmarshaler). Truncated input, trailing bytes, lengths
// past the end, unknown flags and values JSON could not carry are errors,
// after which *a is the zero Attempt.
//
// a keeps nothing of b: every string is a copy of its own (as
// json.Unmarshal makes them), so a string that outlives the attempt (a
// suppression's evidence, a guard window's domain) keeps only its own
// bytes alive. The values of Outcome and of the verdict's class, label and
// scope that this package defines are not copied but shared constants.
func (a *Attempt) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		*a = Attempt{}
		return errors.New("binary attempt: empty")
	}
	if b[0] != AttemptBinaryV1 {
		*a = Attempt{}
		return fmt.Errorf("binary attempt: unknown version byte %#02x", b[0])
	}
	if err := a.decode(&decoder{b: b[1:]}); err != nil {
		*a = Attempt{}
		return fmt.Errorf("binary attempt: %w", err)
	}
	return nil
}

func (a *Attempt) decode(d *decoder) error {
	flags := d.byte()
	if flags&^flagsKnown != 0 || flags&flagLocal != 0 && flags&flagVerdict == 0 {
		return fmt.Errorf("unknown flags %#02x", flags)
	}
	*a = Attempt{OccurredAt: d.time()}
	if flags&flagSentAt != 0 {
		a.SentAt = d.time()
	}
	a.EventID, a.Recipient, a.Outcome = d.string(), d.string(), Outcome(d.symbol())
	a.Source = Source{Kind: d.string(), Host: d.string()}
	a.Sender, a.MessageID, a.QueueID = d.string(), d.string(), d.string()
	a.CampaignID, a.Tenant, a.SendingIP, a.Pool = d.string(), d.string(), d.string(), d.string()
	a.Attempt = d.int()
	a.SMTP.Code = d.int()
	a.SMTP.Enhanced, a.SMTP.Text, a.SMTP.Command = d.string(), d.string(), d.string()
	a.SMTP.RemoteHost, a.SMTP.RemoteIP, a.Diagnostic = d.string(), d.string(), d.string()
	a.DelaySeconds = math.Float64frombits(bits.ReverseBytes64(d.uvarint()))
	if math.IsNaN(a.DelaySeconds) || math.IsInf(a.DelaySeconds, 0) {
		return errDelay
	}
	if flags&flagSourceClassification != 0 {
		a.SourceClassification = &SourceClassification{Scheme: d.string(), Value: d.string()}
	}
	a.Metadata = d.metadata()
	a.RecipientNorm, a.RecipientDomain = d.string(), d.string()
	if flags&flagVerdict != 0 {
		a.Verdict = &Verdict{Class: Class(d.symbol()), Label: Label(d.symbol()), Scope: Scope(d.symbol()), Rule: d.string(),
			Local: flags&flagLocal != 0}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return nil
}

// decoder reads the binary encoding; the first error sticks and later
// reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail(errors.New("integer out of range"))
		return 0
	}
	return int(v)
}

// bytes returns the next string's bytes, still in the input.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	if v := d.bytes(); len(v) > 0 {
		return string(v)
	}
	return ""
}

// symbol is string for the fields whose values are mostly this package's
// constants: those are returned without a copy.
func (d *decoder) symbol() string {
	v := d.bytes()
	if s, ok := known(v); ok {
		return s
	}
	return string(v)
}

func (d *decoder) time() time.Time {
	sec, nsec, off := d.varint(), d.uvarint(), d.varint()
	switch {
	case d.err != nil:
		return time.Time{}
	case nsec >= 1e9:
		d.fail(errors.New("nanoseconds out of range"))
		return time.Time{}
	case off <= -maxOffset || off >= maxOffset:
		d.fail(errOffset)
		return time.Time{}
	case sec < minWall-maxOffset || sec >= maxWall+maxOffset || sec+off < minWall || sec+off >= maxWall:
		d.fail(errYear)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(off)))
}

func (d *decoder) metadata() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	// Each entry takes at least two bytes: a count past that is garbage,
	// refused before it sizes an allocation.
	if n > uint64(len(d.b))/2 {
		d.fail(errTruncated)
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

// known returns the constant of this package that v spells, if any.
func known(v []byte) (string, bool) {
	switch string(v) {
	case "":
		return "", true
	// Outcomes (delivered, expired: also labels and classes).
	case "delivered":
		return "delivered", true
	case "deferred":
		return "deferred", true
	case "bounced":
		return "bounced", true
	case "expired":
		return "expired", true
	case "dropped":
		return "dropped", true
	// Classes (complaint, auto_reply: also labels).
	case "hard":
		return "hard", true
	case "soft":
		return "soft", true
	case "block":
		return "block", true
	case "complaint":
		return "complaint", true
	case "auto_reply":
		return "auto_reply", true
	// Scopes.
	case "recipient":
		return "recipient", true
	case "domain":
		return "domain", true
	case "upstream":
		return "upstream", true
	case "transport":
		return "transport", true
	case "unknown":
		return "unknown", true
	case "message":
		return "message", true
	case "sender":
		return "sender", true
	case "non_bounce":
		return "non_bounce", true
	// Labels.
	case "mailbox_unknown":
		return "mailbox_unknown", true
	case "mailbox_inactive":
		return "mailbox_inactive", true
	case "mailbox_moved":
		return "mailbox_moved", true
	case "domain_unknown":
		return "domain_unknown", true
	case "suppressed":
		return "suppressed", true
	case "mailbox_full":
		return "mailbox_full", true
	case "recipient_filtered":
		return "recipient_filtered", true
	case "network_error":
		return "network_error", true
	case "remote_system_error":
		return "remote_system_error", true
	case "greylisted":
		return "greylisted", true
	case "message_too_large":
		return "message_too_large", true
	case "content_rejected":
		return "content_rejected", true
	case "spam_content":
		return "spam_content", true
	case "virus_detected":
		return "virus_detected", true
	case "sender_blocked":
		return "sender_blocked", true
	case "auth_failure":
		return "auth_failure", true
	case "sender_config":
		return "sender_config", true
	case "sender_address_rejected":
		return "sender_address_rejected", true
	case "policy_violation":
		return "policy_violation", true
	case "relay_denied":
		return "relay_denied", true
	case "rate_limited":
		return "rate_limited", true
	case "protocol_error":
		return "protocol_error", true
	}
	return "", false
}
