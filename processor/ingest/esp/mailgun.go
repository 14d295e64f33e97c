package esp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Mailgun decodes Mailgun webhook bodies in the v3 JSON form
// {"signature": {...}, "event-data": {...}}, or a bare event-data object (as
// the Events API returns it). The legacy form-encoded webhooks are not JSON
// and are refused.
type Mailgun struct {
	campaign campaignRule
}

// NewMailgun builds the Mailgun decoder. cfg should have passed Validate.
func NewMailgun(cfg Config) *Mailgun { return &Mailgun{campaign: newCampaignRule(cfg)} }

// Kind returns "mailgun".
func (*Mailgun) Kind() string { return KindMailgun }

// mgBody is the envelope or, when EventData is absent, the bare event: the
// envelope has only "signature" and "event-data", so one decode reads both.
type mgBody struct {
	EventData *mgEvent `json:"event-data"`
	mgEvent
}

type mgEvent struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Timestamp flex   `json:"timestamp"`
	Severity  string `json:"severity"`
	Reason    string `json:"reason"`
	Recipient string `json:"recipient"`
	Envelope  struct {
		Sender    string `json:"sender"`
		SendingIP string `json:"sending-ip"`
	} `json:"envelope"`
	Message struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
	Tags           strList                    `json:"tags"`
	Campaigns      []json.RawMessage          `json:"campaigns"`
	UserVariables  map[string]json.RawMessage `json:"user-variables"`
	DeliveryStatus struct {
		Code         flex   `json:"code"`
		Message      string `json:"message"`
		Description  string `json:"description"`
		EnhancedCode string `json:"enhanced-code"`
		AttemptNo    flex   `json:"attempt-no"`
		MxHost       string `json:"mx-host"`
	} `json:"delivery-status"`
}

// Skip reasons of Mailgun events that are not delivery attempts.
var mgSkips = map[string]string{
	"accepted":                 "mailgun.accepted", // queued; delivered or failed follows
	"rejected":                 "mailgun.rejected", // refused at submission: no recipient was tried
	"opened":                   "mailgun.opened",
	"clicked":                  "mailgun.clicked",
	"unsubscribed":             "mailgun.unsubscribed",
	"stored":                   "mailgun.stored",
	"list_member_uploaded":     "mailgun.list_member_uploaded",
	"list_member_upload_error": "mailgun.list_member_upload_error",
	"list_uploaded":            "mailgun.list_uploaded",
}

// Decode turns one Mailgun event into at most one attempt.
func (d *Mailgun) Decode(rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindMailgun, reasonJSON, "body is not a JSON object (legacy form-encoded webhooks are not supported)")
	}
	var body mgBody
	if err := readJSON(p, &body, readMGBody); err != nil {
		return nil, "", jsonFail(KindMailgun, err)
	}
	return d.event(&rec, &body)
}

