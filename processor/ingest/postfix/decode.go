package postfix

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Kind is Source.Kind of every attempt this adapter emits.
const Kind = "postfix"

// Skip reasons: the record is a valid Postfix line that is not a delivery
// attempt. They are stable tokens (metric labels).
const (
	SkipPickup        = "postfix.pickup"          // pickup "uid= from=": sender and queue time noted
	SkipCleanup       = "postfix.cleanup"         // cleanup message-id= and milter/header_checks actions
	SkipHeader        = "postfix.header"          // header_checks INFO/WARN: header kept as metadata
	SkipQmgr          = "postfix.qmgr"            // qmgr "from=, size=, nrcpt= (queue active)"
	SkipRemoved       = "postfix.removed"         // "QID: removed": the message's state is dropped
	SkipBounce        = "postfix.bounce"          // postfix/bounce "... notification: NEWQID": NEWQID marked as a DSN
	SkipBounceMessage = "postfix.bounce_message"  // a delivery of a DSN/bounce message (null sender)
	SkipReinjected    = "postfix.reinjected"      // hand-off to a content filter; the re-injected copy counts
	SkipVerify        = "postfix.verify"          // address verification probe (deliverable/undeliverable)
	SkipExpiredNone   = "postfix.expired_unknown" // qmgr expiry of a message with no deferred recipient on record (state started late)
	SkipSMTPD         = "postfix.smtpd"           // smtpd "QID: client=" and other inbound queue lines
	SkipSession       = "postfix.session"         // per-message SMTP client detail; a status line follows
	SkipConnect       = "postfix.connect"         // connection-level lines without a queue id
	SkipNoQueue       = "postfix.noqueue"         // "NOQUEUE: reject: ...": inbound rejections
	SkipOther         = "postfix.other"           // other Postfix daemon lines (warnings, statistics, start-up)
	SkipForeign       = "postfix.foreign"         // a program that is not Postfix (amavis, dovecot ... in the same log)
)

// Error reasons: the line cannot be understood (it goes to the DLQ).
const (
	ReasonEmpty        = "postfix.empty"        // nothing in the payload
	ReasonStatusLine   = "postfix.status_line"  // a "to=" line without a readable status, recipient or delay
	ReasonStatus       = "postfix.status"       // a status word this adapter does not know
	ReasonNoTime       = "postfix.no_time"      // a status line without a log time: no occurred_at
	ReasonUnrecognised = "postfix.unrecognised" // no program and no Postfix shape
	ReasonMalformed    = "postfix.malformed"    // a delivery status line (status=) without its queue id or its to=, or with two to=
)

// maxQuoted bounds the untrusted text an error message quotes.
const maxQuoted = 80

// Decoder turns Postfix lines into attempts, correlating lines by host and
// queue id. It is stateful and not safe for concurrent use: one Decoder per
// input partition, used by one goroutine at a time.
type Decoder struct {
	cfg Config
	st  state
}

// New returns a Decoder with empty state. cfg should have passed Validate;
// invalid values are replaced by defaults.
func New(cfg Config) *Decoder {
	if cfg.Validate() != nil {
		cfg = Config{}
	}
	cfg.setDefaults()
	return &Decoder{cfg: cfg, st: newState()}
}

// Len is the number of messages the Decoder currently remembers.
func (d *Decoder) Len() int { return len(d.st.m) }

