package esp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// SES decodes Amazon SES notifications: SNS-wrapped (the SES event is a JSON
// string in the envelope's Message) or raw (SNS raw message delivery, or an
// event-publishing destination), with notificationType (identity
// notifications) or eventType (configuration-set event publishing).
type SES struct {
	campaign campaignRule
}

// NewSES builds the SES decoder. cfg should have passed Validate.
func NewSES(cfg Config) *SES { return &SES{campaign: newCampaignRule(cfg)} }

// Kind returns "ses".
func (*SES) Kind() string { return KindSES }

// sesBody is either an SNS envelope or a bare SES event: the envelope's
// fields and the event's are disjoint, so one decode reads both shapes.
type sesBody struct {
	Type      string          `json:"Type"`
	MessageID string          `json:"MessageId"`
	Message   json.RawMessage `json:"Message"`
	Timestamp string          `json:"Timestamp"`
	sesEvent
}

type sesEvent struct {
	NotificationType string        `json:"notificationType"`
	EventType        string        `json:"eventType"`
	Mail             sesMail       `json:"mail"`
	Bounce           *sesBounce    `json:"bounce"`
	Complaint        *sesComplaint `json:"complaint"`
	Delivery         *sesDelivery  `json:"delivery"`
	DeliveryDelay    *sesDelay     `json:"deliveryDelay"`
}

type sesMail struct {
	Timestamp        string      `json:"timestamp"`
	MessageID        string      `json:"messageId"`
	Source           string      `json:"source"`
	SourceIP         string      `json:"sourceIp"`
	SendingAccountID string      `json:"sendingAccountId"`
	Headers          []sesHeader `json:"headers"`
	CommonHeaders    struct {
		MessageID string `json:"messageId"`
	} `json:"commonHeaders"`
	Tags map[string]strList `json:"tags"`
}

type sesHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type sesBounce struct {
	BounceType        string         `json:"bounceType"`
	BounceSubType     string         `json:"bounceSubType"`
	BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
	Timestamp         string         `json:"timestamp"`
	FeedbackID        string         `json:"feedbackId"`
	RemoteMtaIP       string         `json:"remoteMtaIp"`
	ReportingMTA      string         `json:"reportingMTA"`
}

type sesComplaint struct {
	ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
	Timestamp             string         `json:"timestamp"`
	FeedbackID            string         `json:"feedbackId"`
	ComplaintSubType      string         `json:"complaintSubType"`
	ComplaintFeedbackType string         `json:"complaintFeedbackType"`
}

type sesDelivery struct {
	Timestamp            string   `json:"timestamp"`
	ProcessingTimeMillis flex     `json:"processingTimeMillis"`
	Recipients           []string `json:"recipients"`
	SMTPResponse         string   `json:"smtpResponse"`
	RemoteMtaIP          string   `json:"remoteMtaIp"`
	ReportingMTA         string   `json:"reportingMTA"`
}

type sesDelay struct {
	DelayType         string         `json:"delayType"`
	DelayedRecipients []sesRecipient `json:"delayedRecipients"`
	ExpirationTime    string         `json:"expirationTime"`
	ReportingMTA      string         `json:"reportingMTA"`
	Timestamp         string         `json:"timestamp"`
}

// Skip reasons of SES bodies that are valid but carry no delivery attempt.
var sesSkips = map[string]string{
	"Send":                           "ses.send",
	"Reject":                         "ses.reject", // refused before sending (virus): no recipient was tried
	"Open":                           "ses.open",
	"Click":                          "ses.click",
	"Rendering Failure":              "ses.rendering_failure",
	"Subscription":                   "ses.subscription",
	"Received":                       "ses.received", // inbound mail, not ours
	"AmazonSnsSubscriptionSucceeded": "ses.subscription_succeeded",
}

// The SES bounce subtypes that mean SES refused to send because of a
// suppression list: not new evidence about the address (formats.md §8.9).
func sesSuppressed(subType string) bool {
	return subType == "Suppressed" || subType == "OnAccountSuppressionList"
}

// Decode turns one SES notification into one attempt per recipient it names.
func (d *SES) Decode(rec raw.Record) ([]event.Attempt, string, error) {
	var body sesBody
	if err := readJSON(rec.Payload, &body, readSESBody); err != nil {
		return nil, "", jsonFail(KindSES, err)
	}
	return d.notification(&rec, &body)
}

