// Package event defines the canonical delivery-attempt event of docs/formats.md and
// the verdict taxonomy of docs/classification.md. Every stage of the pipeline speaks these
// types: ingest produces them, classify fills in the verdict, the streak fold
// consumes them and the sinks write them out.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Outcome is what the MTA did with one recipient on one attempt.
type Outcome string

// The outcomes an attempt can have.
const (
	Delivered Outcome = "delivered"
	Deferred  Outcome = "deferred"
	Bounced   Outcome = "bounced"
	Expired   Outcome = "expired"
	Dropped   Outcome = "dropped"
	// Complaint is a spam report about a message that was delivered (an
	// ARF feedback report, an ESP's spam complaint). It is not an attempt
	// and not a delivery: it never counts as a send, never resets a streak.
	Complaint Outcome = "complaint"
)

// Valid reports whether o is one of the outcomes docs/formats.md defines.
func (o Outcome) Valid() bool {
	switch o {
	case Delivered, Deferred, Bounced, Expired, Dropped, Complaint:
		return true
	}
	return false
}

// Final reports whether the MTA will not try this recipient again for this
// message.
func (o Outcome) Final() bool { return o != Deferred }

// Source says where an event came from.
type Source struct {
	Kind string `json:"kind,omitempty"`
	Host string `json:"host,omitempty"`
}

// SMTP is the remote server's reply, as far as the source reports it.
type SMTP struct {
	Code       int    `json:"code,omitempty"`
	Enhanced   string `json:"enhanced,omitempty"`
	Text       string `json:"text,omitempty"`
	Command    string `json:"command,omitempty"`
	RemoteHost string `json:"remote_host,omitempty"`
	RemoteIP   string `json:"remote_ip,omitempty"`
}

// SourceClassification is the source's own verdict (PowerMTA bounceCat, SES
// bounceType, ...), kept as evidence, never as the answer.
type SourceClassification struct {
	Scheme string `json:"scheme,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Attempt is one delivery attempt to one recipient: the canonical event.
// Fields after Metadata are derived at ingest.
type Attempt struct {
	EventID              string                `json:"event_id,omitempty"`
	OccurredAt           time.Time             `json:"occurred_at"`
	SentAt               time.Time             `json:"sent_at,omitzero"`
	Recipient            string                `json:"recipient"`
	Outcome              Outcome               `json:"outcome"`
	Source               Source                `json:"source,omitzero"`
	Sender               string                `json:"sender,omitempty"`
	MessageID            string                `json:"message_id,omitempty"`
	QueueID              string                `json:"queue_id,omitempty"`
	CampaignID           string                `json:"campaign_id,omitempty"`
	Tenant               string                `json:"tenant,omitempty"`
	SendingIP            string                `json:"sending_ip,omitempty"`
	Pool                 string                `json:"pool,omitempty"`
	Attempt              int                   `json:"attempt,omitempty"`
	SMTP                 SMTP                  `json:"smtp,omitzero"`
	Diagnostic           string                `json:"diagnostic,omitempty"`
	DelaySeconds         float64               `json:"delay_seconds,omitempty"`
	SourceClassification *SourceClassification `json:"source_classification,omitempty"`
	Metadata             map[string]string     `json:"metadata,omitempty"`

	RecipientNorm   string   `json:"recipient_norm,omitempty"`
	RecipientDomain string   `json:"recipient_domain,omitempty"`
	Verdict         *Verdict `json:"verdict,omitempty"`
}

// SendKey identifies the send (one message to one recipient) this attempt
// belongs to. Retries of the same message share it; the streak counts sends,
// not attempts.
func (a *Attempt) SendKey() string {
	switch {
	case a.MessageID != "":
		return "m:" + a.MessageID
	case a.QueueID != "":
		return "q:" + a.Source.Host + ":" + a.QueueID
	default:
		return "e:" + a.EventID
	}
}

// SetMetadata records one metadata entry, an empty value included. The map
// is made on first use: most attempts carry no metadata, and a nil map keeps
// them small.
func (a *Attempt) SetMetadata(key, value string) {
	if a.Metadata == nil {
		a.Metadata = make(map[string]string, 4)
	}
	a.Metadata[key] = value
}

// SendTime is when the message was first queued, falling back to the attempt
// time when the source does not say: rates are grouped by it.
func (a *Attempt) SendTime() time.Time {
	if !a.SentAt.IsZero() {
		return a.SentAt
	}
	return a.OccurredAt
}

// NaturalID derives a stable event id from a source's natural key (the
// fields that identify one attempt in that source, docs/formats.md): the same record
// re-sent by a shipper after a restart gets the same id, so it is recognised
// as a duplicate downstream.
func NaturalID(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Storable bounds of an attempt's times: what stage 1 accepts, and well
// inside ClickHouse's DateTime (1970..2105).
var (
	minTime = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Check reports why an attempt read back from the attempts topic cannot be
// folded and stored: stage 1 writes none such, but an outside producer, a
// future version or a corrupted record can, and one row ClickHouse refuses
// (an outcome outside its Enum8, a time outside DateTime) would fail every
// INSERT it is in, for ever.
func (a *Attempt) Check() error {
	switch {
	case !a.Outcome.Valid():
		return fmt.Errorf("outcome %q is not one of delivered, deferred, bounced, expired, dropped, complaint", a.Outcome)
	case a.RecipientNorm == "":
		return errors.New("no recipient_norm")
	case a.OccurredAt.Before(minTime) || !a.OccurredAt.Before(maxTime):
		return fmt.Errorf("occurred_at %s is outside 1990..2100", a.OccurredAt.Format(time.RFC3339))
	case !a.SentAt.IsZero() && (a.SentAt.Before(minTime) || !a.SentAt.Before(maxTime)):
		return fmt.Errorf("sent_at %s is outside 1990..2100", a.SentAt.Format(time.RFC3339))
	case a.SMTP.Code < 0 || a.SMTP.Code > 599:
		return fmt.Errorf("smtp code %d is outside 0..599", a.SMTP.Code)
	case a.Attempt < 0 || a.Attempt > 65535:
		return fmt.Errorf("attempt number %d is outside 0..65535", a.Attempt)
	}
	return nil
}