// Decode turns one record into zero or more canonical attempts. skip is a
// non-empty, stable reason token (Skip*) when the record is valid but yields
// no attempt; err is a *raw.Error with a "postfix." reason (Reason*) when the
// line cannot be understood.
func (d *Decoder) Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error) {
	if rec.Time.IsZero() && !rec.Received.IsZero() {
		// A bare message part (no syslog prefix, no shipper time): when
		// Kafka received it is the closest stand-in for when it was logged.
		rec.Time, rec.TimeInferred = rec.Received.UTC(), true
	}
	msg := bytes.TrimSpace(rec.Payload)
	if len(msg) == 0 {
		return nil, "", raw.Errorf(ReasonEmpty, "empty line")
	}
	service, ok := serviceOf(rec.Program)
	if !ok {
		return nil, SkipForeign, nil
	}
	var t int64
	if !rec.Time.IsZero() {
		t = rec.Time.UnixNano()
		if t > d.st.now {
			d.st.now = t
		}
	} else {
		t = d.st.now
	}
	d.st.sweep(d.cfg.TTL)

	s := string(msg)
	qid, rest, ok := splitQID(s)
	if !ok {
		if isStatusLine(s) {
			// A delivery agent's result cut at the front: an attempt
			// happened, so it must not pass as daemon noise.
			return nil, "", raw.Errorf(ReasonMalformed, "a status= line without a queue id (want \"QID: to=<rcpt>, … status=…\"): %q", reply.Clip(s, maxQuoted))
		}
		if skip := noQueue(s, rec.Program != ""); skip != "" {
			return nil, skip, nil
		}
		return nil, "", raw.Errorf(ReasonUnrecognised, "not a Postfix line: %q", reply.Clip(s, maxQuoted))
	}
	k := key{rec.Host, qid}
	switch {
	case strings.HasPrefix(rest, "to="):
		return d.status(rec, k, rest, t)
	case strings.HasPrefix(rest, "from="):
		return d.from(rec, k, rest, t)
	case strings.HasPrefix(rest, "uid="):
		e := d.st.getOrCreate(k, t, d.cfg.TTL, d.cfg.MaxEntries)
		noteFirst(e, t)
		if i := strings.Index(rest, " from=<"); i >= 0 {
			if v, _, ok := readAngle(rest, i+len(" from=")); ok && !e.senderKnown {
				e.sender, e.senderKnown, e.bounce = v, true, e.bounce || v == ""
			}
		}
		return nil, SkipPickup, nil
	case strings.HasPrefix(rest, "message-id="):
		e := d.st.getOrCreate(k, t, d.cfg.TTL, d.cfg.MaxEntries)
		noteFirst(e, t)
		if v := rest[len("message-id="):]; v != "" && v != "<>" {
			e.messageID = v
		}
		return nil, SkipCleanup, nil
	case rest == "removed":
		if e := d.st.m[k]; e != nil {
			d.st.remove(e)
		}
		return nil, SkipRemoved, nil
	case strings.HasPrefix(rest, "info: header ") || strings.HasPrefix(rest, "warning: header "):
		d.header(k, rest, t)
		return nil, SkipHeader, nil
	case strings.HasPrefix(rest, "client="):
		return nil, SkipSMTPD, nil
	}
	if isStatusLine(rest) {
		return nil, "", raw.Errorf(ReasonMalformed, "%s: a status= line without to=<recipient>: %q", qid, reply.Clip(rest, maxQuoted))
	}
	if i := strings.Index(rest, " notification: "); i >= 0 {
		if nq, _, ok := splitQID(rest[i+len(" notification: "):] + ": "); ok {
			e := d.st.getOrCreate(key{rec.Host, nq}, t, d.cfg.TTL, d.cfg.MaxEntries)
			noteFirst(e, t)
			e.bounce = true
			return nil, SkipBounce, nil
		}
	}
	switch {
	case service == "cleanup" || hasAnyPrefix(rest, cleanupActions):
		return nil, SkipCleanup, nil
	case service == "smtpd" || strings.HasPrefix(rest, "reject: "):
		return nil, SkipSMTPD, nil
	case strings.Contains(rest, " said: ") || hasAnyPrefix(rest, sessionPrefixes):
		return nil, SkipSession, nil
	}
	return nil, SkipOther, nil
}

// isStatusLine reports whether s has the shape of a delivery agent's
// per-recipient result (log_adhoc.c: "…, relay=…, …, status=WORD") whatever
// its start: a status= item after a comma, or at the start, next to a
// relay= or dsn= item. A remote reply quoted in a "said:" line is text, not
// items, and does not count.
func isStatusLine(s string) bool {
	if strings.HasPrefix(s, "warning: ") {
		return false
	}
	if strings.HasPrefix(s, "status=") {
		return true // everything before the status item was cut away
	}
	si := strings.Index(s, ", status=")
	if si < 0 {
		return false
	}
	if said := strings.Index(s, " said: "); said >= 0 && said < si {
		return false // "host H said: … status=…": the item is in the reply
	}
	items := s[:si]
	return strings.Contains(items, "relay=") || strings.Contains(items, "dsn=") || strings.HasPrefix(s, "to=") || strings.HasPrefix(s, "orig_to=")
}