// notification turns a decoded body into attempts.
func (d *SES) notification(rec *raw.Record, body *sesBody) ([]event.Attempt, string, error) {
	ev, snsID := &body.sesEvent, ""
	if body.Type != "" {
		switch body.Type {
		case "Notification":
		case "SubscriptionConfirmation":
			return nil, "ses.subscription_confirmation", nil
		case "UnsubscribeConfirmation":
			return nil, "ses.unsubscribe_confirmation", nil
		default:
			return nil, "", fail(KindSES, reasonShape, "SNS Type %q is not Notification", reply.Clip(body.Type, 64))
		}
		inner, err := sesMessage(body.Message)
		if err != nil {
			return nil, "", err
		}
		ev, snsID = inner, body.MessageID
	}
	typ := ev.EventType
	if typ == "" {
		typ = ev.NotificationType
	}
	switch typ {
	case "Bounce":
		if ev.Bounce == nil {
			return nil, "", fail(KindSES, reasonShape, "Bounce without a bounce object")
		}
		return d.bounce(rec, ev, snsID)
	case "Complaint":
		if ev.Complaint == nil {
			return nil, "", fail(KindSES, reasonShape, "Complaint without a complaint object")
		}
		return d.complaint(rec, ev, snsID)
	case "Delivery":
		if ev.Delivery == nil {
			return nil, "", fail(KindSES, reasonShape, "Delivery without a delivery object")
		}
		return d.delivery(rec, ev, snsID)
	case "DeliveryDelay":
		if ev.DeliveryDelay == nil {
			return nil, "", fail(KindSES, reasonShape, "DeliveryDelay without a deliveryDelay object")
		}
		return d.delay(rec, ev, snsID)
	case "":
		return nil, "", fail(KindSES, reasonShape, "neither an SNS envelope nor an SES event (no Type, notificationType or eventType)")
	}
	if s, ok := sesSkips[typ]; ok {
		return nil, s, nil
	}
	// A type SES added after this was written: count it, do not dead-letter
	// it (SES reserves the right to add types and fields).
	return nil, "ses.unknown_event", nil
}

// sesMessage decodes the SNS Message: a JSON string holding the SES event
// (the normal case, often with a trailing newline), or the event object
// itself when a bridge already decoded it.
func sesMessage(msg json.RawMessage) (*sesEvent, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || string(msg) == "null" {
		return nil, fail(KindSES, reasonShape, "SNS Notification without a Message")
	}
	if msg[0] == '"' {
		s, ok := raw.JSONStringBytes(msg)
		if !ok {
			return nil, fail(KindSES, reasonJSON, "SNS Message is not a JSON string")
		}
		msg = s
	}
	var ev sesEvent
	if err := readJSON(msg, &ev, readSESEvent); err != nil {
		var se *raw.JSONStrictError
		if errors.As(err, &se) {
			// Well-formed, but read with a guess: the same reason as
			// the same flaw outside the Message.
			return nil, fail(KindSES, reasonJSON, "SNS Message: %w", err)
		}
		return nil, fail(KindSES, "sns_message", "SNS Message is not an SES event: %v", err)
	}
	return &ev, nil
}

// common builds what all of a notification's attempts share: sender, ids,
// send time, campaign and metadata.
func (d *SES) common(rec *raw.Record, ev *sesEvent) (event.Attempt, meta, error) {
	a := newAttempt(KindSES, rec)
	m := meta{}
	mail := &ev.Mail
	a.Sender = reply.Clip(mail.Source, 320)
	a.MessageID = reply.Clip(mail.MessageID, maxFieldBytes)
	if mail.Timestamp != "" {
		t, err := parseTime(mail.Timestamp)
		if err != nil {
			return a, nil, fail(KindSES, reasonTime, "mail.timestamp: %v", err)
		}
		a.SentAt = t
	}
	hdrID := mail.CommonHeaders.MessageID
	headers := make(map[string]string, 4)
	for _, h := range mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") && hdrID == "" {
			hdrID = h.Value
		}
		// Keep the first value of a repeated header: campaign headers are
		// set once, and Received-style repeats are of no use here.
		if _, ok := headers[h.Name]; !ok {
			headers[h.Name] = h.Value
		}
	}
	m.set("header.message-id", reply.Clip(hdrID, maxFieldBytes))
	tags := make(map[string]string, len(mail.Tags))
	for k, v := range mail.Tags {
		tags[k] = strings.Join(v, ",")
	}
	// The outgoing IP of a dedicated-IP sender, an SES auto tag in event
	// publishing. mail.sourceIp is the API caller's address, not the sending
	// IP, so it goes to metadata only: block alerts per sending IP must not
	// blame an application server.
	if ip := tags["ses:outgoing-ip"]; ip != "" {
		a.SendingIP = reply.Clip(ip, 64)
	}
	m.set("ses.source_ip", mail.SourceIP)
	m.set("ses.sending_account_id", mail.SendingAccountID)
	if id, ok := d.campaign.lookup(tags); ok {
		setCampaign(&a, m, id, campaignFromTag)
	} else if id, ok := d.campaign.lookup(headers); ok {
		setCampaign(&a, m, id, campaignFromHeader)
	}
	m.setAll("tag.", tags)
	return a, m, nil
}

