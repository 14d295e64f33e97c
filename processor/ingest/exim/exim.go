// Package exim decodes Exim main log lines ("mainlog") into canonical
// attempts (docs/formats.md, research/formats.md §2).
//
// One delivery line (=>, ->, >>, **, ==) becomes one attempt. Exim writes the
// sender and the Message-ID only on the arrival line (<=) of a message, so the
// Decoder remembers them per host and Exim message id until the message's
// Completed line, and fills them into later delivery lines. Arrivals,
// Completed and other bookkeeping lines are skipped with a reason.
//
// The line grammar is
//
//	YYYY-MM-DD HH:MM:SS[.mmm] [+ZZZZ] [[pid]] <msgid> <flag> <address> [<orig>] [fields] [: reason]
//
// with both failure layouts Exim has used: the old one, where the reason
// follows the transport ("T=remote_smtp: SMTP error … host mx [ip]: 550 …"),
// and the current one (4.9x), where the host fields come first and the
// reason follows the last of them (" H=mx [ip] X=… DN="…": SMTP error from
// remote mail server after RCPT TO:<a>: 550 …", also after "defer (-44)").
// Deferrals that only say Exim's retry time has not come ("retry time not
// reached", "Retry time not yet reached") are skipped: nothing was tried. A
// delivery line whose address is not local@domain is an error
// (exim.malformed), so a damaged line reaches the DLQ instead of vanishing.
package exim

import (
	"fmt"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Kind is the source kind of every attempt this package produces.
const Kind = "exim"

// Reasons a line is skipped: valid Exim log lines that are not delivery
// attempts. They label the skip metric, so they are stable.
const (
	SkipArrival       = "exim.arrival"           // <= a message arrived
	SkipCompleted     = "exim.completed"         // Completed: end of a message's life
	SkipBounceMessage = "exim.bounce_message"    // a delivery of a bounce Exim generated (sender <>)
	SkipDiscarded     = "exim.discarded"         // => :blackhole: or *> (delivery suppressed by -N)
	SkipMessageLog    = "exim.message_log"       // other lines about a message: Frozen, spool locked, …
	SkipDaemon        = "exim.daemon"            // lines about no message: connections, rejections, queue runs
	SkipRetryWait     = "exim.retry_not_reached" // == "retry time not (yet) reached": Exim did not try, nothing was learnt
	SkipContinuation  = "exim.continuation"      // the indented second line of a warning Exim writes over two lines
)

// Reasons a line cannot be decoded (the raw.Error reason).
const (
	ErrUnparsable = "exim.unparsable" // no Exim timestamp, or a delivery line without an address
	ErrTime       = "exim.invalid_time"
	ErrMalformed  = "exim.malformed" // a =>, ->, >>, ** or == line whose address is not local@domain
)

// Defaults of Config.
const (
	DefaultStateTTL    = 7 * 24 * time.Hour
	DefaultMaxMessages = 200_000
)

// Config tunes the Exim decoder. The zero value is valid.
type Config struct {
	// TimeZone is the IANA zone of log timestamps that carry no offset
	// (Exim writes one only with log_timezone=true). Default "UTC".
	TimeZone string `koanf:"time_zone"`
	// StateTTL is how long the sender and Message-ID of an arrival are
	// remembered when no Completed line comes (a missed line, a restart of
	// the shipper mid-file). Measured in log time, not wall time. It must
	// outlast Exim's retry timeout (4 days by default) or late deliveries
	// lose their sender. Default 7 days.
	StateTTL time.Duration `koanf:"state_ttl"`
	// MaxMessages bounds the number of messages remembered; past it the
	// oldest arrivals are forgotten first. Default 200000 (about 40 MB).
	MaxMessages int `koanf:"max_messages"`
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return fmt.Errorf("ingest.exim.time_zone: %w", err)
		}
	}
	if c.StateTTL < 0 {
		return fmt.Errorf("ingest.exim.state_ttl: %s is negative (default %s)", c.StateTTL, DefaultStateTTL)
	}
	if c.MaxMessages < 0 {
		return fmt.Errorf("ingest.exim.max_messages: %d is negative (default %d)", c.MaxMessages, DefaultMaxMessages)
	}
	return nil
}