// event turns a decoded body into an attempt.
func (d *Mailgun) event(rec *raw.Record, body *mgBody) ([]event.Attempt, string, error) {
	ev := &body.mgEvent
	if body.EventData != nil {
		ev = body.EventData
	}
	var outcome event.Outcome
	switch ev.Event {
	case "delivered":
		outcome = event.Delivered
	case "complained":
		// A spam report about a delivered message: its own outcome, so it
		// never counts as a delivery (docs/formats.md).
		outcome = event.Complaint
	case "failed":
		outcome = mgFailed(ev.Severity, ev.Reason)
	case "":
		return nil, "", fail(KindMailgun, reasonShape, "no event-data.event")
	default:
		if s, ok := mgSkips[ev.Event]; ok {
			return nil, s, nil
		}
		return nil, "mailgun.unknown_event", nil
	}
	if ev.Recipient == "" {
		return nil, "", fail(KindMailgun, reasonRecipient, "%s event without recipient", ev.Event)
	}
	t, err := parseEpoch(string(ev.Timestamp))
	if ev.Timestamp == "" || err != nil {
		return nil, "", fail(KindMailgun, reasonTime, "event-data.timestamp: missing or not Unix seconds")
	}

	a := newAttempt(KindMailgun, rec)
	a.Recipient = ev.Recipient
	a.Outcome = outcome
	a.OccurredAt = t
	a.Sender = reply.Clip(ev.Envelope.Sender, 320)
	a.SendingIP = reply.Clip(ev.Envelope.SendingIP, 64)
	a.MessageID = reply.Clip(ev.Message.Headers.MessageID, maxFieldBytes)
	ds := &ev.DeliveryStatus
	attemptNo, _ := strconv.Atoi(string(ds.AttemptNo))
	if attemptNo > 0 && attemptNo <= 100000 {
		a.Attempt = attemptNo
	}
	if ev.ID != "" {
		// Mailgun promises event ids unique within a day only; the
		// timestamp makes the key unique for good.
		a.EventID = event.NaturalID(KindMailgun, ev.ID, ev.Recipient, string(ev.Timestamp))
	} else {
		a.EventID = event.NaturalID(KindMailgun, "", ev.Message.Headers.MessageID, ev.Event, ev.Recipient, string(ev.Timestamp), string(ds.AttemptNo))
	}
	m := meta{}
	code, err := mgCode(string(ds.Code))
	if err != nil {
		return nil, "", err
	}
	switch {
	case ev.Event == "complained":
		a.SourceClassification = &event.SourceClassification{Scheme: KindMailgun, Value: "complained"}
	case outcome == event.Dropped:
		// Mailgun's own suppression list: not new evidence, so no reply
		// and no diagnostic for the classifier, only metadata.
		m.set("esp.code", string(ds.Code))
		m.set("esp.reason", oneLine(firstNonEmpty(ds.Description, ds.Message)))
	default:
		mgReply(&a, m, code, string(ds.Code), ds.Message, ds.Description, ds.EnhancedCode)
		a.SMTP.RemoteHost = reply.Clip(ds.MxHost, 255)
	}
	if ev.Event == "failed" {
		v := ev.Severity
		if ev.Reason != "" {
			v += "/" + ev.Reason
		}
		a.SourceClassification = &event.SourceClassification{Scheme: KindMailgun, Value: reply.Clip(v, 256)}
	}

	vars := make(map[string]string, len(ev.UserVariables))
	for k, v := range ev.UserVariables {
		vars[k] = valueText(v)
	}
	if id, ok := d.campaign.lookup(vars); ok {
		setCampaign(&a, m, id, campaignFromMetadata)
	} else if d.campaign.tags {
		if id := mgCampaign(ev.Campaigns); id != "" {
			setCampaign(&a, m, id, campaignFromTag)
		} else if len(ev.Tags) > 0 {
			setCampaign(&a, m, ev.Tags[0], campaignFromTag)
		}
	}
	m.set("esp.tags", joinTags(ev.Tags))
	m.setAll("meta.", vars)
	a.Metadata = m.clone()
	return []event.Attempt{a}, "", nil
}

// mgCode reads delivery-status.code: empty (or null) is no code; an
// integer 0..999 is an SMTP reply code or one of Mailgun's own (498, 605),
// which mgReply tells apart. Anything else (99999, -1, 550.5, true) is no
// code of any kind: refused with the reason an out-of-range smtp.code gets
// in a canonical record, so the same junk fares the same in every format.
func mgCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 0 || code > 999 {
		return 0, raw.Errorf(reasonSchema, "/smtp/code: Mailgun's delivery-status.code %q is not a reply code; want an integer 0..999 (an SMTP code, or one of Mailgun's own such as 605)", reply.Clip(s, 40))
	}
	return code, nil
}

// mgFailed maps a failed event: severity temporary means Mailgun retries
// (deferred), permanent that it gave up (bounced); reason suppress-* that it
// never tried because the address is on its suppression lists (dropped),
// and reason old that it gave up after retrying for too long (expired).
func mgFailed(severity, reason string) event.Outcome {
	switch {
	case strings.HasPrefix(reason, "suppress-"):
		return event.Dropped
	case severity == "temporary":
		return event.Deferred
	case reason == "old":
		return event.Expired
	}
	return event.Bounced
}

// mgReply fills the reply from delivery-status. code is only an SMTP reply
// when it looks like one; Mailgun's own codes (498 "No MX", 6xx) go to
// metadata, and then the message is Mailgun's prose, not the remote
// server's, so it is the diagnostic only.
func mgReply(a *event.Attempt, m meta, code int, codeText, message, description, enhanced string) {
	r := reply.ParseDiagnostic(message)
	if reply.ValidCode(code) {
		a.SMTP.Code = code
		a.SMTP.Text = r.Text
		a.SMTP.Enhanced = r.Enhanced
	} else {
		m.set("esp.code", codeText)
	}
	if e := enhancedOf(enhanced); e != "" {
		a.SMTP.Enhanced = e
	}
	// The diagnostic is all the prose once: Mailgun often repeats the
	// message in the description.
	desc, msg := oneLine(description), oneLine(message)
	switch {
	case desc == "":
		a.Diagnostic = msg
	case msg == "" || strings.Contains(desc, msg):
		a.Diagnostic = desc
	case strings.Contains(msg, desc):
		a.Diagnostic = msg
	default:
		a.Diagnostic = desc + "; " + msg
	}
}