// sesTime picks the event's own timestamp, falling back to the SNS envelope's
// publication time and then to the send time.
func sesTime(kind string, own string, a *event.Attempt) (time.Time, error) {
	if own == "" {
		if !a.SentAt.IsZero() {
			return a.SentAt, nil
		}
		return time.Time{}, fail(KindSES, reasonTime, "%s has no timestamp", kind)
	}
	t, err := parseTime(own)
	if err != nil {
		return t, fail(KindSES, reasonTime, "%s.timestamp: %v", kind, err)
	}
	return t, nil
}

// sesKey is the natural key of an SES event (formats.md §0.2): SES's own
// feedbackId where the event has one (bounces and complaints; the same
// bounce arriving through two topics or both SNS and raw delivery then
// dedupes), else the SNS MessageId, else the message, type and time.
func sesKey(feedbackID, snsID string, ev *sesEvent, typ, ts string) string {
	switch {
	case feedbackID != "":
		return "fb:" + feedbackID
	case snsID != "":
		return "sns:" + snsID
	}
	return "mail:" + ev.Mail.MessageID + "/" + typ + "/" + ts
}

// delaySince is the time between queueing and this event, when both are
// known and in order.
func delaySince(a *event.Attempt) float64 {
	if a.SentAt.IsZero() || a.OccurredAt.Before(a.SentAt) {
		return 0
	}
	return a.OccurredAt.Sub(a.SentAt).Seconds()
}

// bounce: one attempt per bounced recipient; the other recipients of the
// message did not bounce (formats.md §6). Permanent, Transient and
// Undetermined bounces are all outcome bounced: SES notifies a bounce only
// once it has stopped trying (formats.md §0.4). Suppression subtypes are
// outcome dropped.
func (d *SES) bounce(rec *raw.Record, ev *sesEvent, snsID string) ([]event.Attempt, string, error) {
	b := ev.Bounce
	if len(b.BouncedRecipients) == 0 {
		return nil, "", fail(KindSES, reasonRecipient, "bounce lists no bouncedRecipients")
	}
	base, m, err := d.common(rec, ev)
	if err != nil {
		return nil, "", err
	}
	if base.OccurredAt, err = sesTime("bounce", b.Timestamp, &base); err != nil {
		return nil, "", err
	}
	base.DelaySeconds = delaySince(&base)
	cls := b.BounceType
	if b.BounceSubType != "" {
		cls += "/" + b.BounceSubType
	}
	m.set("ses.feedback_id", b.FeedbackID)
	m.set("ses.reporting_mta", b.ReportingMTA)
	dropped := sesSuppressed(b.BounceSubType)
	out := make([]event.Attempt, 0, len(b.BouncedRecipients))
	for i := range b.BouncedRecipients {
		r := &b.BouncedRecipients[i]
		if r.EmailAddress == "" {
			return nil, "", fail(KindSES, reasonRecipient, "bouncedRecipients[%d] has no emailAddress", i)
		}
		a := base
		a.Recipient = r.EmailAddress
		a.EventID = event.NaturalID(KindSES, sesKey(b.FeedbackID, snsID, ev, "Bounce", b.Timestamp), r.EmailAddress)
		a.SourceClassification = &event.SourceClassification{Scheme: "ses", Value: reply.Clip(cls, 256)}
		rm := meta{}
		if dropped {
			a.Outcome = event.Dropped
			rm.set("esp.status", r.Status)
			rm.set("esp.reason", oneLine(r.DiagnosticCode))
		} else {
			a.Outcome = event.Bounced
			setReply(&a, r.DiagnosticCode, r.Status)
			a.SMTP.RemoteIP = reply.Clip(b.RemoteMtaIP, 64)
		}
		rm.set("dsn.action", r.Action)
		a.Metadata = merge(rm, m)
		out = append(out, a)
	}
	return out, "", nil
}

