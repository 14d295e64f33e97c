package esp

import (
	"bytes"
	"net/netip"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Postal decodes the webhooks of Postal (github.com/postalserver/postal), an
// open-source mail server: one JSON object per event,
// {"event": …, "timestamp": <Unix seconds>, "payload": {…}, "uuid": …}
// (app/services/webhook_delivery_service.rb).
//
// The message status events carry one delivery of one message to its one
// recipient (Postal queues a message per RCPT TO) with Postal's status
// (lib/postal/message_db/delivery.rb):
//
//	MessageSent            Sent      delivered
//	MessageDelayed         SoftFail  deferred (Postal retries)
//	MessageDeliveryFailed  HardFail  bounced; skipped as postal.refused_spam
//	                                 when Postal's own outbound spam check
//	                                 refused to send
//	MessageHeld            Held      dropped when the recipient is on Postal's
//	                                 suppression list; otherwise skipped as
//	                                 postal.held (development mode, a holding
//	                                 credential, the send limit: nothing was
//	                                 tried, and a release sends it later)
//	MessageBounced         —         bounced: a bounce mail that arrived later
//	                                 for original_message
//
// Events about incoming mail (message.direction "incoming": Postal handing
// received mail to the user's endpoints) are skipped as postal.incoming;
// clicks, opens, DNS and send-limit notices are skipped under their own
// reasons.
type Postal struct {
	campaign campaignRule
}

// NewPostal builds the Postal decoder. cfg should have passed Validate.
func NewPostal(cfg Config) *Postal { return &Postal{campaign: newCampaignRule(cfg)} }

// Kind returns "postal".
func (*Postal) Kind() string { return KindPostal }

type psBody struct {
	Event     string     `json:"event"`
	Timestamp flex       `json:"timestamp"`
	UUID      string     `json:"uuid"`
	Payload   *psPayload `json:"payload"`
}

// psPayload is the payload of every event this decoder reads: the status
// events' (message, status, details, output, …) and MessageBounced's
// (original_message, bounce).
type psPayload struct {
	Message         *psMessage `json:"message"`
	OriginalMessage *psMessage `json:"original_message"`
	Bounce          *psMessage `json:"bounce"`
	Status          string     `json:"status"`
	Details         string     `json:"details"`
	Output          string     `json:"output"`
	SentWithSSL     *bool      `json:"sent_with_ssl"`
	Timestamp       flex       `json:"timestamp"`
}

// psMessage is Postal's Message#webhook_hash
// (lib/postal/message_db/message.rb).
type psMessage struct {
	ID         flex   `json:"id"`
	Token      string `json:"token"`
	Direction  string `json:"direction"`
	MessageID  string `json:"message_id"`
	To         string `json:"to"`
	From       string `json:"from"`
	Subject    string `json:"subject"`
	Timestamp  flex   `json:"timestamp"`
	SpamStatus string `json:"spam_status"`
	Tag        string `json:"tag"`
}

// psStatusEvents are the message status events, with the status Postal
// sends with each and the outcome it means.
var psStatusEvents = map[string]struct {
	status  string
	outcome event.Outcome
}{
	"MessageSent":           {"Sent", event.Delivered},
	"MessageDelayed":        {"SoftFail", event.Deferred},
	"MessageDeliveryFailed": {"HardFail", event.Bounced},
	"MessageHeld":           {"Held", event.Dropped}, // only a suppression-list hold: see held
}

// psEventBounced is the asynchronous bounce event.
const psEventBounced = "MessageBounced"

// Skip reasons of Postal events that are not delivery attempts.
var psSkips = map[string]string{
	"MessageLinkClicked":   "postal.link_clicked",
	"MessageLoaded":        "postal.loaded",
	"DomainDNSError":       "postal.domain_dns_error",
	"SendLimitApproaching": "postal.send_limit_approaching",
	"SendLimitExceeded":    "postal.send_limit_exceeded",
}

// Decode turns one Postal webhook body into at most one attempt.
func (d *Postal) Decode(rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindPostal, reasonJSON, "body is not a JSON object")
	}
	var b psBody
	if err := readJSON(p, &b, readPSBody); err != nil {
		return nil, "", jsonFail(KindPostal, err)
	}
	return d.body(&rec, &b)
}

