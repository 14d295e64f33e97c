// Package pmta decodes PowerMTA accounting files (CSV, RFC 4180) into
// canonical attempts (docs/formats.md, research/formats.md §3).
//
// Columns are read by header name, never by position: PowerMTA writes the
// fields each record type was configured with (record-fields), and a file
// holding several types has the union of them. The header line (first
// column "type") starts a file and may recur, e.g. when files are
// concatenated or rotated into one stream; each occurrence replaces the
// columns in use for that source (host and file).
package pmta

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Kind is the source kind of every attempt this package produces.
const Kind = "pmta"

// Reasons a record is skipped.
const (
	SkipHeader       = "pmta.header"        // a header line: it sets the columns
	SkipBlank        = "pmta.blank"         // an empty line
	SkipReceived     = "pmta.received"      // r: a message was received
	SkipRemoteStatus = "pmta.remote_status" // rs: an asynchronous DSN that is not a failure (relayed, delivered)
)

// Reasons a record cannot be decoded (the raw.Error reason).
const (
	ErrUnparsable  = "pmta.unparsable"   // not RFC 4180 CSV (an unterminated quote)
	ErrNoHeader    = "pmta.no_header"    // a data line before any header, and no Config.Header
	ErrColumns     = "pmta.columns"      // more fields than the header has columns
	ErrUnknownType = "pmta.unknown_type" // a record type this package does not know
	ErrTime        = "pmta.invalid_time" // no usable time, or one that does not parse
	// ErrUTF8: a field the attempt keeps as an id (orig, the campaign
	// and tenant columns, vmta, dlvSourceIp, a header_ or envId column)
	// is not UTF-8. It would be stored with U+FFFD in place of the bytes,
	// a guess at another id; the reply text is cleaned instead.
	ErrUTF8 = "pmta.invalid_utf8"
	// ErrNoRecipient: a d, b, t, tq, rb or f record with an empty rcpt (or
	// a header without the column). An attempt happened but cannot be
	// attributed, so it is dead-lettered rather than counted as a skip.
	ErrNoRecipient = "pmta.no_recipient"
)

// maxQuoted bounds the untrusted text an error message quotes.
const maxQuoted = 40

// DefaultFields is PowerMTA's documented default field order of an
// accounting record; use it as Config.Header for files written without a
// header line (or by PowerMTA versions that do not repeat it).
func DefaultFields() []string {
	return []string{"type", "timeLogged", "timeQueued", "timeImprinted", "orig", "rcpt", "orcpt",
		"dsnAction", "dsnStatus", "dsnDiag", "dsnMta", "bounceCat", "srcType", "srcMta", "dlvType",
		"dlvSourceIp", "dlvDestinationIp", "dlvEsmtpAvailable", "dlvSize", "vmta", "jobId", "envId"}
}

// Config tunes the PowerMTA decoder. The zero value is valid.
type Config struct {
	// Header is the column list used for data lines that come before any
	// header line of their source (first column "type"). Default none:
	// such lines are errors, since guessing columns misreads every field.
	Header []string `koanf:"header"`
	// TimeZone is the IANA zone of times written without an offset
	// ("2016-05-29 01:10:51"). Default "UTC".
	TimeZone string `koanf:"time_zone"`
	// CampaignColumn names the column holding the campaign id. Default
	// "jobId"; a header column is named "header_X-Campaign-ID".
	CampaignColumn string `koanf:"campaign_column"`
	// TenantColumn names the column holding the tenant. Default: vmtaPool,
	// or vmta when the pool is empty (a common convention is one vmta or
	// pool per customer). "-" sets no tenant.
	TenantColumn string `koanf:"tenant_column"`
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if len(c.Header) > 0 {
		if c.Header[0] != "type" {
			return fmt.Errorf("ingest.pmta.header: the first column must be \"type\", not %q", c.Header[0])
		}
		seen := make(map[string]bool, len(c.Header))
		for _, h := range c.Header {
			if h == "" || seen[h] {
				return fmt.Errorf("ingest.pmta.header: column %q is empty or repeated", h)
			}
			seen[h] = true
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return fmt.Errorf("ingest.pmta.time_zone: %w", err)
		}
	}
	if strings.ContainsAny(c.CampaignColumn, ", \"") {
		return fmt.Errorf("ingest.pmta.campaign_column: %q is not a column name", c.CampaignColumn)
	}
	if strings.ContainsAny(c.TenantColumn, ", \"") {
		return fmt.Errorf("ingest.pmta.tenant_column: %q is not a column name", c.TenantColumn)
	}
	return nil
}

