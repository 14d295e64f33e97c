package esp

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Postmark decodes Postmark webhook bodies: one JSON object per event with a
// RecordType (Bounce, SpamComplaint, Delivery, Open, Click,
// SubscriptionChange).
type Postmark struct {
	campaign campaignRule
}

// NewPostmark builds the Postmark decoder. cfg should have passed Validate.
func NewPostmark(cfg Config) *Postmark { return &Postmark{campaign: newCampaignRule(cfg)} }

// Kind returns "postmark".
func (*Postmark) Kind() string { return KindPostmark }

type pmRecord struct {
	RecordType    string                     `json:"RecordType"`
	ID            flex                       `json:"ID"`
	Type          string                     `json:"Type"`
	TypeCode      flex                       `json:"TypeCode"`
	ServerID      flex                       `json:"ServerID"`
	MessageID     string                     `json:"MessageID"`
	MessageStream string                     `json:"MessageStream"`
	Tag           string                     `json:"Tag"`
	Metadata      map[string]json.RawMessage `json:"Metadata"`
	Description   string                     `json:"Description"`
	Details       string                     `json:"Details"`
	Email         string                     `json:"Email"`
	Recipient     string                     `json:"Recipient"`
	From          string                     `json:"From"`
	BouncedAt     string                     `json:"BouncedAt"`
	DeliveredAt   string                     `json:"DeliveredAt"`
	Inactive      *bool                      `json:"Inactive"`
	CanActivate   *bool                      `json:"CanActivate"`
}

// Skip reasons of Postmark record types that are not delivery attempts.
var pmSkips = map[string]string{
	"Open":               "postmark.open",
	"Click":              "postmark.click",
	"SubscriptionChange": "postmark.subscription_change",
}

// pmBounceTypes maps a bounce Type to an outcome, or to a skip reason when
// the "bounce" is not a failed delivery. Types not listed (ones Postmark
// adds later) are bounced: a bounce record means the message did not arrive,
// and the classifier reads the Details.
var pmBounceTypes = map[string]struct {
	outcome event.Outcome
	skip    string
}{
	"HardBounce":        {outcome: event.Bounced},
	"SoftBounce":        {outcome: event.Bounced},  // Postmark stopped trying this message; the Details say why
	"Transient":         {outcome: event.Deferred}, // "message delayed": a delay DSN, the remote may still deliver
	"DnsError":          {outcome: event.Bounced},
	"SpamNotification":  {outcome: event.Bounced},
	"VirusNotification": {outcome: event.Bounced},
	"Blocked":           {outcome: event.Bounced},
	"DMARCPolicy":       {outcome: event.Bounced},
	"BadEmailAddress":   {outcome: event.Bounced},
	"Unknown":           {outcome: event.Bounced},
	// Postmark refused to send: its own inactive list.
	"ManuallyDeactivated": {outcome: event.Dropped},
	"Unconfirmed":         {outcome: event.Dropped},
	// A complaint filed as a bounce type.
	"SpamComplaint": {outcome: event.Complaint},
	// Replies and notices that are not failed deliveries (docs/formats.md: skipped
	// and counted), and failures before any recipient was tried.
	"AutoResponder":           {skip: "postmark.auto_responder"},
	"AddressChange":           {skip: "postmark.address_change"},
	"ChallengeVerification":   {skip: "postmark.challenge_verification"},
	"Subscribe":               {skip: "postmark.subscribe"},
	"Unsubscribe":             {skip: "postmark.unsubscribe"},
	"OpenRelayTest":           {skip: "postmark.open_relay_test"},
	"InboundError":            {skip: "postmark.inbound_error"},
	"SMTPApiError":            {skip: "postmark.smtp_api_error"},
	"TemplateRenderingFailed": {skip: "postmark.template_rendering_failed"},
}

// Decode turns one Postmark record into at most one attempt.
func (d *Postmark) Decode(rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindPostmark, reasonJSON, "body is not a JSON object")
	}
	var r pmRecord
	if err := readJSON(p, &r, readPMRecord); err != nil {
		return nil, "", jsonFail(KindPostmark, err)
	}
	return d.record(&rec, &r)
}