// merge gives an attempt the body's metadata plus its own entries.
func merge(own, shared meta) map[string]string {
	for k, v := range shared {
		own.set(k, v)
	}
	return own.clone()
}

// complaint: one attempt per complained recipient, outcome complaint (a
// spam report about a message that arrived: never a delivery or an attempt
// in the counts, docs/formats.md), with the ses_complaint classification kept as
// evidence. complaintSubType OnAccountSuppressionList means SES did not send
// at all because the address is on the account's suppression list: that is
// an upstream suppression, outcome dropped, and deliberately not under the
// "ses_complaint" scheme, which would make it a new complaint. A
// complaintFeedbackType of not-spam is the opposite of a complaint: skipped
// as "ses.not_spam".
func (d *SES) complaint(rec *raw.Record, ev *sesEvent, snsID string) ([]event.Attempt, string, error) {
	c := ev.Complaint
	if len(c.ComplainedRecipients) == 0 {
		return nil, "", fail(KindSES, reasonRecipient, "complaint lists no complainedRecipients")
	}
	base, m, err := d.common(rec, ev)
	if err != nil {
		return nil, "", err
	}
	if base.OccurredAt, err = sesTime("complaint", c.Timestamp, &base); err != nil {
		return nil, "", err
	}
	m.set("ses.feedback_id", c.FeedbackID)
	sc := event.SourceClassification{Scheme: "ses_complaint", Value: "complaint"}
	outcome := event.Complaint
	if c.ComplaintFeedbackType != "" {
		sc.Value = reply.Clip(c.ComplaintFeedbackType, 256)
	}
	switch {
	case sesSuppressed(c.ComplaintSubType):
		sc = event.SourceClassification{Scheme: "ses", Value: "Complaint/" + c.ComplaintSubType}
		outcome = event.Dropped
	case strings.EqualFold(c.ComplaintFeedbackType, "not-spam"):
		// The recipient said the message is not spam: no complaint, and
		// not a delivery either (the delivery was its own event), so it is
		// skipped and counted.
		return nil, "ses.not_spam", nil
	}
	out := make([]event.Attempt, 0, len(c.ComplainedRecipients))
	for i := range c.ComplainedRecipients {
		r := &c.ComplainedRecipients[i]
		if r.EmailAddress == "" {
			return nil, "", fail(KindSES, reasonRecipient, "complainedRecipients[%d] has no emailAddress", i)
		}
		a := base
		a.Recipient = r.EmailAddress
		a.Outcome = outcome
		a.EventID = event.NaturalID(KindSES, sesKey(c.FeedbackID, snsID, ev, "Complaint", c.Timestamp), r.EmailAddress)
		cls := sc
		a.SourceClassification = &cls
		a.Metadata = m.clone()
		out = append(out, a)
	}
	return out, "", nil
}

// delivery: one delivered attempt per recipient, with the remote server's
// reply.
func (d *SES) delivery(rec *raw.Record, ev *sesEvent, snsID string) ([]event.Attempt, string, error) {
	dl := ev.Delivery
	if len(dl.Recipients) == 0 {
		return nil, "", fail(KindSES, reasonRecipient, "delivery lists no recipients")
	}
	base, m, err := d.common(rec, ev)
	if err != nil {
		return nil, "", err
	}
	if base.OccurredAt, err = sesTime("delivery", dl.Timestamp, &base); err != nil {
		return nil, "", err
	}
	// SES measures the time from accepting the request to the remote
	// server's acceptance itself; it is the better delay.
	if ms, err := strconv.ParseFloat(string(dl.ProcessingTimeMillis), 64); err == nil && ms >= 0 {
		base.DelaySeconds = ms / 1000
	} else {
		base.DelaySeconds = delaySince(&base)
	}
	setReply(&base, dl.SMTPResponse, "")
	base.SMTP.RemoteIP = reply.Clip(dl.RemoteMtaIP, 64)
	m.set("ses.reporting_mta", dl.ReportingMTA)
	out := make([]event.Attempt, 0, len(dl.Recipients))
	for i, r := range dl.Recipients {
		if r == "" {
			return nil, "", fail(KindSES, reasonRecipient, "delivery.recipients[%d] is empty", i)
		}
		a := base
		a.Recipient = r
		a.Outcome = event.Delivered
		a.EventID = event.NaturalID(KindSES, sesKey("", snsID, ev, "Delivery", dl.Timestamp), r)
		a.Metadata = m.clone()
		out = append(out, a)
	}
	return out, "", nil
}