// Decoder turns Exim log lines into attempts. It keeps what the arrival line
// of each message told (sender, Message-ID, time) until the message
// completes: that is its only state, bounded by Config.MaxMessages and
// StateTTL. Snapshot and Restore carry it across restarts. A Decoder is not
// safe for concurrent use; give each partition worker its own.
type Decoder struct {
	loc  *time.Location
	ttl  time.Duration
	max  int
	msgs map[msgKey]*message
	// newest is the latest log time seen; entries older than newest-ttl
	// are expired. Log time, so replays and tests are deterministic.
	newest  time.Time
	inserts int
}

type msgKey struct{ host, id string }

// message is what is known about one Exim message.
type message struct {
	// last is each recipient's latest deferral reply: Exim's expiry line
	// ("retry timeout exceeded") carries none, Postfix's does.
	last      map[string]event.SMTP
	sender    string
	messageID string
	arrived   time.Time // the <= line's time; zero if only deliveries were seen
	seen      time.Time // the latest line about it: the TTL runs from here
	bounce    bool      // sender <>: a bounce Exim generated, not our traffic
	// defers counts == lines per recipient, for the attempt number. Only
	// kept when the arrival was seen: otherwise the count would be short.
	defers map[string]int
}

// New builds a Decoder. cfg should have passed Validate; an invalid zone
// falls back to UTC.
func New(cfg Config) *Decoder {
	loc := time.UTC
	if cfg.TimeZone != "" {
		if l, err := time.LoadLocation(cfg.TimeZone); err == nil {
			loc = l
		}
	}
	d := &Decoder{loc: loc, ttl: cfg.StateTTL, max: cfg.MaxMessages, msgs: make(map[msgKey]*message)}
	if d.ttl == 0 {
		d.ttl = DefaultStateTTL
	}
	if d.max == 0 {
		d.max = DefaultMaxMessages
	}
	return d
}

// line is one parsed log line.
type line struct {
	when  time.Time
	stamp string // the timestamp as logged, for the natural key
	msgID string // Exim message id
	flag  string // <=, =>, ->, >>, *>, **, ==
	rest  string // after the flag
}

// Decode turns one record into zero or one attempts, a skip reason, or a
// *raw.Error whose reason starts with "exim.".
func (d *Decoder) Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error) {
	text := string(rec.Payload)
	text = strings.TrimRight(text, "\r\n")
	text = stripSyslogProgram(text)
	if text != "" && (text[0] == ' ' || text[0] == '\t') || strings.HasPrefix(text, "Suggested action: ") {
		// " Suggested action: use keep_environment." and the like: a
		// shipper delivers the indented second line of a two-line warning
		// alone (and the unwrapper may have trimmed its indent).
		return nil, SkipContinuation, nil
	}
	var l line
	if err := d.parseHead(text, &l); err != nil {
		return nil, "", err
	}
	if l.msgID == "" {
		return nil, SkipDaemon, nil
	}
	key := msgKey{rec.Host, l.msgID}
	switch l.flag {
	case "<=":
		d.arrival(key, &l)
		return nil, SkipArrival, nil
	case "":
		// log_selector +queue_time_overall adds " QT=…".
		if l.rest == "Completed" || strings.HasPrefix(l.rest, "Completed ") {
			delete(d.msgs, key)
			return nil, SkipCompleted, nil
		}
		return nil, SkipMessageLog, nil
	case "*>":
		return nil, SkipDiscarded, nil
	}
	m := d.msgs[key]
	if m != nil && m.bounce {
		return nil, SkipBounceMessage, nil
	}
	a, skip, err := d.delivery(rec, &l, m)
	if err != nil || skip != "" {
		return nil, skip, err
	}
	return []event.Attempt{a}, "", nil
}

// stripSyslogProgram removes an "exim[pid]: " prefix the unwrapper left in
// place (a file written by a syslog daemon without its own prefix).
func stripSyslogProgram(s string) string {
	if !strings.HasPrefix(s, "exim") {
		return s
	}
	r := s[len("exim"):]
	if strings.HasPrefix(r, "[") {
		end := strings.Index(r, "]: ")
		if end < 0 || !allDigits(r[1:end]) {
			return s
		}
		return r[end+len("]: "):]
	}
	if strings.HasPrefix(r, ": ") {
		return r[2:]
	}
	return s
}

