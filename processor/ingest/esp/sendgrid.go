package esp

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// SendGrid decodes SendGrid Event Webhook bodies: a JSON array of events
// (formats.md §6). A single event object is accepted too, for bridges that
// split the batch.
type SendGrid struct {
	campaign campaignRule
}

// NewSendGrid builds the SendGrid decoder. cfg should have passed Validate.
func NewSendGrid(cfg Config) *SendGrid { return &SendGrid{campaign: newCampaignRule(cfg)} }

// Kind returns "sendgrid".
func (*SendGrid) Kind() string { return KindSendGrid }

// sgFields are the keys SendGrid itself defines. Every other top-level key is
// a custom arg (unique_args / custom_args are flattened into the event) and
// goes to metadata as "meta.<key>".
var sgFields = map[string]bool{
	"email": true, "timestamp": true, "event": true, "sg_event_id": true, "sg_message_id": true,
	"smtp-id": true, "category": true, "reason": true, "status": true, "response": true,
	"attempt": true, "type": true, "ip": true, "tls": true, "cert_err": true, "pool": true,
	"bounce_classification": true, "useragent": true, "url": true, "url_offset": true,
	"sg_machine_open": true, "sg_content_type": true, "sg_template_id": true, "sg_template_name": true,
}

// Skip reasons of SendGrid events that are not delivery attempts.
var sgSkips = map[string]string{
	"processed":         "sendgrid.processed", // accepted for sending; delivered or bounce follows
	"open":              "sendgrid.open",
	"click":             "sendgrid.click",
	"unsubscribe":       "sendgrid.unsubscribe",
	"group_unsubscribe": "sendgrid.group_unsubscribe",
	"group_resubscribe": "sendgrid.group_resubscribe",
}

// Decode turns one SendGrid body into one attempt per delivery event in it.
// A body whose events are all skipped returns their common skip reason, or
// "sendgrid.mixed" when they differ. One unreadable event fails the whole
// body: the body goes to the dead-letter topic as it arrived, and replaying
// it after a fix is safe because every event keeps its event id.
func (d *SendGrid) Decode(rec raw.Record) ([]event.Attempt, string, error) {
	events, err := readSendGrid(rec.Payload)
	if err != nil {
		return nil, "", err
	}
	return d.events(&rec, events)
}

// sgItem is one event of a body as read: the fields the decoder uses, the
// custom args (every top-level key SendGrid does not define, as JSON text),
// or why the event could not be read.
type sgItem struct {
	ev   sgEvent
	args []sgArg
	err  *eventError
}

type sgArg struct {
	key string
	val []byte
}

// readSendGrid reads a body: an array of events, or one event object,
// strictly (see readJSON): a repeated key in any event refuses the body.
func readSendGrid(payload []byte) ([]sgItem, error) { return readSendGridAs(payload, true) }

// readSendGridAs is readSendGrid, strict or not (as encoding/json).
func readSendGridAs(payload []byte, strict bool) ([]sgItem, error) {
	p := bytes.TrimSpace(payload)
	var r raw.JSON
	r.Reset(p)
	if strict {
		r.Strict()
	}
	switch {
	case len(p) > 0 && p[0] == '[':
		var items []sgItem
		for more := r.Array(); more; more = r.MoreElems() {
			items = append(items, sgItem{})
			it := &items[len(items)-1]
			if err := r.Value(func(r *raw.JSON) { readSGItem(r, it) }); err != nil && it.err == nil {
				it.err = sgErr(reasonJSON, err.Error())
			}
		}
		if err := r.Finish(); err != nil {
			return nil, jsonFail(KindSendGrid, err)
		}
		return items, nil
	case len(p) > 0 && p[0] == '{':
		var it sgItem
		readSGItem(&r, &it)
		if err := r.Finish(); err != nil {
			var se *raw.JSONSyntaxError
			if errors.As(err, &se) {
				it.err = sgErr(reasonJSON, "not a JSON object")
			} else {
				it.err = &eventError{reason: reasonJSON, msg: err.Error(), cause: err}
			}
		}
		return []sgItem{it}, nil
	}
	return nil, fail(KindSendGrid, reasonJSON, "body is neither a JSON array nor an object")
}