// cleanupActions start the lines cleanup logs for milter and header/body
// check actions other than INFO/WARN on headers.
var cleanupActions = []string{"milter-", "reject: header", "reject: body", "discard: ", "hold: ", "prepend: ", "replace: ", "redirect: ", "filter: ", "info: body ", "warning: body ", "bcc: ", "strip: ", "info: ", "warning: "}

// sessionPrefixes start the per-message lines of the SMTP/LMTP client that
// precede (or replace, for a whole-connection failure) the status lines.
var sessionPrefixes = []string{"host ", "lost connection", "conversation with", "SASL ", "enabling PIX", "Cannot start TLS", "TLS ", "breaking line", "Server certificate", "connect to "}

// connectPrefixes start connection-level lines that carry no queue id.
var connectPrefixes = []string{"connect from ", "disconnect from ", "connect to ", "lost connection", "SSL_connect", "SSL_accept", "timeout after", "Anonymous TLS", "Trusted TLS", "Untrusted TLS", "Verified TLS", "setting up TLS", "too many errors after", "improper command pipelining", "warning: TLS", "conversation with"}

func hasAnyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// noQueue classifies a line without a queue id. Without a program name we
// only accept the shapes we know, so a stray non-Postfix line is reported
// instead of counted as noise.
func noQueue(s string, postfixProgram bool) string {
	switch {
	case strings.HasPrefix(s, "NOQUEUE: "):
		return SkipNoQueue
	case hasAnyPrefix(s, connectPrefixes):
		return SkipConnect
	case postfixProgram:
		return SkipOther
	}
	return ""
}

// serviceOf splits "postfix/smtp" or "postfix-out/smtp" into its service;
// ok is false for a program that is not Postfix. An empty program is
// accepted: the line is then judged by its shape.
func serviceOf(program string) (service string, ok bool) {
	if program == "" {
		return "", true
	}
	if i := strings.LastIndexByte(program, '/'); i >= 0 {
		return program[i+1:], true
	}
	// postfix(1) itself and postfix-script log without a service.
	return program, strings.HasPrefix(program, "postfix")
}

// splitQID splits "QID: rest". A queue id is either the short form
// (upper-case hex, inode and microseconds) or the long form of
// enable_long_queue_ids (ten base-52 characters, "z", the inode), which is
// what tells it apart from words like "warning:" or "NOQUEUE:".
func splitQID(s string) (qid, rest string, ok bool) {
	i := strings.Index(s, ": ")
	if i < 5 || i > 40 {
		return "", "", false
	}
	q := s[:i]
	hex := true
	for j := 0; j < len(q); j++ {
		c := q[j]
		switch {
		case isDigit(c) || (c >= 'A' && c <= 'F'):
		case (c >= 'a' && c <= 'z') || (c >= 'G' && c <= 'Z'):
			hex = false
		default:
			return "", "", false
		}
	}
	if !hex && (len(q) < 12 || q[10] != 'z') {
		return "", "", false
	}
	return q, s[i+2:], true
}

// noteFirst records the first-queued time from the first line seen.
func noteFirst(e *entry, t int64) {
	if e.first == 0 {
		e.first = t
	}
}

// readAngle reads "<...>" at s[i], honouring quoted local parts
// ("<\"a>b\"@example.org>"), and returns the inside and the index after '>'.
func readAngle(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '<' {
		return "", i, false
	}
	quoted := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case quoted && c == '\\':
			j++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			return s[i+1 : j], j + 1, true
		}
	}
	return "", i, false
}