// parseHead reads the timestamp, the message id and the flag.
func (d *Decoder) parseHead(s string, l *line) error {
	// 2006-01-02 15:04:05
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return raw.Errorf(ErrUnparsable, "no Exim timestamp at the start of the line")
	}
	i := 19
	if i < len(s) && s[i] == '.' { // log_selector +millisec
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		i = j
	}
	local := s[:i]
	var zone string
	if len(s) >= i+6 && s[i] == ' ' && (s[i+1] == '+' || s[i+1] == '-') && allDigits(s[i+2:i+6]) && (len(s) == i+6 || s[i+6] == ' ') {
		zone = s[i+1 : i+6]
		i += 6
	}
	l.stamp = s[:i]
	t, err := parseTime(local, zone, d.loc)
	if err != nil {
		return raw.Errorf(ErrTime, "%q: %v", l.stamp, err)
	}
	l.when = t
	if t.After(d.newest) {
		d.newest = t
	}
	rest := strings.TrimLeft(s[i:], " ")
	// log_selector +pid puts "[pid] " before the message id.
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 && allDigits(rest[1:end]) {
			rest = strings.TrimLeft(rest[end+1:], " ")
		}
	}
	id, after, _ := strings.Cut(rest, " ")
	if !IsMessageID(id) {
		return nil // not about one message: daemon and connection lines
	}
	l.msgID = id
	flag, after2, _ := strings.Cut(after, " ")
	switch flag {
	case "<=", "=>", "->", ">>", "*>", "**", "==":
		l.flag = flag
		l.rest = after2
	default:
		l.rest = after
	}
	return nil
}