// readSGItem reads one event. Every top-level key SendGrid does not define
// is a custom arg; a custom arg that folds to a field name fills the field
// too, as it did when the event was read twice (as a map and as a struct).
func readSGItem(r *raw.JSON, it *sgItem) {
	switch r.Peek() {
	case '{', 'n':
	default:
		r.Skip()
		it.err = sgErr(reasonJSON, "not a JSON object")
		return
	}
	// A strict reader refuses a key that repeats one before it, exactly
	// or (for a field) under case folding: which value was meant is a
	// guess.
	var (
		fields uint64
		keys   map[string]bool
	)
	for more := r.Object(); more; more = r.More() {
		k := r.Key()
		i := sgEventFields.Index(k)
		if r.IsStrict() {
			if i >= 0 && fields&(1<<i) != 0 || keys[string(k)] {
				r.Duplicate()
			}
			if i >= 0 {
				fields |= 1 << i
			}
			if keys == nil {
				keys = map[string]bool{}
			}
			keys[string(k)] = true
		}
		if sgFields[string(k)] {
			readSGField(r, &it.ev, i)
			continue
		}
		v := r.Raw()
		it.args = append(it.args, sgArg{key: string(k), val: v})
		if i >= 0 && v != nil {
			var sub raw.JSON
			sub.Reset(v)
			if r.IsStrict() {
				sub.Strict()
			}
			readSGField(&sub, &it.ev, i)
			r.Merge(&sub)
		}
	}
}

var sgEventFields = raw.NewFields("email", "timestamp", "event", "sg_event_id", "sg_message_id", "smtp-id", "category",
	"reason", "status", "response", "attempt", "type", "ip", "bounce_classification", "pool")

func readSGField(r *raw.JSON, ev *sgEvent, i int) {
	switch i {
	case 0:
		r.String(&ev.Email)
	case 1:
		readFlex(r, &ev.Timestamp)
	case 2:
		r.String(&ev.Event)
	case 3:
		r.String(&ev.SGEventID)
	case 4:
		r.String(&ev.SGMessageID)
	case 5:
		r.String(&ev.SMTPID)
	case 6:
		readStrList(r, &ev.Category)
	case 7:
		r.String(&ev.Reason)
	case 8:
		r.String(&ev.Status)
	case 9:
		r.String(&ev.Response)
	case 10:
		readFlex(r, &ev.Attempt)
	case 11:
		r.String(&ev.Type)
	case 12:
		r.String(&ev.IP)
	case 13:
		r.String(&ev.BounceClassification)
	case 14:
		var seen raw.Keys
		for more := r.Object(); more; more = r.More() {
			if r.Field(nameField, &seen) == 0 {
				r.String(&ev.Pool.Name)
			} else {
				r.Skip()
			}
		}
	default:
		r.Skip()
	}
}

var nameField = raw.NewFields("name")

// events turns the events read into attempts.
func (d *SendGrid) events(rec *raw.Record, items []sgItem) ([]event.Attempt, string, error) {
	if len(items) == 0 {
		return nil, "sendgrid.empty", nil
	}
	var (
		out  []event.Attempt
		skip string
	)
	for i := range items {
		a, s, err := d.event(rec, &items[i])
		if err != nil {
			if err.cause != nil {
				return nil, "", fail(KindSendGrid, err.reason, "event %d: %w", i, err.cause)
			}
			return nil, "", fail(KindSendGrid, err.reason, "event %d: %s", i, err.msg)
		}
		if s != "" {
			switch {
			case skip == "":
				skip = s
			case skip != s:
				skip = "sendgrid.mixed"
			}
			continue
		}
		out = append(out, a)
	}
	if len(out) > 0 {
		return out, "", nil
	}
	return nil, skip, nil
}

// eventError carries an event's failure up to Decode, which adds the
// event's index and the kind prefix.
// cause, when set, is the reader's error, kept for errors.As (a
// *raw.JSONStrictError).
type eventError struct {
	reason, msg string
	cause       error
}

func sgErr(reason, msg string) *eventError { return &eventError{reason: reason, msg: msg} }

// sgEvent is what the decoder reads of one event besides custom args.
type sgEvent struct {
	Email                string  `json:"email"`
	Timestamp            flex    `json:"timestamp"`
	Event                string  `json:"event"`
	SGEventID            string  `json:"sg_event_id"`
	SGMessageID          string  `json:"sg_message_id"`
	SMTPID               string  `json:"smtp-id"`
	Category             strList `json:"category"`
	Reason               string  `json:"reason"`
	Status               string  `json:"status"`
	Response             string  `json:"response"`
	Attempt              flex    `json:"attempt"`
	Type                 string  `json:"type"`
	IP                   string  `json:"ip"`
	BounceClassification string  `json:"bounce_classification"`
	Pool                 struct {
		Name string `json:"name"`
	} `json:"pool"`
}

