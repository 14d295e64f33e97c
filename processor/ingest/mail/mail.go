package mail

import (
	"crypto/sha256"
	"encoding/hex"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Kind is the source kind of every attempt this package produces; it also
// prefixes skip and error reasons.
const Kind = "mail"

// Reasons a message is skipped: valid mail that reports no failure and no
// complaint.
const (
	SkipAutoReply   = "mail.auto_reply"                // an auto-reply (RFC 3834, out-of-office)
	SkipNotBounce   = "mail.not_a_bounce"              // a message that is none of the formats this package reads
	SkipDelivered   = "mail.delivery_report_delivered" // a DSN whose recipients were all delivered (NOTIFY=SUCCESS)
	SkipRelayed     = "mail.delivery_report_relayed"   // a DSN whose recipients were relayed or expanded beyond DSN reach
	SkipNotSpam     = "mail.not_spam_report"           // ARF Feedback-Type: not-spam (RFC 6430)
	SkipAuthFailure = "mail.auth_failure_report"       // ARF Feedback-Type: auth-failure (RFC 6591), a DMARC failure report
)

// Reasons a message cannot be decoded (the raw.Error reason).
const (
	ErrMalformed         = "mail.malformed"           // not an RFC 5322 message, or a report part that cannot be read
	ErrNoRecipient       = "mail.no_recipient"        // a bounce or complaint whose recipient cannot be told
	ErrTooManyParts      = "mail.too_many_parts"      // more MIME parts than ingest.mail.max_parts
	ErrTooDeep           = "mail.too_deep"            // multiparts nested deeper than ingest.mail.max_depth
	ErrTooManyRecipients = "mail.too_many_recipients" // more recipients than ingest.mail.max_recipients
	ErrHeaderTooLarge    = "mail.header_too_large"    // a header block longer than ingest.mail.max_header_bytes
	ErrTime              = "mail.invalid_time"        // no date in the message and no receive time
)

// Bounds of the texts an attempt carries.
const (
	maxTextBytes   = 4096 // smtp.text and diagnostic
	maxHeaderValue = 1024 // one header.<name> metadata value
	maxHeaderName  = 64
)

// Decoder turns bounce mails and complaint reports into attempts. It keeps
// no state: one Decoder may serve several goroutines.
type Decoder struct {
	cfg  Config
	verp *regexp.Regexp
}

// New builds a Decoder. cfg should have passed Validate; an invalid VERP
// pattern is treated as "off".
func New(cfg Config) *Decoder { return &Decoder{cfg: cfg, verp: cfg.verp()} }

// Decode turns one message into one attempt per failed recipient (or per
// complaining recipient), a skip reason, or a *raw.Error whose reason
// starts with "mail.".
func (d *Decoder) Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error) {
	as, skip, err := d.decode(rec)
	for i := range as {
		if as[i].OccurredAt.IsZero() {
			return nil, "", raw.Errorf(ErrTime, "the message has no valid Date, Last-Attempt-Date or Arrival-Date, and the record no receive time")
		}
	}
	return as, skip, err
}

func (d *Decoder) decode(rec raw.Record) ([]event.Attempt, string, error) {
	p, err := parse(&d.cfg, rec.Payload)
	if err != nil {
		return nil, "", err
	}
	m := d.message(rec, p)
	switch {
	case p.feedback != nil:
		return d.arf(m)
	case p.hasOrig && p.dsn == nil && p.orig.get("X-HmXmrOriginalRecipient") != "":
		// Microsoft's JMRP before ARF: the original attached, the
		// complaining recipient in X-HmXmrOriginalRecipient.
		return d.complaint(m, complaint{feedbackType: "abuse", recipients: []string{mailbox(p.orig.get("X-HmXmrOriginalRecipient"))}})
	case p.dsn != nil:
		as, skip, err := d.dsn(m)
		if err == nil || !errorIs(err, ErrNoRecipient) {
			return as, skip, err
		}
		// A DSN without readable recipients: its text may still name them.
		if as, err2 := d.text(m, true); err2 != nil || len(as) > 0 {
			return as, "", err2
		}
		return nil, "", err
	case p.reportType == "feedback-report":
		return nil, "", raw.Errorf(ErrMalformed, "a multipart/report of type feedback-report has no message/feedback-report part")
	}
	as, err := d.text(m, false)
	if err != nil || len(as) > 0 {
		return as, "", err
	}
	if isAutoReply(p.top) {
		return nil, SkipAutoReply, nil
	}
	if !looksLikeBounce(p.top) {
		return nil, SkipNotBounce, nil
	}
	if as, err := d.text(m, true); err != nil || len(as) > 0 {
		return as, "", err
	}
	return nil, "", raw.Errorf(ErrNoRecipient, "the message looks like a bounce (%s) but names no recipient this decoder can read; want a DSN (multipart/report) or a known bounce layout", bounceWhy(p.top))
}