// body turns a decoded body into an attempt.
func (d *Postal) body(rec *raw.Record, b *psBody) ([]event.Attempt, string, error) {
	if b.Event == "" {
		return nil, "", fail(KindPostal, reasonShape, `no event: want {"event": …, "payload": {…}} as Postal posts it`)
	}
	pl := b.Payload
	// A bounce is MessageBounced, or a payload of its shape under another
	// name (bridges and test fixtures relabel it): the shape says what
	// the fields mean.
	bounce := b.Event == psEventBounced ||
		pl != nil && pl.Message == nil && pl.OriginalMessage != nil && pl.Bounce != nil
	var (
		outcome event.Outcome
		status  string
	)
	if bounce {
		outcome = event.Bounced
	} else {
		se, ok := psStatusEvents[b.Event]
		if !ok {
			if s, ok := psSkips[b.Event]; ok {
				return nil, s, nil
			}
			return nil, "postal.unknown_event", nil
		}
		outcome, status = se.outcome, se.status
	}
	if pl == nil {
		return nil, "", fail(KindPostal, reasonShape, "%s without a payload object", reply.Clip(b.Event, 64))
	}
	msg, msgField := pl.Message, "payload.message"
	if bounce {
		msg, msgField = pl.OriginalMessage, "payload.original_message"
	}
	if msg == nil {
		return nil, "", fail(KindPostal, reasonShape, "%s without %s", reply.Clip(b.Event, 64), msgField)
	}
	if !bounce && pl.Status != "" && pl.Status != status {
		// Postal derives the event from the status; a body where they
		// disagree says two things, and either reading would be a guess.
		return nil, "", fail(KindPostal, reasonShape, "%s with status %q; Postal sends it with status %q", b.Event, reply.Clip(pl.Status, 64), status)
	}
	if strings.EqualFold(msg.Direction, "incoming") {
		// Received mail handed to the user's endpoint: not a delivery
		// of the user's own mail.
		return nil, "postal.incoming", nil
	}
	switch {
	case b.Event == "MessageHeld" && !strings.Contains(pl.Details, "on the suppression list"):
		return nil, "postal.held", nil
	case b.Event == "MessageDeliveryFailed" && strings.HasPrefix(pl.Details, "Message is likely spam"):
		// Postal's outbound spam check refused to send: nothing was
		// tried, and the verdict is about the content, not the address.
		return nil, "postal.refused_spam", nil
	}
	if msg.To == "" {
		return nil, "", fail(KindPostal, reasonRecipient, "%s: %s.to is empty", b.Event, msgField)
	}

	a := newAttempt(KindPostal, rec)
	a.Recipient = msg.To
	a.Outcome = outcome
	a.Sender = reply.Clip(msg.From, 320)
	a.MessageID = reply.Clip(msg.MessageID, maxFieldBytes)
	if msg.Timestamp != "" {
		t, err := parseEpoch(string(msg.Timestamp))
		if err != nil {
			return nil, "", fail(KindPostal, reasonTime, "%s.timestamp: %v", msgField, err)
		}
		a.SentAt = t
	}
	var err error
	if a.OccurredAt, err = psTime(b, bounce); err != nil {
		return nil, "", err
	}
	a.DelaySeconds = delaySince(&a)
	a.EventID = psEventID(b, msg, bounce)

	m := meta{}
	m.set("esp.message_id", string(msg.ID))
	m.set("postal.token", msg.Token)
	m.set("postal.spam_status", msg.SpamStatus)
	switch {
	case bounce:
		a.SourceClassification = &event.SourceClassification{Scheme: KindPostal, Value: psEventBounced}
		// Postal sends the bounce mail's envelope, not its content: what
		// the remote server said is in the mail, which Postal keeps.
		// Details or output, when a bridge adds them, are the reason.
		if out := firstNonEmpty(pl.Output, pl.Details); out != "" {
			setReply(&a, out, "")
		}
		if bm := pl.Bounce; bm != nil {
			m.set("postal.bounce_id", string(bm.ID))
			m.set("postal.bounce_message_id", reply.Clip(bm.MessageID, maxFieldBytes))
			m.set("postal.bounce_from", bm.From)
			m.set("postal.bounce_subject", oneLine(bm.Subject))
		}
	case outcome == event.Dropped:
		// Postal's suppression list: not new evidence, so no reply and no
		// diagnostic for the classifier, only metadata.
		a.SourceClassification = &event.SourceClassification{Scheme: KindPostal, Value: status}
		m.set("esp.reason", oneLine(pl.Details))
	default:
		a.SourceClassification = &event.SourceClassification{Scheme: KindPostal, Value: status}
		// output is the remote server's reply (or the connection
		// errors); details is Postal's sentence about the attempt,
		// which names the server and is the diagnostic only when
		// there is no output ("No SMTP servers were available for …").
		if strings.TrimSpace(pl.Output) != "" {
			setReply(&a, pl.Output, "")
		} else {
			setReply(&a, pl.Details, "")
		}
		host, ip, from := psEndpoint(pl.Details)
		a.SMTP.RemoteHost = reply.Clip(host, 255)
		a.SMTP.RemoteIP = ip
		a.SendingIP = from
		m.set("postal.details", oneLine(pl.Details))
		if pl.SentWithSSL != nil {
			m.set("postal.sent_with_ssl", boolText(*pl.SentWithSSL))
		}
	}
	if d.campaign.tags && strings.TrimSpace(msg.Tag) != "" {
		setCampaign(&a, m, msg.Tag, campaignFromTag)
	}
	if msg.Tag != "" {
		m.set("esp.tags", joinTags([]string{msg.Tag}))
	}
	a.Metadata = m.clone()
	return []event.Attempt{a}, "", nil
}