// delay: one deferred attempt per delayed recipient; SES keeps trying until
// expirationTime.
func (d *SES) delay(rec *raw.Record, ev *sesEvent, snsID string) ([]event.Attempt, string, error) {
	dd := ev.DeliveryDelay
	if len(dd.DelayedRecipients) == 0 {
		return nil, "", fail(KindSES, reasonRecipient, "deliveryDelay lists no delayedRecipients")
	}
	base, m, err := d.common(rec, ev)
	if err != nil {
		return nil, "", err
	}
	if base.OccurredAt, err = sesTime("deliveryDelay", dd.Timestamp, &base); err != nil {
		return nil, "", err
	}
	base.DelaySeconds = delaySince(&base)
	m.set("ses.reporting_mta", dd.ReportingMTA)
	m.set("ses.expiration_time", dd.ExpirationTime)
	out := make([]event.Attempt, 0, len(dd.DelayedRecipients))
	for i := range dd.DelayedRecipients {
		r := &dd.DelayedRecipients[i]
		if r.EmailAddress == "" {
			return nil, "", fail(KindSES, reasonRecipient, "delayedRecipients[%d] has no emailAddress", i)
		}
		a := base
		a.Recipient = r.EmailAddress
		a.Outcome = event.Deferred
		a.EventID = event.NaturalID(KindSES, sesKey("", snsID, ev, "DeliveryDelay", dd.Timestamp), r.EmailAddress)
		if dd.DelayType != "" {
			a.SourceClassification = &event.SourceClassification{Scheme: "ses_delay", Value: reply.Clip(dd.DelayType, 256)}
		}
		setReply(&a, r.DiagnosticCode, r.Status)
		rm := meta{}
		rm.set("dsn.action", r.Action)
		a.Metadata = merge(rm, m)
		out = append(out, a)
	}
	return out, "", nil
}

// ---------------------------------------------------------------- JSON

var sesBodyFields = raw.NewFields("Type", "MessageId", "Message", "Timestamp",
	"notificationType", "eventType", "mail", "bounce", "complaint", "delivery", "deliveryDelay")

func readSESBody(r *raw.JSON, b *sesBody) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch i := r.Field(sesBodyFields, &seen); i {
		case 0:
			r.String(&b.Type)
		case 1:
			r.String(&b.MessageID)
		case 2:
			readRaw(r, &b.Message)
		case 3:
			r.String(&b.Timestamp)
		case -1:
			r.Skip()
		default:
			readSESEventField(r, &b.sesEvent, i-4)
		}
	}
}

var sesEventFields = raw.NewFields("notificationType", "eventType", "mail", "bounce", "complaint", "delivery", "deliveryDelay")

func readSESEvent(r *raw.JSON, ev *sesEvent) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		readSESEventField(r, ev, r.Field(sesEventFields, &seen))
	}
}

func readSESEventField(r *raw.JSON, ev *sesEvent, i int) {
	switch i {
	case 0:
		r.String(&ev.NotificationType)
	case 1:
		r.String(&ev.EventType)
	case 2:
		readSESMail(r, &ev.Mail)
	case 3:
		readPtr(r, &ev.Bounce, readSESBounce)
	case 4:
		readPtr(r, &ev.Complaint, readSESComplaint)
	case 5:
		readPtr(r, &ev.Delivery, readSESDelivery)
	case 6:
		readPtr(r, &ev.DeliveryDelay, readSESDelay)
	default:
		r.Skip()
	}
}

var sesMailFields = raw.NewFields("timestamp", "messageId", "source", "sourceIp", "sendingAccountId", "headers", "commonHeaders", "tags")