// record turns a decoded record into an attempt.
func (d *Postmark) record(rec *raw.Record, r *pmRecord) ([]event.Attempt, string, error) {
	var (
		outcome   event.Outcome
		recipient = r.Email
		when      = r.BouncedAt
		whenField = "BouncedAt"
	)
	switch r.RecordType {
	case "Bounce":
		bt, ok := pmBounceTypes[r.Type]
		switch {
		case !ok:
			outcome = event.Bounced
		case bt.skip != "":
			return nil, bt.skip, nil
		default:
			outcome = bt.outcome
		}
	case "SpamComplaint":
		outcome = event.Complaint
	case "Delivery":
		outcome = event.Delivered
		recipient, when, whenField = r.Recipient, r.DeliveredAt, "DeliveredAt"
	case "":
		return nil, "", fail(KindPostmark, reasonShape, "no RecordType (inbound webhooks are not delivery events)")
	default:
		if s, ok := pmSkips[r.RecordType]; ok {
			return nil, s, nil
		}
		return nil, "postmark.unknown_record", nil
	}
	if recipient == "" {
		return nil, "", fail(KindPostmark, reasonRecipient, "%s record without a recipient", r.RecordType)
	}
	if when == "" {
		return nil, "", fail(KindPostmark, reasonTime, "%s record without %s", r.RecordType, whenField)
	}
	t, err := parseTime(when)
	if err != nil {
		return nil, "", fail(KindPostmark, reasonTime, "%s: %v", whenField, err)
	}

	a := newAttempt(KindPostmark, rec)
	a.Recipient = recipient
	a.Outcome = outcome
	a.OccurredAt = t
	a.Sender = reply.Clip(r.From, 320)
	a.MessageID = reply.Clip(r.MessageID, maxFieldBytes)
	a.Tenant = reply.Clip(string(r.ServerID), 256) // a Postmark server is the account's unit of separation
	if r.ID != "" {
		a.EventID = event.NaturalID(KindPostmark, string(r.ID), recipient)
	} else {
		// Delivery records have no ID; one per message and recipient.
		a.EventID = event.NaturalID(KindPostmark, r.MessageID+"/"+r.RecordType, recipient)
	}
	m := meta{}
	m.set("postmark.message_stream", r.MessageStream)
	switch {
	case r.RecordType == "SpamComplaint" || r.Type == "SpamComplaint":
		a.SourceClassification = &event.SourceClassification{Scheme: KindPostmark, Value: "SpamComplaint"}
	case r.RecordType == "Bounce":
		a.SourceClassification = &event.SourceClassification{Scheme: KindPostmark, Value: reply.Clip(r.Type, 256)}
		if outcome == event.Dropped {
			m.set("esp.reason", oneLine(r.Details))
		} else {
			setReply(&a, r.Details, "")
		}
		// Description explains the bounce type ("ex: unknown user,
		// mailbox not found"), not this bounce: metadata only, or the
		// classifier would read every HardBounce as an unknown user.
		m.set("postmark.description", oneLine(r.Description))
		m.set("postmark.type_code", string(r.TypeCode))
		if r.Inactive != nil {
			m.set("postmark.inactive", boolText(*r.Inactive))
		}
		if r.CanActivate != nil {
			m.set("postmark.can_activate", boolText(*r.CanActivate))
		}
	case r.RecordType == "Delivery":
		// Details is Postmark's note on the delivery, usually the remote
		// server's reply.
		setReply(&a, r.Details, "")
	}

	md := make(map[string]string, len(r.Metadata))
	for k, v := range r.Metadata {
		md[k] = valueText(v)
	}
	if id, ok := d.campaign.lookup(md); ok {
		setCampaign(&a, m, id, campaignFromMetadata)
	} else if d.campaign.tags && strings.TrimSpace(r.Tag) != "" {
		setCampaign(&a, m, r.Tag, campaignFromTag)
	}
	if r.Tag != "" {
		m.set("esp.tags", joinTags([]string{r.Tag}))
	}
	m.setAll("meta.", md)
	a.Metadata = m.clone()
	return []event.Attempt{a}, "", nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ---------------------------------------------------------------- JSON

var pmRecordFields = raw.NewFields("RecordType", "ID", "Type", "TypeCode", "ServerID", "MessageID", "MessageStream",
	"Tag", "Metadata", "Description", "Details", "Email", "Recipient", "From", "BouncedAt", "DeliveredAt",
	"Inactive", "CanActivate")

func readPMRecord(r *raw.JSON, p *pmRecord) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(pmRecordFields, &seen) {
		case 0:
			r.String(&p.RecordType)
		case 1:
			readFlex(r, &p.ID)
		case 2:
			r.String(&p.Type)
		case 3:
			readFlex(r, &p.TypeCode)
		case 4:
			readFlex(r, &p.ServerID)
		case 5:
			r.String(&p.MessageID)
		case 6:
			r.String(&p.MessageStream)
		case 7:
			r.String(&p.Tag)
		case 8:
			readMap(r, &p.Metadata, readRaw)
		case 9:
			r.String(&p.Description)
		case 10:
			r.String(&p.Details)
		case 11:
			r.String(&p.Email)
		case 12:
			r.String(&p.Recipient)
		case 13:
			r.String(&p.From)
		case 14:
			r.String(&p.BouncedAt)
		case 15:
			r.String(&p.DeliveredAt)
		case 16:
			readBoolPtr(r, &p.Inactive)
		case 17:
			readBoolPtr(r, &p.CanActivate)
		default:
			r.Skip()
		}
	}
}