// header keeps "info: header Name: value from client; from=<..> ..." as
// metadata of the message. The value ends at the last " from " before the
// "; from=<" that starts Postfix's own trailer.
func (d *Decoder) header(k key, rest string, t int64) {
	_, rest, _ = strings.Cut(rest, "header ")
	end := strings.Index(rest, "; from=<")
	if end < 0 {
		end = len(rest)
	}
	body := rest[:end]
	if i := strings.LastIndex(body, " from "); i >= 0 {
		body = body[:i]
	}
	name, value, ok := strings.Cut(body, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return
	}
	e := d.st.getOrCreate(k, t, d.cfg.TTL, d.cfg.MaxEntries)
	noteFirst(e, t)
	// Postfix itself logs at most 200 characters of the header; the clip
	// only matters for lines that did not come from Postfix.
	e.setHeader(strings.ToLower(reply.Clip(name, maxHeaderKey)), reply.Clip(strings.TrimSpace(value), maxHeaderLen))
}

// from handles qmgr's "from=<S>, size=N, nrcpt=N (queue active)" and the
// per-message "from=<S>, status=expired, returned to sender".
func (d *Decoder) from(rec raw.Record, k key, rest string, t int64) ([]event.Attempt, string, error) {
	sender, n, ok := readAngle(rest, len("from="))
	if !ok {
		sender, n = rest[len("from="):], len(rest)
		if i := strings.IndexByte(sender, ','); i >= 0 {
			sender, n = sender[:i], len("from=")+i
		}
	}
	e := d.st.getOrCreate(k, t, d.cfg.TTL, d.cfg.MaxEntries)
	if !e.senderKnown {
		e.sender, e.senderKnown = sender, true
	}
	if sender == "" {
		e.bounce = true
	}
	if !strings.HasPrefix(rest[n:], ", status=expired") {
		noteFirst(e, t)
		return nil, SkipQmgr, nil
	}
	if e.bounce {
		return nil, SkipBounceMessage, nil
	}
	if rec.Time.IsZero() {
		return nil, "", raw.Errorf(ReasonNoTime, "%s: expiry without a log time", k.qid)
	}
	var out []event.Attempt
	for _, r := range e.rcpts {
		if r.final {
			continue
		}
		r.final = true
		out = append(out, d.expiredAttempt(rec, e, r))
	}
	if len(out) == 0 {
		return nil, SkipExpiredNone, nil
	}
	return out, "", nil
}

// expiredAttempt is the final event of a recipient still deferred when the
// message expired: it carries the last deferral's reason, which says why
// delivery never happened.
func (d *Decoder) expiredAttempt(rec raw.Record, e *entry, r *rcpt) event.Attempt {
	at := rec.Time.UTC()
	a := event.Attempt{
		EventID:    event.NaturalID(Kind, rec.Host, e.key.qid, r.addr, "expired", at.Format(time.RFC3339Nano), ""),
		OccurredAt: at,
		Recipient:  r.addr,
		Outcome:    event.Expired,
		Source:     event.Source{Kind: Kind, Host: rec.Host},
		QueueID:    e.key.qid,
		Attempt:    r.deferrals + 1,
		Diagnostic: r.reason,
	}
	md := make(map[string]string, 4+len(e.headers))
	if r.reason != "" {
		a.SMTP = parseReason(r.reason)
	}
	if r.dsn != "" {
		md["dsn_status"] = r.dsn
		if a.SMTP.Enhanced == "" {
			a.SMTP.Enhanced = r.dsn
			md["enhanced_source"] = "mta_dsn"
		}
	}
	if r.orig != "" {
		md["original_recipient"] = r.orig
	}
	if r.local {
		md["local_failure"] = "true"
	}
	d.identity(&a, e, md)
	if e.first != 0 {
		a.DelaySeconds = at.Sub(time.Unix(0, e.first)).Seconds()
	}
	return a
}

// identity copies what the message's earlier lines told into a.
func (d *Decoder) identity(a *event.Attempt, e *entry, md map[string]string) {
	if e != nil {
		if e.first != 0 {
			a.SentAt = time.Unix(0, e.first).UTC()
		}
		a.MessageID = e.messageID
		a.Sender = e.sender
		for _, h := range e.headers {
			md["header."+h[0]] = h[1]
		}
	}
	if len(md) > 0 {
		a.Metadata = md
	}
}

// statusLine is one delivery agent's "to=" line, as log_adhoc.c writes it.
type statusLine struct {
	to, origTo, relay, delay, delays, dsn, status, reason string
	delaySec                                              float64
}