// msg is one message being decoded, with what every attempt shares.
type msg struct {
	rec    raw.Record
	p      *parsed
	report string    // the human-readable text, without the copy of the original
	key    string    // the bounce's Message-ID, or a hash of the payload
	date   time.Time // the bounce's Date, zero when absent or invalid
	base   event.Attempt
}

func (d *Decoder) message(rec raw.Record, p *parsed) *msg {
	m := &msg{rec: rec, p: p}
	var orig string
	m.report, orig = cutOriginal(p.text)
	if !p.hasOrig && orig != "" {
		if oh, _, err := parseHeader([]byte(orig), d.cfg.maxHeaderBytes()); err == nil && len(oh) >= 2 {
			p.orig, p.hasOrig = oh, true
		}
	}
	m.key = strings.TrimSpace(p.top.get("Message-ID"))
	if m.key == "" {
		sum := sha256.Sum256(rec.Payload)
		m.key = "sha256:" + hex.EncodeToString(sum[:16])
	}
	m.date = parseDate(p.top.get("Date"))
	a := &m.base
	a.Source = event.Source{Kind: Kind, Host: rec.Host}
	if p.hasOrig {
		a.MessageID = clipID(strings.TrimSpace(collapse(p.orig.get("Message-ID"))))
		a.Sender = mailbox(p.orig.get("Return-Path"))
		if a.Sender == "" {
			a.Sender = mailbox(p.orig.get("From"))
		}
		a.SentAt = parseDate(p.orig.get("Date"))
		d.headerMetadata(a, p.orig)
	}
	return m
}

// noisyHeaders are trace and signature fields: long, numerous, and never
// where a campaign id is. They would use up the metadata budget.
var noisyHeaders = map[string]bool{
	"received": true, "x-received": true, "dkim-signature": true, "x-google-dkim-signature": true,
	"domainkey-signature": true, "authentication-results": true, "arc-seal": true,
	"arc-message-signature": true, "arc-authentication-results": true, "received-spf": true,
	"x-gm-message-state": true, "x-google-smtp-source": true, "x-ms-exchange-organization-network-message-id": true,
}

// headerMetadata keeps the original's header fields as "header.<name>"
// metadata (the first of each name, at most cfg.MaxHeaders), where ingest's
// campaign rules look for them.
func (d *Decoder) headerMetadata(a *event.Attempt, h header) {
	n := 0
	for _, f := range h {
		name := strings.ToLower(f.name)
		if noisyHeaders[name] || strings.HasPrefix(name, "arc-") || len(name) > maxHeaderName {
			continue
		}
		key := "header." + name
		if _, dup := a.Metadata[key]; dup {
			continue
		}
		if n == d.cfg.maxHeaders() {
			break
		}
		a.SetMetadata(key, text(decodeWords(collapse(f.value)), maxHeaderValue))
		n++
	}
}

// dsn decodes a delivery status notification.
func (d *Decoder) dsn(m *msg) ([]event.Attempt, string, error) {
	perMsg, blocks, err := dsnFields(m.p.dsn, &d.cfg)
	if err != nil {
		return nil, "", err
	}
	if len(blocks) == 0 {
		return nil, "", raw.Errorf(ErrNoRecipient, "the delivery-status part has no per-recipient block (Final-Recipient, Original-Recipient or Action)")
	}
	host := ""
	if h, ok := reply.CutType(collapse(perMsg.get("Reporting-MTA"))); ok {
		host = strings.TrimSuffix(h, ".")
	}
	arrival := parseDate(perMsg.get("Arrival-Date"))
	var out []event.Attempt
	skip := ""
	for _, b := range blocks {
		f := dsnFinding(b)
		if f.skip != "" {
			skip = cmpOr(skip, f.skip)
			continue
		}
		if f.outcome == "" {
			continue
		}
		if f.recipient == "" {
			f.recipient = d.verpRecipient(m)
		}
		if f.recipient == "" {
			continue
		}
		a := d.attempt(m, f, layoutDSN)
		if host != "" {
			a.Source.Host = text(host, 255)
		}
		a.SentAt = cmpTime(arrival, a.SentAt)
		if a.Diagnostic == "" && a.SMTP.Text == "" && a.Outcome != event.Deferred {
			// No Diagnostic-Code: the human-readable part is the only
			// description. Not for a delay warning: its text is the
			// MTA's boilerplate ("attempts will continue … will give
			// up"), which would read as an expiry that has not happened.
			a.Diagnostic = text(collapse(m.report), maxTextBytes)
		}
		if f.when.IsZero() {
			a.OccurredAt = cmpTime(m.date, arrival, a.OccurredAt)
		}
		d.finish(m, &a, f)
		out = append(out, a)
	}
	switch {
	case len(out) > 0:
		return out, "", nil
	case skip != "":
		return nil, skip, nil
	}
	return nil, "", raw.Errorf(ErrNoRecipient, "no per-recipient block of the delivery-status part has both a recipient (Final-Recipient or Original-Recipient of type rfc822) and a failure (Action failed or delayed, or a 4.x.x/5.x.x Status)")
}

