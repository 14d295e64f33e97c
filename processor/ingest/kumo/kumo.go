// Package kumo decodes KumoMTA JSON log records (docs/reference/log_record.md)
// into canonical attempts (docs/formats.md, research/formats.md §4).
//
// A record is one JSON object, as written to the local log segments or
// published by a log hook to Kafka. Delivery outcomes (Delivery, Bounce,
// TransientFailure, Delayed, Expiration, AdminBounce, OOB) and complaints
// (Feedback) become one attempt per recipient; records about other things
// (Reception, Rejection, transfers between nodes, rebinds) are skipped with a
// reason. The decoder keeps no state.
package kumo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Kind is the source kind of every attempt this package produces; it also
// prefixes skip and error reasons.
const Kind = "kumomta"

// Reasons a record is skipped: valid records that are not delivery attempts.
const (
	SkipReception      = "kumomta.reception"             // a message was received
	SkipRejection      = "kumomta.rejection"             // an incoming message was refused
	SkipXferOut        = "kumomta.xfer_out"              // moved to another node; its outcome is logged there
	SkipXferIn         = "kumomta.xfer_in"               // received from another node
	SkipAdminRebind    = "kumomta.admin_rebind"          // moved to another queue by an operator
	SkipInjectRebind   = "kumomta.injection_rebind"      // DeferredInjectionRebind: queue chosen after reception
	SkipFeedbackNoRcpt = "kumomta.feedback_unattributed" // a complaint that names no recipient (no X-KumoRef trace, no Original-Rcpt-To)
)

// Reasons a record cannot be decoded (the raw.Error reason).
const (
	ErrUnparsable  = "kumomta.unparsable"   // not a JSON object, or a field of the wrong type
	ErrUnknownType = "kumomta.unknown_type" // a type this package does not know
	ErrRecipient   = "kumomta.no_recipient" // an attempt record without a recipient
	ErrTime        = "kumomta.invalid_time" // no timestamp, or one out of range
)

// maxQuoted bounds the untrusted text an error message quotes.
const maxQuoted = 40

// Config tunes the KumoMTA decoder. The zero value is valid.
type Config struct {
	// CampaignMeta names a meta key (configure_local_logs{meta=…}) whose
	// value is the campaign id, for senders that do not put the campaign in
	// the queue name. Default none: the queue's campaign part is used.
	CampaignMeta string `koanf:"campaign_meta"`
	// TenantMeta names a meta key whose value is the tenant. Default none:
	// the queue's tenant part is used.
	TenantMeta string `koanf:"tenant_meta"`
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if strings.TrimSpace(c.CampaignMeta) != c.CampaignMeta {
		return fmt.Errorf("ingest.kumomta.campaign_meta: %q has surrounding spaces", c.CampaignMeta)
	}
	if strings.TrimSpace(c.TenantMeta) != c.TenantMeta {
		return fmt.Errorf("ingest.kumomta.tenant_meta: %q has surrounding spaces", c.TenantMeta)
	}
	return nil
}

// Decoder turns KumoMTA log records into attempts. Unlike the Exim and
// PowerMTA decoders it keeps no state: every record stands alone, so one
// Decoder may serve several goroutines and needs no Snapshot.
type Decoder struct {
	cfg Config
}

// New builds a Decoder.
func New(cfg Config) *Decoder { return &Decoder{cfg: cfg} }

// record is the part of a KumoMTA log record this package reads.
type record struct {
	Type                 string          `json:"type"`
	ID                   string          `json:"id"`
	Sender               string          `json:"sender"`
	Recipient            json.RawMessage `json:"recipient"`
	Queue                string          `json:"queue"`
	Response             response        `json:"response"`
	PeerAddress          *peer           `json:"peer_address"`
	Timestamp            json.Number     `json:"timestamp"`
	EventTime            string          `json:"event_time"`
	Created              json.Number     `json:"created"`
	CreatedTime          string          `json:"created_time"`
	NumAttempts          int             `json:"num_attempts"`
	BounceClassification string          `json:"bounce_classification"`
	EgressPool           string          `json:"egress_pool"`
	EgressSource         string          `json:"egress_source"`
	SourceAddress        *sourceAddress  `json:"source_address"`
	FeedbackReport       json.RawMessage `json:"feedback_report"` // read for Feedback only
	Meta                 map[string]any  `json:"meta"`
	Headers              map[string]any  `json:"headers"`
	NodeID               string          `json:"nodeid"`
}

type response struct {
	Code         int           `json:"code"`
	EnhancedCode *enhancedCode `json:"enhanced_code"`
	Content      string        `json:"content"`
	Command      string        `json:"command"`
}