// parseTime reads "2006-01-02 15:04:05[.fff]" in loc, or at the offset zone
// ("+0100") when Exim logged one.
func parseTime(local, zone string, loc *time.Location) (time.Time, error) {
	if zone != "" {
		t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700", local+" "+zone)
		return t.UTC(), err
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", local, loc)
	return t.UTC(), err
}

// IsMessageID reports whether s has the shape of an Exim message id: the old
// 16-character form (1RookS-000Pg8-VO) or the 23-character one Exim 4.97
// introduced (10HmaY-000000005vi-0000), i.e.
// [0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}.
func IsMessageID(s string) bool {
	if len(s) < 16 || len(s) > 23 || s[6] != '-' || !alnum(s[:6]) {
		return false
	}
	mid, last, ok := strings.Cut(s[7:], "-")
	return ok && len(mid) >= 6 && len(mid) <= 11 && alnum(mid) && len(last) >= 2 && len(last) <= 4 && alnum(last)
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// arrival remembers the sender, Message-ID and time of a <= line.
func (d *Decoder) arrival(key msgKey, l *line) {
	sender, fields, _ := strings.Cut(l.rest, " ")
	m := &message{sender: sender, arrived: l.when, seen: l.when, bounce: sender == "<>"}
	if m.bounce {
		m.sender = ""
	}
	for f := range splitFields(fields) {
		if f.key == "id" {
			m.messageID = f.value
		}
	}
	if old, ok := d.msgs[key]; ok && old.arrived.IsZero() {
		m.defers = old.defers // deliveries logged before the arrival (out of order)
	}
	d.remember(key, m)
}

// remember stores m, making room first when the map is full.
func (d *Decoder) remember(key msgKey, m *message) {
	if _, ok := d.msgs[key]; !ok {
		d.inserts++
		if len(d.msgs) >= d.max || d.inserts%4096 == 0 {
			d.evict()
		}
	}
	d.msgs[key] = m
}

// evict drops messages past their TTL, then, if the map is still full, the
// oldest tenth: a missed Completed line must not grow the state for ever.
func (d *Decoder) evict() {
	cutoff := d.newest.Add(-d.ttl)
	for k, m := range d.msgs {
		if m.seen.Before(cutoff) {
			delete(d.msgs, k)
		}
	}
	if len(d.msgs) < d.max {
		return
	}
	times := make([]time.Time, 0, len(d.msgs))
	for _, m := range d.msgs {
		times = append(times, m.seen)
	}
	// Cut at the tenth-oldest arrival time without sorting the lot.
	n := len(times)/10 + 1
	cut := nthSmallest(times, n)
	for k, m := range d.msgs {
		if !m.seen.After(cut) {
			delete(d.msgs, k)
		}
	}
}

// nthSmallest returns the n-th smallest time (1-based) by quickselect.
func nthSmallest(ts []time.Time, n int) time.Time {
	lo, hi := 0, len(ts)-1
	k := n - 1
	for lo < hi {
		p := ts[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for ts[i].Before(p) {
				i++
			}
			for p.Before(ts[j]) {
				j--
			}
			if i <= j {
				ts[i], ts[j] = ts[j], ts[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return ts[k]
		}
	}
	return ts[k]
}

// delivery decodes =>, ->, >>, ** and == lines.
func (d *Decoder) delivery(rec raw.Record, l *line, m *message) (event.Attempt, string, error) {
	var a event.Attempt
	rcpt, orig, rest := splitAddress(l.rest)
	if rcpt == "" {
		return a, "", raw.Errorf(ErrUnparsable, "%s line without an address", l.flag)
	}
	if rcpt == ":blackhole:" {
		return a, SkipDiscarded, nil
	}
	a.Recipient = rcpt
	// A pipe, file or local-part delivery logs the generated address first
	// and the address the message was sent to in <…>: the latter is the
	// one a suppression list knows.
	if orig != "" && !strings.Contains(rcpt, "@") {
		a.Recipient = orig
	} else if orig != "" && orig != rcpt {
		a.Metadata = map[string]string{"original_recipient": orig}
	}
	// Exim qualifies every address it delivers to, so a delivery line
	// whose address has no local part or no domain is a damaged line (cut
	// by a shipper, a field where the address should be), not an attempt
	// to skip: it goes to the DLQ so the loss is seen.
	if !qualified(a.Recipient) {
		return a, "", raw.Errorf(ErrMalformed, "%s line: %q is not an address (want local@domain after the flag)", l.flag, reply.Clip(a.Recipient, maxQuoted))
	}
	a.EventID = event.NaturalID(Kind, rec.Host, l.msgID, l.flag, rcpt, l.stamp)
	a.OccurredAt = l.when
	a.Source = event.Source{Kind: Kind, Host: rec.Host}
	a.QueueID = l.msgID

	p := parseFields(rest)
	a.SMTP.RemoteHost, a.SMTP.RemoteIP = p.host, p.ip
	a.Sender = p.sender
	if m != nil {
		if a.Sender == "" {
			a.Sender = m.sender
		}
		a.MessageID = m.messageID
		if !m.arrived.IsZero() {
			a.SentAt = m.arrived
			if delay := a.OccurredAt.Sub(m.arrived).Seconds(); delay > 0 {
				a.DelaySeconds = delay
			}
		}
	}
	if p.router != "" {
		a.SetMetadata("router", p.router)
	}
	if p.transport != "" {
		a.SetMetadata("transport", p.transport)
	}

	switch l.flag {
	case "=>", "->", ">>":
		a.Outcome = event.Delivered
		if p.confirmation != "" {
			setReply(&a.SMTP, unescape(p.confirmation))
			a.Diagnostic = p.confirmation
		}
	case "==":
		if retryWait(p.reason) {
			// Exim did not try this host (its retry data says wait):
			// no connection, no reply, nothing about the recipient.
			return a, SkipRetryWait, nil
		}
		a.Outcome = event.Deferred
		d.reason(&a, p.reason)
		if p.errno != "" {
			a.SetMetadata("errno", p.errno)
			if localErrno(p.errno) && a.SMTP.Code == 0 {
				a.SetMetadata("local_failure", "true")
			}
		}
	case "**":
		a.Outcome = event.Bounced
		// Both wordings say Exim gave up after its retry timeout: the
		// address expired, it was not refused.
		if strings.HasSuffix(p.reason, "retry timeout exceeded") || strings.HasSuffix(p.reason, "after a long failure period") {
			a.Outcome = event.Expired
		}
		d.reason(&a, p.reason)
	}
	a.Attempt = d.count(rec.Host, l.msgID, m, rcpt, a.Outcome, l.when)
	d.lastReply(msgKey{rec.Host, l.msgID}, rcpt, &a)
	return a, "", nil
}

// maxQuoted bounds the untrusted text an error message quotes.
const maxQuoted = 80

// qualified reports whether addr is local@domain with both parts present
// and no space (a quoted local part may hold an "@").
func qualified(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && at < len(addr)-1 && !strings.ContainsAny(addr, " \t")
}

// retryWait reports whether a deferral's reason is Exim's note that it
// skipped the attempt because a host's or the address's retry time has not
// come: "retry time not reached [for any host …]" or, for routing, "Retry
// time not yet reached".
func retryWait(reason string) bool {
	r := strings.ToLower(reason)
	return strings.HasPrefix(r, "retry time not reached") || strings.HasPrefix(r, "retry time not yet reached")
}

// count returns the attempt number of this line for rcpt: deferrals so far
// plus one. Zero (unknown) when the message's arrival was not seen, since
// deferrals before it are missing from the count.
func (d *Decoder) count(host, id string, m *message, rcpt string, o event.Outcome, now time.Time) int {
	if m == nil {
		if o == event.Deferred {
			// Remember the deferral in case the arrival turns up late;
			// the attempt number stays unknown until then.
			m = &message{defers: map[string]int{rcpt: 1}, seen: now}
			d.remember(msgKey{host, id}, m)
		}
		return 0
	}
	if now.After(m.seen) {
		m.seen = now
	}
	if m.defers == nil {
		m.defers = make(map[string]int)
	}
	n := m.defers[rcpt] + 1
	if o == event.Deferred {
		m.defers[rcpt] = n
	}
	if m.arrived.IsZero() {
		return 0
	}
	return n
}

// localErrno reports whether a deferral's errno is one of Exim's own
// conditions (-54 retry time not reached, -23 domain held, -1
// queue_smtp_domains, -36 our DNS deferred): they say nothing about the
// recipient. Negative errnos are Exim's own codes, but a few of them
// (src/macros.h) report what the remote end did, and those are evidence:
// -18 connection closed, -19 malformed reply, -37 TLS failed, -43 connect
// timeout, -44/-45/-46 a 4xx reply to RCPT, MAIL or DATA. The caller also
// treats any line that carries a remote reply as remote.
func localErrno(errno string) bool {
	if !strings.HasPrefix(errno, "-") || !allDigits(errno[1:]) {
		return false
	}
	switch errno {
	case "-18", "-19", "-37", "-43", "-44", "-45", "-46":
		return false
	}
	return true
}

// reason fills the diagnostic and, for remote replies, the SMTP fields.
func (d *Decoder) reason(a *event.Attempt, text string) {
	if text == "" {
		return
	}
	a.Diagnostic = unescape(text)
	parseSMTPError(a.Diagnostic, &a.SMTP)
}

// splitAddress splits "rcpt [<orig>] rest" after the flag. A routing failure
// ends the address with a colon ("** jim@x.example <jim@x.example>: unknown
// mail domain"); rest then starts with ": ".
func splitAddress(s string) (rcpt, orig, rest string) {
	if strings.HasPrefix(s, "<") { // "=> <rcpt>" (bare angle form)
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", "", ""
		}
		rcpt, rest = s[1:end], s[end+1:]
	} else {
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		rcpt, rest = s[:end], s[end:]
	}
	if strings.HasSuffix(rcpt, ":") && !strings.HasSuffix(rcpt, "::") && rcpt != ":blackhole:" {
		return rcpt[:len(rcpt)-1], "", ":" + rest
	}
	r := strings.TrimLeft(rest, " ")
	if strings.HasPrefix(r, "<") {
		end := strings.IndexByte(r, '>')
		if end > 0 {
			orig, rest = r[1:end], r[end+1:]
		}
	}
	return rcpt, orig, rest
}

// fields is what the key=value part of a delivery line says.
type fields struct {
	router, transport string
	host, ip          string
	sender            string
	confirmation      string // C="…"
	errno             string // defer (errno)
	reason            string // text after ": "
}

// parseFields reads "R=… T=… H=host [ip] C="…"", the " defer (errno): text"
// of deferrals and the ": text" that carries a failure's reason, in either
// layout. Unknown fields are ignored: log_selector adds many.
func parseFields(s string) fields {
	var p fields
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		r := s[i:]
		switch {
		case r[0] == ':': // ": reason" (current layout, routing failures)
			p.reason = strings.TrimLeft(r[1:], " ")
			return p
		case strings.HasPrefix(r, "defer (") || strings.HasPrefix(r, "routing defer ("):
			open := strings.IndexByte(r, '(')
			cl := strings.IndexByte(r, ')')
			if cl < open {
				return p
			}
			p.errno = r[open+1 : cl]
			// Old layout: "defer (-44): text". Exim 4.9x: "defer (-44)
			// H=mx [ip] X=… DN=…: text", the host fields before the
			// colon; read them like any other fields.
			if after := r[cl+1:]; !strings.HasPrefix(after, " ") || !isField(strings.TrimLeft(after, " ")) {
				p.reason = strings.TrimLeft(strings.TrimPrefix(after, ":"), " ")
				return p
			}
			i += cl + 1
			continue
		}
		key, val, n, ok := field(r)
		if !ok {
			// A word that is not a field (an unknown selector's output):
			// step over it.
			sp := strings.IndexByte(r, ' ')
			if sp < 0 {
				return p
			}
			i += sp
			continue
		}
		i += n
		// Old layout: "T=remote_smtp: SMTP error …" glues the reason to
		// the last field before it.
		colon := strings.HasSuffix(val, ":") && key != "C"
		if colon {
			val = val[:len(val)-1]
		}
		switch key {
		case "R":
			p.router = val
		case "T":
			p.transport = val
		case "F":
			p.sender = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
		case "C":
			p.confirmation = val
		case "H":
			p.host = val
			// "H=host [ip]" or "H=host [ip]:port" or "[ip]*" (reused).
			r2 := strings.TrimLeft(s[i:], " ")
			if strings.HasPrefix(r2, "[") {
				if end := strings.IndexByte(r2, ']'); end > 0 {
					p.ip = r2[1:end]
					skip := len(s[i:]) - len(r2) + end + 1
					tail, _, _ := strings.Cut(r2[end+1:], " ")
					// "[ip]:" or "[ip]:25:" ends the fields; "[ip]:25"
					// and "[ip]*" do not.
					colon = strings.HasSuffix(tail, ":")
					i += skip + len(tail)
				}
			} else if strings.HasPrefix(val, "[") && strings.HasSuffix(val, "]") {
				p.ip, p.host = val[1:len(val)-1], ""
			}
		}
		if colon {
			p.reason = strings.TrimLeft(s[i:], " ")
			return p
		}
	}
	return p
}

// isField reports whether s starts with a KEY=value field.
func isField(s string) bool {
	_, _, _, ok := field(s)
	return ok
}

// field reads one KEY=value at the start of s, where KEY is one to three
// letters and value is a word or a double-quoted string with \" escapes. n
// is the number of bytes consumed.
func field(s string) (key, val string, n int, ok bool) {
	eq := strings.IndexByte(s, '=')
	if eq < 1 || eq > 3 {
		return "", "", 0, false
	}
	for i := 0; i < eq; i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "", "", 0, false
		}
	}
	key = s[:eq]
	v := s[eq+1:]
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for j := 1; j < len(v); j++ {
			switch v[j] {
			case '\\':
				if j+1 < len(v) && v[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				b.WriteByte('\\')
			case '"':
				return key, b.String(), eq + 1 + j + 1, true
			default:
				b.WriteByte(v[j])
			}
		}
		return key, b.String(), len(s), true // unterminated: take the rest
	}
	end := strings.IndexByte(v, ' ')
	if end < 0 {
		end = len(v)
	}
	return key, v[:end], eq + 1 + end, true
}