// text decodes a non-standard bounce; generic also accepts the
// "<address>:" layout without a marker.
func (d *Decoder) text(m *msg, generic bool) ([]event.Attempt, error) {
	name, fs, err := textFindings(m.report, generic, &d.cfg)
	if err != nil || name == "" {
		return nil, err
	}
	if len(fs) == 0 {
		if r := d.verpRecipient(m); r != "" {
			fs = []finding{{recipient: r, diagnostic: collapse(m.report)}}
			for _, l := range layouts {
				if l.name == name {
					fs[0].outcome = l.outcome
					break
				}
			}
			if fs[0].outcome == "" {
				fs[0].outcome = event.Bounced
			}
		} else {
			return nil, raw.Errorf(ErrNoRecipient, "a %s bounce without a recipient this decoder can read, and no VERP envelope address (ingest.mail.verp)", name)
		}
	}
	out := make([]event.Attempt, 0, len(fs))
	for _, f := range fs {
		code, enh := reply.Find(f.diagnostic)
		f.code = code
		if enh.Valid() {
			f.enhanced = enh.String()
		}
		a := d.attempt(m, f, name)
		d.finish(m, &a, f)
		out = append(out, a)
	}
	return out, nil
}

// attempt builds one attempt from a finding and the message's shared
// fields.
func (d *Decoder) attempt(m *msg, f finding, layout string) event.Attempt {
	a := m.base
	a.Metadata = nil
	for k, v := range m.base.Metadata {
		a.SetMetadata(k, v)
	}
	a.Recipient = f.recipient
	a.Outcome = f.outcome
	a.SMTP = event.SMTP{
		Code:       f.code,
		Enhanced:   f.enhanced,
		Text:       text(f.text, maxTextBytes),
		RemoteHost: text(f.remoteHost, 255),
	}
	if !reply.ValidCode(a.SMTP.Code) {
		a.SMTP.Code = 0
	}
	a.Diagnostic = text(f.diagnostic, maxTextBytes)
	a.OccurredAt = cmpTime(f.when, m.date)
	a.SetMetadata("mail.layout", layout)
	return a
}

// finish sets what depends on the whole attempt: the time fallback, the
// VERP cross-check and the event id.
func (d *Decoder) finish(m *msg, a *event.Attempt, f finding) {
	if a.OccurredAt.IsZero() {
		a.OccurredAt = cmpTime(m.rec.Received.UTC(), m.rec.Time.UTC())
	}
	if !a.SentAt.IsZero() && (a.SentAt.After(a.OccurredAt) || !raw.ValidTime(a.SentAt)) {
		a.SentAt = time.Time{}
	}
	if v := d.verpRecipient(m); v != "" && !strings.EqualFold(v, a.Recipient) {
		// The address we sent to, as the envelope encodes it, differs
		// from the one the report names (forwarding, aliasing): kept as
		// evidence, the report's address stays the recipient.
		a.SetMetadata("mail.verp_recipient", v)
	}
	a.EventID = event.NaturalID(Kind, m.key, a.Recipient, string(a.Outcome), a.SMTP.Enhanced, f.action)
}

// verpRecipient decodes the recipient from a VERP envelope address: the
// original's Return-Path, else the bounce's Delivered-To, X-Original-To,
// Envelope-To, To (the address the bounce was sent to). "" when none matches.
func (d *Decoder) verpRecipient(m *msg) string {
	if d.verp == nil {
		return ""
	}
	var cands []string
	if m.p.hasOrig {
		cands = append(cands, m.p.orig.get("Return-Path"))
	}
	// Postfix's pipe adds Delivered-To and X-Original-To (flags D, O),
	// Exim's pipe transport Envelope-to (envelope_to_add).
	cands = append(cands, m.p.top.get("Delivered-To"), m.p.top.get("X-Original-To"), m.p.top.get("Envelope-To"), m.p.top.get("To"))
	for _, c := range cands {
		if r := decodeVERP(d.verp, mailbox(c)); r != "" {
			return r
		}
	}
	return ""
}

// decodeVERP applies the VERP pattern to one address.
func decodeVERP(re *regexp.Regexp, addr string) string {
	if addr == "" {
		return ""
	}
	sm := re.FindStringSubmatch(addr)
	if sm == nil {
		return ""
	}
	r := sm[re.SubexpIndex("local")] + "@" + sm[re.SubexpIndex("domain")]
	if !looksLikeAddress(r) {
		return ""
	}
	return r
}