// parseStatus reads "to=<R>[, orig_to=<O>], relay=X, [conn_use=N, ]delay=D,
// delays=a/b/c/d, [tls=..., ]dsn=X.Y.Z, status=S (REASON)". Unknown
// key=value items are ignored (newer Postfix adds some); text after the
// reason's closing parenthesis is ignored too.
func parseStatus(rest string) (statusLine, error) {
	var l statusLine
	var n int
	if strings.HasPrefix(rest, "to=<") {
		v, end, ok := readAngle(rest, len("to="))
		if !ok {
			return l, raw.Errorf(ReasonStatusLine, "unterminated to=<")
		}
		l.to, n = v, end
	} else {
		// Old local(8) lines: to=user@host without brackets.
		end := strings.Index(rest, ", ")
		if end < 0 {
			return l, raw.Errorf(ReasonStatusLine, "no fields after to=")
		}
		l.to, n = rest[len("to="):end], end
	}
	if l.to == "" {
		return l, raw.Errorf(ReasonStatusLine, "empty recipient")
	}
	si := strings.Index(rest[n:], ", status=")
	if si < 0 {
		return l, raw.Errorf(ReasonStatusLine, "no status= for %q", reply.Clip(l.to, maxQuoted))
	}
	fields, tail := rest[n:n+si], rest[n+si+len(", status="):]
	for fields != "" {
		fields = strings.TrimPrefix(fields, ", ")
		if strings.HasPrefix(fields, "orig_to=<") {
			o, end, ok := readAngle(fields, len("orig_to="))
			if !ok {
				return l, raw.Errorf(ReasonStatusLine, "unterminated orig_to=<")
			}
			l.origTo, fields = o, fields[end:]
			continue
		}
		seg, next, _ := strings.Cut(fields, ", ")
		fields = next
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			continue // part of an unknown item's value
		}
		switch k {
		case "to":
			// Postfix writes one to= a line; with two, which recipient
			// the status is for is a guess.
			return l, raw.Errorf(ReasonMalformed, "a status= line with a second to= (%q after %q): one recipient a line is expected", reply.Clip(v, maxQuoted), reply.Clip(l.to, maxQuoted))
		case "orig_to":
			l.origTo = v
		case "relay":
			l.relay = v
		case "delay":
			l.delay = v
		case "delays":
			l.delays = v
		case "dsn":
			l.dsn = v
		}
	}
	word, reason, _ := strings.Cut(tail, " ")
	l.status = word
	if strings.HasPrefix(reason, "(") {
		if end := strings.LastIndexByte(reason, ')'); end > 0 {
			reason = reason[1:end]
		} else {
			reason = reason[1:]
		}
	}
	l.reason = reason
	if l.delay != "" {
		f, err := strconv.ParseFloat(l.delay, 64)
		if err != nil || f < 0 || f > 1e9 {
			return l, raw.Errorf(ReasonStatusLine, "delay=%q is not a number of seconds", reply.Clip(l.delay, maxQuoted))
		}
		l.delaySec = f
	}
	return l, nil
}

// outcomeOf maps a status word onto an outcome; skip is set for address
// verification results, which are probes, not mail.
func outcomeOf(status string) (o event.Outcome, skip string, ok bool) {
	switch status {
	case "sent":
		return event.Delivered, "", true
	case "deferred", "SOFTBOUNCE":
		// soft_bounce=yes logs SOFTBOUNCE and keeps the message queued.
		return event.Deferred, "", true
	case "bounced":
		return event.Bounced, "", true
	case "expired":
		return event.Expired, "", true
	}
	if strings.HasPrefix(status, "deliverable") || strings.HasPrefix(status, "undeliverable") {
		return "", SkipVerify, true
	}
	return "", "", false
}