// Decoder turns accounting records into attempts. Its state is the header
// in force per source (host and file): small, but it matters across a
// restart, since data lines after the restart point cannot be read without
// it; Snapshot and Restore carry it. A Decoder is not safe for concurrent
// use.
type Decoder struct {
	cfg      Config
	loc      *time.Location
	fallback *header
	headers  map[source]*header
	scratch  []string // reused field slice: one line's fields at a time
}

type source struct{ host, file string }

// header is a parsed header line: column indexes by name.
type header struct {
	names []string
	idx   map[string]int
}

func newHeader(names []string) *header {
	h := &header{names: names, idx: make(map[string]int, len(names))}
	for i, n := range names {
		if _, dup := h.idx[n]; !dup {
			h.idx[n] = i
		}
	}
	return h
}

// New builds a Decoder. cfg should have passed Validate; an invalid zone
// falls back to UTC.
func New(cfg Config) *Decoder {
	d := &Decoder{cfg: cfg, loc: time.UTC, headers: make(map[source]*header)}
	if cfg.TimeZone != "" {
		if l, err := time.LoadLocation(cfg.TimeZone); err == nil {
			d.loc = l
		}
	}
	if len(cfg.Header) > 0 {
		d.fallback = newHeader(append([]string(nil), cfg.Header...))
	}
	if d.cfg.CampaignColumn == "" {
		d.cfg.CampaignColumn = "jobId"
	}
	return d
}

// Decode turns one CSV line into zero or one attempts, a skip reason, or a
// *raw.Error whose reason starts with "pmta.".
func (d *Decoder) Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error) {
	line := strings.TrimRight(string(rec.Payload), "\r\n")
	if strings.TrimSpace(line) == "" {
		return nil, SkipBlank, nil
	}
	fs, err := splitCSV(line, d.scratch[:0])
	d.scratch = fs[:0]
	if err != nil {
		return nil, "", raw.Errorf(ErrUnparsable, "%v", err)
	}
	src := source{rec.Host, rec.File}
	if fs[0] == "type" {
		d.setHeader(src, append([]string(nil), fs...))
		return nil, SkipHeader, nil
	}
	h := d.headers[src]
	if h == nil {
		h = d.fallback
	}
	if h == nil {
		return nil, "", raw.Errorf(ErrNoHeader, "a %q record before any header line; set ingest.pmta.header if the files have none", reply.Elide(fs[0], maxQuoted))
	}
	if len(fs) > len(h.names) {
		return nil, "", raw.Errorf(ErrColumns, "%d fields, the header has %d columns", len(fs), len(h.names))
	}
	r := row{h: h, f: fs}
	a, skip, err := d.attempt(rec, r)
	if err != nil || skip != "" {
		return nil, skip, err
	}
	return []event.Attempt{a}, "", nil
}

// row is one data line read through its header.
type row struct {
	h *header
	f []string
}

// get returns the named column, or "" when the header lacks it or the line
// is short (PowerMTA leaves fields of other record types empty).
func (r row) get(name string) string {
	i, ok := r.h.idx[name]
	if !ok || i >= len(r.f) {
		return ""
	}
	return r.f[i]
}