// mgCampaign returns the id (or else the name) of the first of Mailgun's
// legacy campaigns, which are listed as objects or plain strings.
func mgCampaign(cs []json.RawMessage) string {
	for _, c := range cs {
		if s, ok := scalar(c); ok && s != "" {
			return s
		}
		var o mgLegacyCampaign
		if readJSON(c, &o, readMGLegacyCampaign) == nil {
			if id := firstNonEmpty(string(o.ID), o.Name); id != "" {
				return id
			}
		}
	}
	return ""
}

type mgLegacyCampaign struct {
	ID   flex   `json:"id"`
	Name string `json:"name"`
}

var mgLegacyCampaignFields = raw.NewFields("id", "name")

func readMGLegacyCampaign(r *raw.JSON, o *mgLegacyCampaign) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(mgLegacyCampaignFields, &seen) {
		case 0:
			readFlex(r, &o.ID)
		case 1:
			r.String(&o.Name)
		default:
			r.Skip()
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// ---------------------------------------------------------------- JSON

var mgBodyFields = raw.NewFields("event-data", "id", "event", "timestamp", "severity", "reason", "recipient",
	"envelope", "message", "tags", "campaigns", "user-variables", "delivery-status")

func readMGBody(r *raw.JSON, b *mgBody) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch i := r.Field(mgBodyFields, &seen); i {
		case 0:
			readPtr(r, &b.EventData, readMGEvent)
		case -1:
			r.Skip()
		default:
			readMGEventField(r, &b.mgEvent, i-1)
		}
	}
}

var mgEventFields = raw.NewFields("id", "event", "timestamp", "severity", "reason", "recipient",
	"envelope", "message", "tags", "campaigns", "user-variables", "delivery-status")

func readMGEvent(r *raw.JSON, ev *mgEvent) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		readMGEventField(r, ev, r.Field(mgEventFields, &seen))
	}
}

var (
	mgEnvelopeFields       = raw.NewFields("sender", "sending-ip")
	mgMessageFields        = raw.NewFields("headers")
	mgHeadersFields        = raw.NewFields("message-id")
	mgDeliveryStatusFields = raw.NewFields("code", "message", "description", "enhanced-code", "attempt-no", "mx-host")
)

func readMGEventField(r *raw.JSON, ev *mgEvent, i int) {
	switch i {
	case 0:
		r.String(&ev.ID)
	case 1:
		r.String(&ev.Event)
	case 2:
		readFlex(r, &ev.Timestamp)
	case 3:
		r.String(&ev.Severity)
	case 4:
		r.String(&ev.Reason)
	case 5:
		r.String(&ev.Recipient)
	case 6:
		var seen raw.Keys
		for more := r.Object(); more; more = r.More() {
			switch r.Field(mgEnvelopeFields, &seen) {
			case 0:
				r.String(&ev.Envelope.Sender)
			case 1:
				r.String(&ev.Envelope.SendingIP)
			default:
				r.Skip()
			}
		}
	case 7:
		var seen raw.Keys
		for more := r.Object(); more; more = r.More() {
			if r.Field(mgMessageFields, &seen) != 0 {
				r.Skip()
				continue
			}
			var seen raw.Keys
			for more := r.Object(); more; more = r.More() {
				if r.Field(mgHeadersFields, &seen) == 0 {
					r.String(&ev.Message.Headers.MessageID)
				} else {
					r.Skip()
				}
			}
		}
	case 8:
		readStrList(r, &ev.Tags)
	case 9:
		readSlice(r, &ev.Campaigns, readRaw)
	case 10:
		readMap(r, &ev.UserVariables, readRaw)
	case 11:
		readMGDeliveryStatus(r, ev)
	default:
		r.Skip()
	}
}

func readMGDeliveryStatus(r *raw.JSON, ev *mgEvent) {
	ds := &ev.DeliveryStatus
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(mgDeliveryStatusFields, &seen) {
		case 0:
			readFlex(r, &ds.Code)
		case 1:
			r.String(&ds.Message)
		case 2:
			r.String(&ds.Description)
		case 3:
			r.String(&ds.EnhancedCode)
		case 4:
			readFlex(r, &ds.AttemptNo)
		case 5:
			r.String(&ds.MxHost)
		default:
			r.Skip()
		}
	}
}
