package ingest

import (
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// decodeAttempt reads a canonical JSON record into a in one pass. It
// accepts, refuses and fills what json.Unmarshal(b, a) does
// (FuzzCanonicalDecode holds it to that) but for junk encoding/json reads
// with a guess, which it refuses with a *raw.JSONStrictError naming the
// field: a key repeated in any object it reads (encoding/json keeps the
// last; keys match event.Attempt's JSON names exactly or without regard to
// case, so "recipient" and "Recipient" are one key), and a string it keeps
// that is not valid UTF-8 (encoding/json reads U+FFFD into it). Otherwise
// unknown keys are ignored, null leaves a field as it was, times go through
// time.Time.UnmarshalJSON, and the error is a syntax error, else the
// time's, else the first value of the wrong type. The reply text and the
// diagnostic are stored through reply.Clean: no control characters or
// terminal escapes.
func decodeAttempt(b []byte, a *event.Attempt) error {
	if err := readAttempt(b, a, true); err != nil {
		return err
	}
	a.SMTP.Text = reply.Clean(a.SMTP.Text)
	a.Diagnostic = reply.Clean(a.Diagnostic)
	return nil
}

// readAttempt is decodeAttempt's JSON step; without strict it reads what
// json.Unmarshal reads, to the letter, which is how the tests hold the
// reader to encoding/json.
func readAttempt(b []byte, a *event.Attempt, strict bool) error {
	var r raw.JSON
	r.Reset(b)
	if strict {
		r.Strict()
	}
	if len(b) <= maxSharedRecord {
		r.ShareStrings()
	}
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(attemptFields, &seen) {
		case fEventID:
			r.String(&a.EventID)
		case fOccurredAt:
			r.Time(&a.OccurredAt)
		case fSentAt:
			r.Time(&a.SentAt)
		case fRecipient:
			r.String(&a.Recipient)
		case fOutcome:
			r.String((*string)(&a.Outcome))
		case fSource:
			decodeSource(&r, &a.Source)
		case fSender:
			r.String(&a.Sender)
		case fMessageID:
			r.String(&a.MessageID)
		case fQueueID:
			r.String(&a.QueueID)
		case fCampaignID:
			r.String(&a.CampaignID)
		case fTenant:
			r.String(&a.Tenant)
		case fSendingIP:
			r.String(&a.SendingIP)
		case fPool:
			r.String(&a.Pool)
		case fAttempt:
			r.Int(&a.Attempt)
		case fSMTP:
			decodeSMTP(&r, &a.SMTP)
		case fDiagnostic:
			r.String(&a.Diagnostic)
		case fDelaySeconds:
			r.Float(&a.DelaySeconds)
		case fSourceClassification:
			if r.Null() {
				a.SourceClassification = nil
				break
			}
			if a.SourceClassification == nil {
				a.SourceClassification = new(event.SourceClassification)
			}
			decodeSourceClassification(&r, a.SourceClassification)
		case fMetadata:
			decodeStringMap(&r, &a.Metadata)
		case fRecipientNorm:
			r.String(&a.RecipientNorm)
		case fRecipientDomain:
			r.String(&a.RecipientDomain)
		case fVerdict:
			if r.Null() {
				a.Verdict = nil
				break
			}
			if a.Verdict == nil {
				a.Verdict = new(event.Verdict)
			}
			decodeVerdict(&r, a.Verdict)
		default:
			r.Skip()
		}
	}
	return r.Finish()
}

// maxSharedRecord is the size up to which an attempt's strings share one
// copy of the record: one allocation instead of one per field, and the
// whole record is about the attempt anyway. A larger record (a long
// diagnostic, fields bounced does not read) gets a string per field, so
// that a kept attempt does not keep what it did not read.
const maxSharedRecord = 4096

// event.Attempt's JSON names, in field order.
const (
	fEventID = iota
	fOccurredAt
	fSentAt
	fRecipient
	fOutcome
	fSource
	fSender
	fMessageID
	fQueueID
	fCampaignID
	fTenant
	fSendingIP
	fPool
	fAttempt
	fSMTP
	fDiagnostic
	fDelaySeconds
	fSourceClassification
	fMetadata
	fRecipientNorm
	fRecipientDomain
	fVerdict
)

var attemptFields = raw.NewFields("event_id", "occurred_at", "sent_at", "recipient", "outcome", "source", "sender",
	"message_id", "queue_id", "campaign_id", "tenant", "sending_ip", "pool", "attempt", "smtp", "diagnostic",
	"delay_seconds", "source_classification", "metadata", "recipient_norm", "recipient_domain", "verdict")

var sourceFields = raw.NewFields("kind", "host")

func decodeSource(r *raw.JSON, s *event.Source) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sourceFields, &seen) {
		case 0:
			r.String(&s.Kind)
		case 1:
			r.String(&s.Host)
		default:
			r.Skip()
		}
	}
}

var smtpFields = raw.NewFields("code", "enhanced", "text", "command", "remote_host", "remote_ip")

func decodeSMTP(r *raw.JSON, s *event.SMTP) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(smtpFields, &seen) {
		case 0:
			r.Int(&s.Code)
		case 1:
			r.String(&s.Enhanced)
		case 2:
			r.String(&s.Text)
		case 3:
			r.String(&s.Command)
		case 4:
			r.String(&s.RemoteHost)
		case 5:
			r.String(&s.RemoteIP)
		default:
			r.Skip()
		}
	}
}

var sourceClassificationFields = raw.NewFields("scheme", "value")

func decodeSourceClassification(r *raw.JSON, sc *event.SourceClassification) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sourceClassificationFields, &seen) {
		case 0:
			r.String(&sc.Scheme)
		case 1:
			r.String(&sc.Value)
		default:
			r.Skip()
		}
	}
}

var verdictFields = raw.NewFields("class", "label", "scope", "rule", "local")

func decodeVerdict(r *raw.JSON, v *event.Verdict) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(verdictFields, &seen) {
		case 0:
			r.String((*string)(&v.Class))
		case 1:
			r.String((*string)(&v.Label))
		case 2:
			r.String((*string)(&v.Scope))
		case 3:
			r.String(&v.Rule)
		case 4:
			r.Bool(&v.Local)
		default:
			r.Skip()
		}
	}
}

// decodeStringMap reads an object into a map[string]string as
// encoding/json does: null clears the map, an object adds to it (making it
// when nil), a member whose value is not a string is a mismatch and reads
// as "". A strict reader refuses a key the map holds already: in one
// object that is a repeat, and a second object would be a repeated
// metadata key, refused before.
func decodeStringMap(r *raw.JSON, m *map[string]string) {
	switch r.Peek() {
	case 'n':
		r.Skip()
		*m = nil
	case '{':
		if *m == nil {
			*m = map[string]string{}
		}
		for more := r.Object(); more; more = r.More() {
			k := string(r.Key())
			if _, dup := (*m)[k]; dup {
				r.Duplicate()
			}
			var v string
			r.String(&v)
			(*m)[k] = v
		}
	default:
		r.Mismatch("map[string]string")
	}
}