// psTime is when the event happened: the delivery's own timestamp (for a
// bounce, when the bounce mail arrived), else the webhook's, which Postal
// sets when it queues the request, moments later.
func psTime(b *psBody, bounce bool) (time.Time, error) {
	own, field := b.Payload.Timestamp, "payload.timestamp"
	if bounce {
		own, field = "", ""
		if bm := b.Payload.Bounce; bm != nil {
			own, field = bm.Timestamp, "payload.bounce.timestamp"
		}
	}
	if own == "" {
		own, field = b.Timestamp, "timestamp"
	}
	if own == "" {
		return time.Time{}, fail(KindPostal, reasonTime, "%s has no timestamp (want Unix seconds in payload.timestamp or timestamp)", reply.Clip(b.Event, 64))
	}
	t, err := parseEpoch(string(own))
	if err != nil {
		return time.Time{}, fail(KindPostal, reasonTime, "%s: %v", field, err)
	}
	return t, nil
}

// psEventID is the natural key: the webhook request's uuid, the same on
// every retry of the request. Without one, the message and the delivery's
// time stand in (the "" part keeps the two forms apart).
func psEventID(b *psBody, msg *psMessage, bounce bool) string {
	if b.UUID != "" {
		return event.NaturalID(KindPostal, b.UUID)
	}
	when := string(b.Payload.Timestamp)
	if bounce && b.Payload.Bounce != nil {
		when = "bounce:" + string(b.Payload.Bounce.ID) + "/" + string(b.Payload.Bounce.Timestamp)
	}
	return event.NaturalID(KindPostal, "", string(msg.ID), msg.Token, b.Event, msg.To, when, string(b.Timestamp))
}