// status handles a delivery agent's per-recipient line.
func (d *Decoder) status(rec raw.Record, k key, rest string, t int64) ([]event.Attempt, string, error) {
	l, err := parseStatus(rest)
	if err != nil {
		return nil, "", err
	}
	outcome, skip, ok := outcomeOf(l.status)
	switch {
	case !ok:
		return nil, "", raw.Errorf(ReasonStatus, "status=%q", reply.Clip(l.status, maxQuoted))
	case skip != "":
		return nil, skip, nil
	case rec.Time.IsZero():
		return nil, "", raw.Errorf(ReasonNoTime, "%s: status line without a log time", k.qid)
	}
	e := d.st.get(k, d.cfg.TTL)
	if e != nil {
		d.st.touch(e, t)
		if e.bounce {
			return nil, SkipBounceMessage, nil
		}
	}
	relayHost, relayIP := splitHostIP(l.relay)
	if outcome == event.Delivered && isLoopback(relayHost, relayIP) {
		if nq := queuedAs(l.reason); nq != "" {
			ne := d.st.getOrCreate(key{k.host, nq}, t, d.cfg.TTL, d.cfg.MaxEntries)
			if e != nil {
				ne.inherit(e)
			}
			return nil, SkipReinjected, nil
		}
	}

	at := rec.Time.UTC()
	a := event.Attempt{
		EventID:      event.NaturalID(Kind, rec.Host, k.qid, l.to, l.status, at.Format(time.RFC3339Nano), l.delays),
		OccurredAt:   at,
		Recipient:    l.to,
		Outcome:      outcome,
		Source:       event.Source{Kind: Kind, Host: rec.Host},
		QueueID:      k.qid,
		Diagnostic:   l.reason,
		DelaySeconds: l.delaySec,
		SMTP:         parseReason(l.reason),
	}
	if a.SMTP.RemoteHost == "" && relayIP != "" {
		a.SMTP.RemoteHost, a.SMTP.RemoteIP = relayHost, relayIP
	}
	md := make(map[string]string, 6)
	if l.dsn != "" {
		md["dsn_status"] = l.dsn
		if a.SMTP.Enhanced == "" {
			a.SMTP.Enhanced = l.dsn
			md["enhanced_source"] = "mta_dsn"
		}
	}
	if l.relay != "" {
		md["relay"] = l.relay
	}
	if l.origTo != "" {
		md["original_recipient"] = l.origTo
	}
	local := localFailure(l.relay, l.reason, &a.SMTP)
	if local {
		md["local_failure"] = "true"
	}
	if l.status == "SOFTBOUNCE" {
		md["soft_bounce"] = "true"
	}

	// Attempt numbering needs an entry only once a recipient is deferred.
	if e == nil && outcome == event.Deferred {
		e = d.st.getOrCreate(k, t, d.cfg.TTL, d.cfg.MaxEntries)
	}
	a.Attempt = 1
	if e != nil {
		if e.first == 0 && l.delay != "" {
			// No queue line seen: arrival = now - delay, kept so every
			// attempt of this message groups under the same send time.
			e.first = t - int64(l.delaySec*float64(time.Second))
		}
		r := e.recipient(l.to)
		if outcome == event.Deferred {
			if r == nil {
				r = e.addRecipient(l.to, l.origTo)
			}
			if r != nil {
				// A line not later than the last counted deferral is a
				// shipper's re-send: same attempt, not a new one.
				if t > r.lastDeferral {
					r.deferrals++
					r.lastDeferral = t
				}
				r.reason, r.dsn, r.local = reply.Clip(l.reason, maxReasonLen), l.dsn, local
				a.Attempt = r.deferrals
			}
		} else if r != nil {
			r.final = true
			a.Attempt = r.deferrals + 1
		}
	} else if l.delay != "" {
		a.SentAt = at.Add(-time.Duration(l.delaySec * float64(time.Second)))
	}
	d.identity(&a, e, md)
	return []event.Attempt{a}, "", nil
}

// queuedAs finds the queue id in "250 2.0.0 Ok: queued as 8D257A009E" (also
// at the end of amavis's longer reply).
func queuedAs(reason string) string {
	i := strings.LastIndex(reason, "queued as ")
	if i < 0 {
		return ""
	}
	q := reason[i+len("queued as "):]
	end := 0
	for end < len(q) && (isDigit(q[end]) || (q[end] >= 'A' && q[end] <= 'Z') || (q[end] >= 'a' && q[end] <= 'z')) {
		end++
	}
	nq, _, ok := splitQID(q[:end] + ": ")
	if !ok {
		return ""
	}
	return nq
}