type enhancedCode struct {
	Class   int `json:"class"`
	Subject int `json:"subject"`
	Detail  int `json:"detail"`
}

type peer struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

type sourceAddress struct {
	Address string `json:"address"`
}

// feedbackReport is the ARF report of a Feedback record, as far as it is
// used here.
type feedbackReport struct {
	FeedbackType      string         `json:"feedback_type"`
	OriginalRcptTo    any            `json:"original_rcpt_to"`
	OriginalMailFrom  any            `json:"original_mail_from"`
	SupplementalTrace map[string]any `json:"supplemental_trace"`
}

// Decode turns one record into one attempt per recipient, a skip reason, or
// a *raw.Error whose reason starts with "kumomta.".
func (d *Decoder) Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error) {
	var r record
	if err := readRecord(rec.Payload, &r); err != nil {
		return nil, "", err
	}
	return d.record(rec, &r)
}

// record turns a decoded record into attempts.
func (d *Decoder) record(rec raw.Record, r *record) (attempts []event.Attempt, skip string, err error) {
	var a event.Attempt
	switch r.Type {
	case "Delivery":
		a.Outcome = event.Delivered
	case "Bounce":
		a.Outcome = event.Bounced
	case "TransientFailure", "Delayed":
		a.Outcome = event.Deferred
	case "Expiration":
		a.Outcome = event.Expired
	case "AdminBounce":
		// An operator bounced the queue: final, but not the recipient's
		// doing.
		a.Outcome = event.Bounced
		a.SetMetadata("admin", "true")
	case "OOB":
		// An asynchronous DSN that arrived after the message was accepted:
		// a final bounce that overrides the earlier delivery.
		a.Outcome = event.Bounced
		a.SetMetadata("async", "true")
	case "Feedback":
		// An ARF complaint about a delivered message.
		a.Outcome = event.Delivered
		a.SourceClassification = &event.SourceClassification{Scheme: "kumomta_feedback", Value: "complaint"}
	case "Reception":
		return nil, SkipReception, nil
	case "Rejection":
		return nil, SkipRejection, nil
	case "XferOut":
		return nil, SkipXferOut, nil
	case "XferIn":
		return nil, SkipXferIn, nil
	case "AdminRebind":
		return nil, SkipAdminRebind, nil
	case "DeferredInjectionRebind":
		return nil, SkipInjectRebind, nil
	case "":
		return nil, "", raw.Errorf(ErrUnparsable, "no type: not a KumoMTA log record")
	default:
		return nil, "", raw.Errorf(ErrUnknownType, "type %q", reply.Elide(r.Type, maxQuoted))
	}

	if r.Type == "Feedback" {
		return d.feedback(rec, r, a)
	}
	rcpts, err := recipients(r.Recipient)
	if err != nil {
		return nil, "", err
	}
	if len(rcpts) == 0 {
		return nil, "", raw.Errorf(ErrRecipient, "%s record without a recipient", r.Type)
	}

	if a.OccurredAt, err = when(r.EventTime, r.Timestamp); err != nil {
		return nil, "", raw.Errorf(ErrTime, "%v", err)
	}
	if a.OccurredAt.IsZero() {
		return nil, "", raw.Errorf(ErrTime, "no timestamp or event_time")
	}
	if sent, err := when(r.CreatedTime, r.Created); err == nil && !sent.IsZero() {
		a.SentAt = sent
		if delay := a.OccurredAt.Sub(sent).Seconds(); delay > 0 {
			a.DelaySeconds = delay
		}
	}
	host := rec.Host
	if host == "" {
		host = r.NodeID
	}
	a.Source = event.Source{Kind: Kind, Host: host}
	a.Sender = r.Sender
	a.QueueID = r.ID
	a.Attempt = r.NumAttempts
	a.CampaignID, a.Tenant = queueParts(r.Queue)
	a.Pool = r.EgressPool
	a.SendingIP = sendingIP(*r)
	if r.EgressSource != "" && a.SendingIP != r.EgressSource {
		a.SetMetadata("egress_source", r.EgressSource)
	}
	if c := r.BounceClassification; c != "" && c != "Uncategorized" && a.SourceClassification == nil {
		// Uncategorized is KumoMTA's "no rule matched", not a verdict.
		a.SourceClassification = &event.SourceClassification{Scheme: "kumomta", Value: c}
	}

	resp := r.Response
	a.SMTP.Code = resp.Code
	if ec := resp.EnhancedCode; ec != nil && ec.Class > 0 {
		// Kept only when it is an RFC 3463 code: a malformed one from the
		// peer must not cost the attempt.
		if e := strconv.Itoa(ec.Class) + "." + strconv.Itoa(ec.Subject) + "." + strconv.Itoa(ec.Detail); reply.ValidEnhanced(e) {
			a.SMTP.Enhanced = e
		}
	}
	a.SMTP.Text = resp.Content
	a.SMTP.Command = command(resp.Command)
	if r.PeerAddress != nil {
		a.SMTP.RemoteHost, a.SMTP.RemoteIP = r.PeerAddress.Name, r.PeerAddress.Addr
	}
	a.Diagnostic = resp.Content
	internal := strings.HasPrefix(resp.Content, "KumoMTA internal")
	if a.SMTP.Command == "" && a.SMTP.Code >= 400 && a.SMTP.RemoteIP != "" && !internal &&
		(r.Type == "TransientFailure" || r.Type == "Bounce") {
		// A remote reply logged with no command answered no command:
		// it is the greeting (a 421 or 554 banner).
		a.SMTP.Command = "CONNECT"
	}
	if internal {
		// Our own MTA failed (spool, DNS resolver, policy error): the
		// code is synthesized and says nothing about the recipient.
		a.SetMetadata("local_failure", "true")
	}

	for k, v := range r.Headers {
		s := text(v)
		a.SetMetadata("header."+strings.ToLower(k), s)
		if strings.EqualFold(k, "Message-ID") {
			a.MessageID = s
		}
	}
	for k, v := range r.Meta {
		a.SetMetadata("meta."+k, text(v))
	}
	if d.cfg.CampaignMeta != "" {
		if v, ok := r.Meta[d.cfg.CampaignMeta]; ok {
			a.CampaignID = text(v)
		}
	}
	if d.cfg.TenantMeta != "" {
		if v, ok := r.Meta[d.cfg.TenantMeta]; ok {
			a.Tenant = text(v)
		}
	}

	return fanOut(r, a, rcpts), "", nil
}