func readSESMail(r *raw.JSON, m *sesMail) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesMailFields, &seen) {
		case 0:
			r.String(&m.Timestamp)
		case 1:
			r.String(&m.MessageID)
		case 2:
			r.String(&m.Source)
		case 3:
			r.String(&m.SourceIP)
		case 4:
			r.String(&m.SendingAccountID)
		case 5:
			readSlice(r, &m.Headers, readSESHeader)
		case 6:
			var seen raw.Keys
			for more := r.Object(); more; more = r.More() {
				if r.Field(messageIDField, &seen) == 0 {
					r.String(&m.CommonHeaders.MessageID)
				} else {
					r.Skip()
				}
			}
		case 7:
			readMap(r, &m.Tags, readStrList)
		default:
			r.Skip()
		}
	}
}

var messageIDField = raw.NewFields("messageId")

var sesHeaderFields = raw.NewFields("name", "value")

func readSESHeader(r *raw.JSON, h *sesHeader) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesHeaderFields, &seen) {
		case 0:
			r.String(&h.Name)
		case 1:
			r.String(&h.Value)
		default:
			r.Skip()
		}
	}
}

var sesRecipientFields = raw.NewFields("emailAddress", "action", "status", "diagnosticCode")

func readSESRecipient(r *raw.JSON, rc *sesRecipient) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesRecipientFields, &seen) {
		case 0:
			r.String(&rc.EmailAddress)
		case 1:
			r.String(&rc.Action)
		case 2:
			r.String(&rc.Status)
		case 3:
			r.String(&rc.DiagnosticCode)
		default:
			r.Skip()
		}
	}
}

var sesBounceFields = raw.NewFields("bounceType", "bounceSubType", "bouncedRecipients", "timestamp", "feedbackId", "remoteMtaIp", "reportingMTA")

func readSESBounce(r *raw.JSON, b *sesBounce) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesBounceFields, &seen) {
		case 0:
			r.String(&b.BounceType)
		case 1:
			r.String(&b.BounceSubType)
		case 2:
			readSlice(r, &b.BouncedRecipients, readSESRecipient)
		case 3:
			r.String(&b.Timestamp)
		case 4:
			r.String(&b.FeedbackID)
		case 5:
			r.String(&b.RemoteMtaIP)
		case 6:
			r.String(&b.ReportingMTA)
		default:
			r.Skip()
		}
	}
}

var sesComplaintFields = raw.NewFields("complainedRecipients", "timestamp", "feedbackId", "complaintSubType", "complaintFeedbackType")

func readSESComplaint(r *raw.JSON, c *sesComplaint) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesComplaintFields, &seen) {
		case 0:
			readSlice(r, &c.ComplainedRecipients, readSESRecipient)
		case 1:
			r.String(&c.Timestamp)
		case 2:
			r.String(&c.FeedbackID)
		case 3:
			r.String(&c.ComplaintSubType)
		case 4:
			r.String(&c.ComplaintFeedbackType)
		default:
			r.Skip()
		}
	}
}

var sesDeliveryFields = raw.NewFields("timestamp", "processingTimeMillis", "recipients", "smtpResponse", "remoteMtaIp", "reportingMTA")

func readSESDelivery(r *raw.JSON, dl *sesDelivery) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesDeliveryFields, &seen) {
		case 0:
			r.String(&dl.Timestamp)
		case 1:
			readFlex(r, &dl.ProcessingTimeMillis)
		case 2:
			readSlice(r, &dl.Recipients, readString)
		case 3:
			r.String(&dl.SMTPResponse)
		case 4:
			r.String(&dl.RemoteMtaIP)
		case 5:
			r.String(&dl.ReportingMTA)
		default:
			r.Skip()
		}
	}
}

var sesDelayFields = raw.NewFields("delayType", "delayedRecipients", "expirationTime", "reportingMTA", "timestamp")

func readSESDelay(r *raw.JSON, dd *sesDelay) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(sesDelayFields, &seen) {
		case 0:
			r.String(&dd.DelayType)
		case 1:
			readSlice(r, &dd.DelayedRecipients, readSESRecipient)
		case 2:
			r.String(&dd.ExpirationTime)
		case 3:
			r.String(&dd.ReportingMTA)
		case 4:
			r.String(&dd.Timestamp)
		default:
			r.Skip()
		}
	}
}