func (d *Decoder) attempt(rec raw.Record, r row) (event.Attempt, string, error) {
	var a event.Attempt
	typ := r.get("type")
	switch typ {
	case "d":
		a.Outcome = event.Delivered
	case "b":
		a.Outcome = event.Bounced
		if r.get("bounceCat") == "message-expired" {
			a.Outcome = event.Expired
		}
	case "t", "tq":
		a.Outcome = event.Deferred
	case "rb":
		a.Outcome = event.Bounced
		a.SetMetadata("async", "true")
	case "f":
		// A feedback-loop report: the message was delivered and the
		// recipient called it spam. The classifier makes it a complaint.
		a.Outcome = event.Delivered
		a.SourceClassification = &event.SourceClassification{Scheme: "pmta_fbl", Value: "complaint"}
	case "r":
		return a, SkipReceived, nil
	case "rs":
		return a, SkipRemoteStatus, nil
	default:
		return a, "", raw.Errorf(ErrUnknownType, "record type %q", reply.Elide(typ, maxQuoted))
	}
	a.Recipient = strings.TrimSpace(r.get("rcpt"))
	if a.Recipient == "" {
		if _, ok := r.h.idx["rcpt"]; !ok {
			return a, "", raw.Errorf(ErrNoRecipient, "a %q record, and the header has no rcpt column (add rcpt to record-fields)", typ)
		}
		return a, "", raw.Errorf(ErrNoRecipient, "a %q record with an empty rcpt", typ)
	}
	logged, queued := r.get("timeLogged"), r.get("timeQueued")
	var err error
	if a.OccurredAt, err = d.parseTime(logged); err != nil {
		return a, "", raw.Errorf(ErrTime, "timeLogged: %v", err)
	}
	if a.SentAt, err = d.parseTime(queued); err != nil {
		return a, "", raw.Errorf(ErrTime, "timeQueued: %v", err)
	}
	if a.OccurredAt.IsZero() {
		// Without timeLogged the shipper's time is the best we have; the
		// queue time is a lower bound for files that log neither.
		a.OccurredAt = rec.Time.UTC()
		if rec.Time.IsZero() {
			a.OccurredAt = a.SentAt
		}
	}
	if a.OccurredAt.IsZero() {
		return a, "", raw.Errorf(ErrTime, "no timeLogged or timeQueued and no record time")
	}
	if !a.SentAt.IsZero() {
		if delay := a.OccurredAt.Sub(a.SentAt).Seconds(); delay > 0 {
			a.DelaySeconds = delay
		}
	}
	status := r.get("dsnStatus")
	a.EventID = event.NaturalID(Kind, typ, a.Recipient, logged, queued, r.get("jobId"), r.get("vmta"), status)
	a.Source = event.Source{Kind: Kind, Host: rec.Host}
	a.Sender = r.get("orig")
	a.CampaignID = r.get(d.cfg.CampaignColumn)
	vmta, pool := r.get("vmta"), r.get("vmtaPool")
	a.Pool = pool
	if a.Pool == "" {
		a.Pool = vmta
	}
	switch d.cfg.TenantColumn {
	case "":
		a.Tenant = a.Pool
	case "-":
	default:
		a.Tenant = r.get(d.cfg.TenantColumn)
	}
	a.SendingIP = r.get("dlvSourceIp")
	if cat := r.get("bounceCat"); cat != "" && a.SourceClassification == nil && typ != "d" {
		a.SourceClassification = &event.SourceClassification{Scheme: "pmta_bounceCat", Value: cat}
	}

	// The reply: dsnDiag is what the remote server said; dsnStatus is the
	// status PowerMTA assigned (with a comment), used when the reply has
	// no enhanced code.
	diag := r.get("dsnDiag")
	parseDiag(diag, &a.SMTP)
	enh, _, _ := strings.Cut(strings.TrimSpace(status), " ")
	if !reply.ValidEnhanced(enh) {
		enh = ""
	}
	if a.SMTP.Enhanced == "" {
		a.SMTP.Enhanced = enh
	} else if enh != "" && enh != a.SMTP.Enhanced {
		a.SetMetadata("dsn_status", enh)
	}
	a.Diagnostic = diag
	if a.Diagnostic == "" && a.Outcome != event.Delivered {
		a.Diagnostic = status // "5.1.1 (bad destination mailbox address)"
	}
	a.SMTP.RemoteHost, a.SMTP.RemoteIP = hostIP(r.get("dsnMta"))
	if a.SMTP.RemoteIP == "" {
		// dsnMta names the host only when the remote answered; the
		// address PowerMTA connected to (or tried to) is its own field.
		a.SMTP.RemoteIP = strings.TrimSpace(r.get("dlvDestinationIp"))
	}

	for i, name := range r.h.names {
		if i >= len(r.f) || r.f[i] == "" {
			continue
		}
		switch {
		case strings.HasPrefix(name, "header_"):
			h := strings.ToLower(name[len("header_"):])
			a.SetMetadata("header."+h, r.f[i])
			if h == "message-id" {
				a.MessageID = r.f[i]
			}
		case name == "envId":
			a.SetMetadata("env_id", r.f[i])
		case name == "orcpt":
			// RFC 3461 ORCPT as PowerMTA logs it: "rfc822;addr" or addr.
			o := r.f[i]
			if t, addr, ok := strings.Cut(o, ";"); ok && strings.EqualFold(strings.TrimSpace(t), "rfc822") {
				o = strings.TrimSpace(addr)
			}
			if o != "" && o != a.Recipient {
				a.SetMetadata("original_recipient", o)
			}
		case name == "feedbackType":
			a.SetMetadata("feedback_type", r.f[i])
		}
	}
	if err := checkUTF8(&a, d.cfg.CampaignColumn, d.cfg.TenantColumn); err != nil {
		return a, "", err
	}
	return a, "", nil
}