// splitFields iterates over the KEY=value fields of s, skipping other words.
func splitFields(s string) func(func(kv) bool) {
	return func(yield func(kv) bool) {
		for i := 0; i < len(s); {
			for i < len(s) && s[i] == ' ' {
				i++
			}
			if i >= len(s) {
				return
			}
			k, v, n, ok := field(s[i:])
			if !ok {
				sp := strings.IndexByte(s[i:], ' ')
				if sp < 0 {
					return
				}
				i += sp
				continue
			}
			if !yield(kv{k, v}) {
				return
			}
			i += n
		}
	}
}

type kv struct{ key, value string }

// unescape undoes Exim's escaping of non-printing characters in logged
// replies: a multi-line reply arrives as "550-… \n550 …" with a literal
// backslash-n.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseSMTPError reads the remote reply out of Exim's
// "SMTP error from remote mail server after <command>: [host H [IP]: ]<reply>"
// (also "remote mailer"). Other reasons (Connection refused, retry timeout
// exceeded, unknown mail domain) leave smtp empty but for what H= gave.
func parseSMTPError(s string, smtp *event.SMTP) {
	_, after, ok := strings.Cut(s, "SMTP error from remote ")
	if !ok {
		return
	}
	_, after, ok = strings.Cut(after, " after ")
	if !ok {
		return
	}
	// The command may contain colons ("RCPT TO:<a@b>:", "MAIL FROM:<a@b>
	// SIZE=1234:"): when it has an address, end it at the first ": " after
	// the address, else at the first ": ".
	var cmd string
	if lt := strings.IndexByte(after, '<'); lt >= 0 && lt < strings.Index(after+": ", ": ") {
		gt := strings.IndexByte(after[lt:], '>')
		if gt < 0 {
			return
		}
		end := strings.Index(after[lt+gt:], ": ")
		if end < 0 {
			return
		}
		end += lt + gt
		cmd, after = after[:end], after[end+2:]
	} else {
		var found bool
		cmd, after, found = strings.Cut(after, ": ")
		if !found {
			return
		}
	}
	smtp.Command = command(cmd)
	// Old layout: "host mx [ip]: reply".
	if strings.HasPrefix(after, "host ") {
		h := after[len("host "):]
		if sp := strings.IndexByte(h, ' '); sp > 0 && strings.HasPrefix(h[sp+1:], "[") {
			if end := strings.Index(h, "]: "); end > sp {
				if smtp.RemoteHost == "" {
					smtp.RemoteHost = h[:sp]
				}
				if smtp.RemoteIP == "" {
					smtp.RemoteIP = h[sp+2 : end]
				}
				after = h[end+3:]
			}
		}
	}
	setReply(smtp, after)
}