// fanOut copies a to one attempt per recipient, each with its event id.
func fanOut(r *record, a event.Attempt, rcpts []string) []event.Attempt {
	ts, attempts := string(r.Timestamp), strconv.Itoa(r.NumAttempts)
	out := make([]event.Attempt, len(rcpts))
	for i, rc := range rcpts {
		out[i] = a
		if i > 0 && a.Metadata != nil {
			// Each attempt owns its map: later stages may add to it.
			out[i].Metadata = make(map[string]string, len(a.Metadata))
			for k, v := range a.Metadata {
				out[i].Metadata[k] = v
			}
		}
		out[i].Recipient = rc
		out[i].EventID = event.NaturalID(Kind, r.ID, r.Type, rc, ts, attempts, r.EventTime)
	}
	return out
}

// feedback decodes a Feedback record. KumoMTA logs it for the reception of
// an ARF report, so the record's own sender, recipient, queue, peer and
// headers are the report's (the provider's abuse desk writing to our FBL
// mailbox). The complaining recipient comes from the report: the X-KumoRef
// trace KumoMTA added when it sent the original message, else the report's
// Original-Rcpt-To. The report's spool id is kept as metadata, not as the
// queue id: it does not identify the original send.
func (d *Decoder) feedback(rec raw.Record, r *record, a event.Attempt) ([]event.Attempt, string, error) {
	var fr feedbackReport
	if len(r.FeedbackReport) > 0 {
		if err := readFeedbackReport(r.FeedbackReport, &fr); err != nil {
			return nil, "", raw.Errorf(ErrUnparsable, "feedback_report: %w", err)
		}
	}
	var rcpts []string
	if v, ok := fr.SupplementalTrace["recipient"]; ok {
		rcpts = strs(v)
	}
	if len(rcpts) == 0 {
		rcpts = strs(fr.OriginalRcptTo)
	}
	if len(rcpts) == 0 {
		return nil, SkipFeedbackNoRcpt, nil
	}
	var err error
	if a.OccurredAt, err = when(r.EventTime, r.Timestamp); err != nil {
		return nil, "", raw.Errorf(ErrTime, "%v", err)
	}
	if a.OccurredAt.IsZero() {
		return nil, "", raw.Errorf(ErrTime, "no timestamp or event_time")
	}
	host := rec.Host
	if host == "" {
		host = r.NodeID
	}
	a.Source = event.Source{Kind: Kind, Host: host}
	if s := strs(fr.OriginalMailFrom); len(s) > 0 {
		a.Sender = s[0]
	}
	if fr.FeedbackType != "" {
		a.SetMetadata("feedback_type", fr.FeedbackType)
	}
	if r.ID != "" {
		a.SetMetadata("feedback_id", r.ID)
	}
	// include_meta_names puts the original message's meta into the trace.
	for k, v := range fr.SupplementalTrace {
		if k == "recipient" {
			continue
		}
		a.SetMetadata("meta."+k, text(v))
	}
	if v, ok := fr.SupplementalTrace[cmp.Or(d.cfg.CampaignMeta, "campaign")]; ok {
		a.CampaignID = text(v)
	}
	if v, ok := fr.SupplementalTrace[cmp.Or(d.cfg.TenantMeta, "tenant")]; ok {
		a.Tenant = text(v)
	}
	return fanOut(r, a, rcpts), "", nil
}