// checkUTF8 refuses an attempt whose kept id fields or metadata values are
// not UTF-8 (ErrUTF8), naming the column.
func checkUTF8(a *event.Attempt, campaignCol, tenantCol string) error {
	for _, f := range []struct{ col, v string }{
		{"orig", a.Sender},
		{"vmtaPool or vmta", a.Pool},
		{campaignCol, a.CampaignID},
		{tenantCol, a.Tenant}, // "" (the pool, checked above) or "-" (none) leave it clean
		{"dlvSourceIp", a.SendingIP},
		{"header_message-id", a.MessageID},
	} {
		if !utf8.ValidString(f.v) {
			return raw.Errorf(ErrUTF8, "column %s: %q is not valid UTF-8", f.col, reply.Elide(strings.ToValidUTF8(f.v, "\uFFFD"), maxQuoted))
		}
	}
	for k, v := range a.Metadata {
		if !utf8.ValidString(v) {
			return raw.Errorf(ErrUTF8, "metadata %s: %q is not valid UTF-8", k, reply.Elide(strings.ToValidUTF8(v, "\uFFFD"), maxQuoted))
		}
	}
	return nil
}

// parseTime reads "2016-05-29 01:10:51+0200" (also with "T", "Z" or
// "+02:00", or without an offset: then in the configured zone) or a Unix
// epoch, PowerMTA's two time formats. "" is the zero time.
func (d *Decoder) parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if allDigits(s) || (strings.Count(s, ".") == 1 && allDigits(strings.Replace(s, ".", "", 1))) {
		sec, frac, _ := strings.Cut(s, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || n > 1<<40 {
			return time.Time{}, fmt.Errorf("epoch %q out of range", reply.Elide(s, maxQuoted))
		}
		var ns int64
		if frac != "" {
			frac = (frac + "000000000")[:9]
			ns, _ = strconv.ParseInt(frac, 10, 64)
		}
		return time.Unix(n, ns).UTC(), nil
	}
	if len(s) >= 19 && s[10] == 'T' {
		s = s[:10] + " " + s[11:]
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, d.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an epoch nor \"YYYY-MM-DD HH:MM:SS+ZZZZ\"", reply.Elide(s, maxQuoted))
	}
	return t.UTC(), nil
}

// parseDiag reads a Diagnostic-Code style "smtp;550 5.1.1 <a@b>... User
// unknown": the type prefix dropped, the code, the enhanced code and the
// text. Multi-line replies PowerMTA flattened ("550-5.7.1 a 550 5.7.1 b")
// are read as one line and keep their text as is.
func parseDiag(s string, smtp *event.SMTP) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if rest, ok := reply.CutType(s); ok {
		s = rest
	}
	if len(s) > 3 && s[3] == '-' && reply.Code(s) != 0 {
		// "550-5.1.1 a 550-5.1.1 b 550 5.1.1 c": drop the repeated
		// prefixes so rules read the server's sentence.
		r := reply.ParseFlat(s)
		smtp.Code, smtp.Enhanced, smtp.Text = r.Code, r.Enhanced, r.Text
		return
	}
	smtp.Code, smtp.Enhanced, smtp.Text = reply.Line(s)
}

// hostIP splits dsnMta's "mx.host (1.2.3.4)"; either part may be missing.
func hostIP(s string) (host, ip string) {
	s = strings.TrimSpace(s)
	if open := strings.IndexByte(s, '('); open >= 0 && strings.HasSuffix(s, ")") {
		return strings.TrimSpace(s[:open]), strings.TrimSpace(s[open+1 : len(s)-1])
	}
	return s, ""
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

var errQuote = errors.New("unterminated quoted field")

// splitCSV splits one RFC 4180 line into fields, appending to dst. Quoted
// fields may hold commas and doubled quotes; a quote inside an unquoted
// field is taken literally (PowerMTA quotes whenever a value needs it, so
// leniency costs nothing and keeps odd values readable). One record is one
// line: shippers split files at newlines, so a quoted newline never
// reaches here whole.
func splitCSV(s string, dst []string) ([]string, error) {
	for {
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return dst, errQuote
				}
				b.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			dst = append(dst, b.String())
			s = s[i:]
			if s == "" {
				return dst, nil
			}
			if s[0] != ',' {
				return dst, fmt.Errorf("text after a quoted field: %q", reply.Elide(s, maxQuoted))
			}
			s = s[1:]
			continue
		}
		j := strings.IndexByte(s, ',')
		if j < 0 {
			return append(dst, s), nil
		}
		dst = append(dst, s[:j])
		s = s[j+1:]
	}
}