// command names the SMTP stage in the canonical vocabulary.
func command(s string) string {
	s = strings.TrimPrefix(s, "pipelined ")
	u := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(u, "RCPT TO"):
		return "RCPT TO"
	case strings.HasPrefix(u, "MAIL FROM"):
		return "MAIL FROM"
	case u == "END OF DATA":
		return "END-OF-DATA"
	case u == "DATA":
		return "DATA"
	case u == "INITIAL CONNECTION":
		return "CONNECT"
	case strings.HasPrefix(u, "EHLO"):
		return "EHLO"
	case strings.HasPrefix(u, "HELO"):
		return "HELO"
	case strings.HasPrefix(u, "STARTTLS"):
		return "STARTTLS"
	}
	if w, _, _ := strings.Cut(u, " "); w != "" {
		return w
	}
	return ""
}

// setReply fills smtp from a remote reply as Exim logged it. A text that
// does not start with a reply code is not the server's: Exim's own wording
// is kept whole, as logged.
func setReply(smtp *event.SMTP, s string) {
	r := reply.Parse(s)
	if r.Code == 0 {
		smtp.Text = s
		return
	}
	smtp.Code, smtp.Enhanced, smtp.Text = r.Code, r.Enhanced, r.Text
}

// maxKeptReply bounds the reply text kept per deferred recipient.
const maxKeptReply = 512

// lastReply remembers a deferral's reply for its recipient, and gives an
// expiry without one the last reply the recipient's server sent: that is
// why the address expired.
func (d *Decoder) lastReply(key msgKey, rcpt string, a *event.Attempt) {
	m := d.msgs[key]
	if m == nil {
		return
	}
	switch {
	case a.Outcome == event.Deferred && a.SMTP.Code != 0:
		if m.last == nil {
			m.last = make(map[string]event.SMTP)
		}
		r := a.SMTP
		if len(r.Text) > maxKeptReply {
			r.Text = strings.ToValidUTF8(r.Text[:maxKeptReply], "")
		}
		m.last[rcpt] = r
	case a.Outcome == event.Expired && a.SMTP.Code == 0:
		if r, ok := m.last[rcpt]; ok {
			a.SMTP = r
		}
	}
}