// psEndpoint reads the server Postal talked to out of its details text
// (app/senders/smtp_sender.rb, SMTPClient::Endpoint#description):
//
//	Message for a@example.org accepted by 203.0.113.5:25 (mx.example.org) (from 192.0.2.7)
//	Permanent SMTP delivery error when sending to 203.0.113.5:25 (mx.example.org)
//	Message sent by SMTP to mx.example.org (203.0.113.5) (from 192.0.2.7)   (Postal 1 and the docs)
//
// Each part is "" when the text does not say it; an address is returned
// only when it parses as one.
func psEndpoint(details string) (host, ip, from string) {
	var rest string
	for _, marker := range [...]string{" accepted by ", " sending to ", " the message to ", "sent by SMTP to "} {
		if i := strings.Index(details, marker); i >= 0 {
			rest = details[i+len(marker):]
			break
		}
	}
	a, rest, ok := strings.Cut(rest, " (")
	if !ok {
		return "", "", ""
	}
	b, rest, ok := strings.Cut(rest, ")")
	if !ok {
		return "", "", ""
	}
	if addr, ok := psAddr(a, true); ok {
		host, ip = b, addr
	} else if addr, ok := psAddr(b, false); ok {
		host, ip = a, addr
	}
	if f, ok := strings.CutPrefix(rest, " (from "); ok {
		if f, _, ok = strings.Cut(f, ")"); ok {
			from, _ = psAddr(f, false)
		}
	}
	return host, ip, from
}

// psAddr parses an IP address, with a ":port" after it when withPort (Postal
// writes IPv6 addresses with a port unbracketed: "2001:db8::1:25").
func psAddr(s string, withPort bool) (string, bool) {
	if withPort {
		if i := strings.LastIndexByte(s, ':'); i > 0 && digitsOrEmpty(s[i+1:]) && i+1 < len(s) {
			if a, err := netip.ParseAddr(s[:i]); err == nil {
				return a.String(), true
			}
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), true
	}
	return "", false
}

// ---------------------------------------------------------------- JSON

var (
	psBodyFields    = raw.NewFields("event", "timestamp", "uuid", "payload")
	psPayloadFields = raw.NewFields("message", "original_message", "bounce", "status", "details", "output",
		"sent_with_ssl", "timestamp")
	psMessageFields = raw.NewFields("id", "token", "direction", "message_id", "to", "from", "subject", "timestamp",
		"spam_status", "tag")
)

func readPSBody(r *raw.JSON, b *psBody) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(psBodyFields, &seen) {
		case 0:
			r.String(&b.Event)
		case 1:
			readFlex(r, &b.Timestamp)
		case 2:
			r.String(&b.UUID)
		case 3:
			readPtr(r, &b.Payload, readPSPayload)
		default:
			r.Skip()
		}
	}
}

func readPSPayload(r *raw.JSON, p *psPayload) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(psPayloadFields, &seen) {
		case 0:
			readPtr(r, &p.Message, readPSMessage)
		case 1:
			readPtr(r, &p.OriginalMessage, readPSMessage)
		case 2:
			readPtr(r, &p.Bounce, readPSMessage)
		case 3:
			r.String(&p.Status)
		case 4:
			r.String(&p.Details)
		case 5:
			r.String(&p.Output)
		case 6:
			readBoolPtr(r, &p.SentWithSSL)
		case 7:
			readFlex(r, &p.Timestamp)
		default:
			r.Skip()
		}
	}
}

func readPSMessage(r *raw.JSON, m *psMessage) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(psMessageFields, &seen) {
		case 0:
			readFlex(r, &m.ID)
		case 1:
			r.String(&m.Token)
		case 2:
			r.String(&m.Direction)
		case 3:
			r.String(&m.MessageID)
		case 4:
			r.String(&m.To)
		case 5:
			r.String(&m.From)
		case 6:
			r.String(&m.Subject)
		case 7:
			readFlex(r, &m.Timestamp)
		case 8:
			r.String(&m.SpamStatus)
		case 9:
			r.String(&m.Tag)
		default:
			r.Skip()
		}
	}
}