func (d *SendGrid) event(rec *raw.Record, it *sgItem) (event.Attempt, string, *eventError) {
	var a event.Attempt
	if it.err != nil {
		return a, "", it.err
	}
	ev := &it.ev
	var outcome event.Outcome
	switch ev.Event {
	case "delivered":
		outcome = event.Delivered
	case "spamreport":
		outcome = event.Complaint // a spam report, not a delivery (docs/formats.md)
	case "deferred":
		outcome = event.Deferred
	case "bounce":
		outcome = event.Bounced
	case "dropped":
		outcome = event.Dropped
	case "":
		return a, "", sgErr(reasonShape, "no event field")
	default:
		if s, ok := sgSkips[ev.Event]; ok {
			return a, s, nil
		}
		return a, "sendgrid.unknown_event", nil
	}
	if ev.Email == "" {
		return a, "", sgErr(reasonRecipient, ev.Event+" event without email")
	}
	t, err := parseEpoch(string(ev.Timestamp))
	if ev.Timestamp == "" || err != nil {
		return a, "", sgErr(reasonTime, "timestamp: missing or not Unix seconds")
	}

	a = newAttempt(KindSendGrid, rec)
	a.Recipient = ev.Email
	a.Outcome = outcome
	a.OccurredAt = t
	a.MessageID = reply.Clip(ev.SMTPID, maxFieldBytes)
	a.SendingIP = reply.Clip(ev.IP, 64)
	a.Pool = reply.Clip(ev.Pool.Name, 256)
	if ev.SGEventID != "" {
		a.EventID = event.NaturalID(KindSendGrid, ev.SGEventID)
	} else {
		// Old or hand-made events lack sg_event_id; the rest of the event
		// is the key then (the "" part keeps the two forms apart).
		a.EventID = event.NaturalID(KindSendGrid, "", ev.SGMessageID, ev.SMTPID, ev.Event, ev.Email, string(ev.Timestamp))
	}
	m := meta{}
	m.set("esp.message_id", ev.SGMessageID)

	switch ev.Event {
	case "delivered":
		setReply(&a, ev.Response, "")
	case "deferred":
		setReply(&a, ev.Response, "")
		if n, err := strconv.Atoi(string(ev.Attempt)); err == nil && n > 0 && n <= 100000 {
			a.Attempt = n
		}
	case "bounce":
		setReply(&a, ev.Reason, ev.Status)
		typ := ev.Type
		if typ == "" {
			typ = "bounce"
		}
		if ev.BounceClassification != "" {
			typ += "/" + ev.BounceClassification
		}
		a.SourceClassification = &event.SourceClassification{Scheme: KindSendGrid, Value: reply.Clip(typ, 256)}
	case "dropped":
		// SendGrid's own suppression (Bounced Address, Unsubscribed
		// Address, Spam Reporting Address, Invalid): no reply, the reason
		// only as metadata, so nothing but the outcome speaks to the
		// classifier.
		m.set("esp.reason", ev.Reason)
		m.set("esp.status", ev.Status)
		v := "dropped"
		if ev.Reason != "" {
			v += "/" + ev.Reason
		}
		a.SourceClassification = &event.SourceClassification{Scheme: KindSendGrid, Value: reply.Clip(v, 256)}
	case "spamreport":
		a.SourceClassification = &event.SourceClassification{Scheme: KindSendGrid, Value: "spamreport"}
	}

	args := make(map[string]string, len(it.args))
	for _, kv := range it.args {
		args[kv.key] = valueText(kv.val)
	}
	// args holds every key the core event format does not define: custom
	// args and the Marketing Campaigns fields (marketing_campaign_id,
	// singlesend_id), so a campaign key can name either.
	if id, ok := d.campaign.lookup(args); ok {
		setCampaign(&a, m, id, campaignFromMetadata)
	} else if d.campaign.tags && len(ev.Category) > 0 {
		setCampaign(&a, m, ev.Category[0], campaignFromTag)
	}
	m.set("esp.tags", joinTags(ev.Category))
	m.setAll("meta.", args)
	a.Metadata = m.clone()
	return a, "", nil
}

// joinTags writes a tag list as one metadata value, a JSON array: tags may
// hold commas, and one format for one tag or many is easier to query.
func joinTags(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	b := make([]byte, 0, 64)
	b = append(b, '[')
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	return string(append(b, ']'))
}