// recipients reads "recipient": a string, or since 2025.12.02 an array of
// strings (batched SMTP delivered one message to several recipients).
func recipients(m json.RawMessage) ([]string, error) {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || string(m) == "null" {
		return nil, nil
	}
	switch m[0] {
	case '"':
		s, ok := raw.JSONString(m)
		if !ok {
			return nil, raw.Errorf(ErrUnparsable, "recipient is not a JSON string")
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	case '[':
		ss := []string{}
		var jr raw.JSON
		jr.Reset(m)
		jr.Strict()
		for more := jr.Array(); more; more = jr.MoreElems() {
			var s string
			jr.String(&s)
			ss = append(ss, s)
		}
		if err := jr.Finish(); err != nil {
			return nil, raw.Errorf(ErrUnparsable, "recipient: %v", err)
		}
		out := ss[:0]
		for _, s := range ss {
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, raw.Errorf(ErrUnparsable, "recipient is neither a string nor an array")
}

// when reads an RFC 3339 time (event_time, created_time), else an epoch
// (timestamp, created: seconds, possibly fractional).
func when(rfc string, epoch json.Number) (time.Time, error) {
	if rfc != "" {
		t, err := time.Parse(time.RFC3339Nano, rfc)
		if err == nil {
			return t.UTC(), nil
		}
		if epoch == "" {
			return time.Time{}, fmt.Errorf("%q is not RFC 3339", reply.Elide(rfc, maxQuoted))
		}
	}
	if epoch == "" {
		return time.Time{}, nil
	}
	f, err := epoch.Float64()
	if err != nil || f < 0 || f > 1<<40 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("epoch %q out of range", reply.Elide(string(epoch), maxQuoted))
	}
	if n, err := epoch.Int64(); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), nil
}

// queueParts splits a scheduled queue name "campaign:tenant@domain" (each
// part but the domain optional; "!routing_domain" may follow) into its
// campaign and tenant.
func queueParts(q string) (campaign, tenant string) {
	q, _, _ = strings.Cut(q, "!")
	at := strings.LastIndexByte(q, '@')
	if at < 0 {
		// "campaign:domain" or a bare domain.
		if c, _, ok := strings.Cut(q, ":"); ok {
			return c, ""
		}
		return "", ""
	}
	prefix := q[:at]
	if c, t, ok := strings.Cut(prefix, ":"); ok {
		return c, t
	}
	return "", prefix
}

// sendingIP is the local address the attempt left from: source_address
// when the record has it, else egress_source when that is written as an
// address (it is usually a source name such as "ip-1").
func sendingIP(r record) string {
	if r.SourceAddress != nil && r.SourceAddress.Address != "" {
		addr := r.SourceAddress.Address
		if strings.HasPrefix(addr, "[") { // [v6]:port
			if end := strings.IndexByte(addr, ']'); end > 0 {
				return addr[1:end]
			}
		}
		if strings.Count(addr, ":") == 1 {
			addr, _, _ = strings.Cut(addr, ":")
		}
		return addr
	}
	if looksLikeIP(r.EgressSource) {
		return r.EgressSource
	}
	return ""
}

func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '.' || c == ':' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return strings.Count(s, ".") == 3 || strings.Count(s, ":") >= 2
}

// command names the SMTP stage in the canonical vocabulary. KumoMTA logs the
// command as sent ("RCPT TO:<a@b>\r\n", ".\r\n" for the end of data).
func command(s string) string {
	s = strings.TrimSpace(s)
	u := strings.ToUpper(s)
	switch {
	case u == "":
		return ""
	case u == ".":
		return "END-OF-DATA"
	case strings.HasPrefix(u, "RCPT TO"):
		return "RCPT TO"
	case strings.HasPrefix(u, "MAIL FROM"):
		return "MAIL FROM"
	}
	w, _, _ := strings.Cut(u, " ")
	return w
}

// text renders a meta or header value as a string: strings as they are,
// anything else as its JSON.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// strs reads a string or an array of strings from a decoded value.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