// arf decodes an ARF feedback report.
func (d *Decoder) arf(m *msg) ([]event.Attempt, string, error) {
	c, err := readFeedback(m.p.feedback, &d.cfg)
	if err != nil {
		return nil, "", err
	}
	return d.complaint(m, c)
}

// complaint turns a feedback report into one complaint per recipient.
func (d *Decoder) complaint(m *msg, c complaint) ([]event.Attempt, string, error) {
	ft := c.feedbackType
	if ft == "" {
		ft = "abuse"
	}
	if skip := feedbackTypes[ft]; skip != "" {
		return nil, skip, nil
	}
	rcpts := c.recipients[:0:0]
	for _, r := range c.recipients {
		if r != "" {
			rcpts = append(rcpts, r)
		}
	}
	if len(rcpts) == 0 && m.p.hasOrig {
		// Yahoo and Microsoft redact Original-Rcpt-To; the original's
		// headers may still tell.
		if r := mailbox(m.p.orig.get("X-HmXmrOriginalRecipient")); r != "" {
			rcpts = append(rcpts, r)
		} else if r := d.verpRecipient(m); r != "" {
			rcpts = append(rcpts, r)
		} else if r := singleMailbox(m.p.orig.get("To")); r != "" {
			rcpts = append(rcpts, r)
		}
	}
	if len(rcpts) == 0 {
		return nil, "", raw.Errorf(ErrNoRecipient, "the feedback report has no Original-Rcpt-To, and the original message (if attached) names no single recipient in its To header or VERP Return-Path")
	}
	arrival := parseDate(c.arrival)
	out := make([]event.Attempt, 0, len(rcpts))
	for _, r := range rcpts {
		a := m.base
		a.Metadata = nil
		for k, v := range m.base.Metadata {
			a.SetMetadata(k, v)
		}
		a.Recipient = r
		a.Outcome = event.Complaint
		a.SourceClassification = &event.SourceClassification{Scheme: "arf", Value: text(ft, 64)}
		if c.mailFrom != "" {
			a.Sender = c.mailFrom
		}
		a.OccurredAt = cmpTime(m.date, arrival)
		if !arrival.IsZero() {
			a.SentAt = arrival
		}
		a.SetMetadata("mail.layout", "arf")
		a.SetMetadata("arf.feedback_type", text(ft, 64))
		if c.sourceIP != "" {
			a.SetMetadata("arf.source_ip", text(c.sourceIP, 64))
		}
		if c.reportedDomain != "" {
			a.SetMetadata("arf.reported_domain", text(c.reportedDomain, 255))
		}
		if c.userAgent != "" {
			a.SetMetadata("arf.user_agent", text(c.userAgent, 255))
		}
		d.finish(m, &a, finding{action: ft})
		out = append(out, a)
	}
	return out, "", nil
}

// singleMailbox returns the address of a header naming exactly one.
func singleMailbox(v string) string {
	list, err := netmail.ParseAddressList(v)
	if err != nil || len(list) != 1 {
		if !strings.Contains(v, ",") {
			return mailbox(v)
		}
		return ""
	}
	if looksLikeAddress(list[0].Address) {
		return list[0].Address
	}
	return ""
}

// text makes an untrusted text safe to store: controls masked, cut to n
// bytes on a rune boundary.
func text(s string, n int) string {
	return reply.Clip(reply.Clean(strings.TrimSpace(s)), n)
}

// clipID keeps an id only if it is storable as one: ids cannot be
// rewritten, so one with control characters is dropped, not masked.
func clipID(s string) string {
	if len(s) > 998 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return ""
		}
	}
	if reply.Clean(s) != s {
		return ""
	}
	return s
}

// parseDate reads an RFC 5322 date as bounces write them (with a comment,
// without a weekday, with a named zone); zero when it is not one, or is
// outside the years bounced accepts.
func parseDate(s string) time.Time {
	s = collapse(s)
	if s == "" {
		return time.Time{}
	}
	t, err := netmail.ParseDate(s)
	if err != nil {
		if i := strings.LastIndexByte(s, '('); i > 0 {
			t, err = netmail.ParseDate(strings.TrimSpace(s[:i]))
		}
	}
	if err != nil {
		for _, layout := range []string{time.RFC3339, "Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 -0700", "Mon Jan 2 15:04:05 2006"} {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
	}
	if err != nil || !raw.ValidTime(t) {
		return time.Time{}
	}
	return t.UTC()
}

// cmpTime returns the first non-zero time.
func cmpTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// errorIs reports whether err is a *raw.Error with the reason.
func errorIs(err error, reason string) bool {
	re, ok := err.(*raw.Error)
	return ok && re.Reason == reason
}
