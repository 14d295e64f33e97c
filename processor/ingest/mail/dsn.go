package mail

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// finding is one recipient's result, from a DSN block or a text layout.
type finding struct {
	recipient  string
	outcome    event.Outcome
	skip       string // set instead of outcome for a block that is no failure
	code       int
	enhanced   string
	text       string // the server's reply text
	diagnostic string // prose around it, when there is no reply
	remoteHost string
	when       time.Time
	action     string
}

// dsnFields splits a delivery-status body into its field blocks: the
// per-message fields, then one block per recipient (RFC 3464 §2.1). Blocks
// are separated by empty lines; leading empty lines are skipped.
func dsnFields(b []byte, cfg *Config) (msg header, rcpts []header, err error) {
	first := true
	for len(b) > 0 {
		for len(b) > 0 {
			line, rest := nextLine(b)
			if len(strings.TrimSpace(string(line))) != 0 {
				break
			}
			b = rest
		}
		if len(b) == 0 {
			break
		}
		h, rest, err := parseHeader(b, cfg.maxHeaderBytes())
		if err != nil {
			return nil, nil, err
		}
		if len(h) == 0 {
			// A line that is not a field: skip it rather than loop.
			_, rest = nextLine(b)
		}
		b = rest
		if len(h) == 0 {
			continue
		}
		isRcpt := h.has("Final-Recipient") || h.has("Original-Recipient") || h.has("Action")
		switch {
		case first && !isRcpt:
			msg = h
		case isRcpt:
			if len(rcpts) == cfg.maxRecipients() {
				return nil, nil, raw.Errorf(ErrTooManyRecipients, "the delivery-status part has more than %d recipient blocks (ingest.mail.max_recipients)", cfg.maxRecipients())
			}
			rcpts = append(rcpts, h)
		default:
			// A block of per-message fields after the first: MTAs that
			// split theirs. Keep its fields with the message's.
			msg = append(msg, h...)
		}
		first = false
	}
	return msg, rcpts, nil
}

// dsnFinding reads one per-recipient block.
func dsnFinding(h header) finding {
	var f finding
	f.recipient = address(h.get("Final-Recipient"))
	if f.recipient == "" {
		f.recipient = address(h.get("Original-Recipient"))
	}
	f.action = strings.ToLower(strings.TrimSpace(firstWord(h.get("Action"))))
	status := strings.TrimSpace(firstWord(h.get("Status")))
	if reply.ValidEnhanced(status) {
		f.enhanced = status
	}
	if d := h.get("Diagnostic-Code"); d != "" {
		r := diagnostic(d)
		f.code, f.text = r.Code, r.Text
		// The remote's own enhanced code is the evidence; a Status of
		// X.0.0 says only the class (Exim writes 5.0.0 for every remote
		// 5xx, and 5.0.0 when a 450 4.2.1 outlived the retry time).
		if f.enhanced == "" || genericStatus(f.enhanced) && r.Enhanced != "" {
			f.enhanced = r.Enhanced
		}
	}
	if host, ok := reply.CutType(collapse(h.get("Remote-MTA"))); ok {
		f.remoteHost = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	}
	f.when = parseDate(h.get("Last-Attempt-Date"))
	switch f.action {
	case "failed":
		f.outcome = event.Bounced
		if strings.HasPrefix(f.enhanced, "4.") && f.code < 500 {
			// A temporary status on a failure: the MTA gave up retrying
			// (Postfix's maximal_queue_lifetime, Sendmail's Timeout.queuereturn).
			f.outcome = event.Expired
		}
	case "delayed":
		f.outcome = event.Deferred
	case "expired":
		// Not in RFC 3464, written by SendGrid's DSNs.
		f.outcome = event.Expired
	case "delivered":
		f.skip = SkipDelivered
	case "relayed", "expanded":
		f.skip = SkipRelayed
	default:
		// No Action (or one RFC 3464 does not define): the status class
		// decides, then the reply code's.
		switch {
		case strings.HasPrefix(f.enhanced, "5.") || f.enhanced == "" && f.code >= 500:
			f.outcome = event.Bounced
		case strings.HasPrefix(f.enhanced, "4.") || f.enhanced == "" && f.code >= 400:
			f.outcome = event.Deferred
		case strings.HasPrefix(f.enhanced, "2."):
			f.skip = SkipDelivered
		}
	}
	return f
}

// genericStatus reports whether an enhanced code names only its class
// (2.0.0, 4.0.0, 5.0.0).
func genericStatus(s string) bool { return len(s) == 5 && s[1:] == ".0.0" }

// diagnostic reads a Diagnostic-Code: "smtp; 550-5.1.1 first line
// 550 5.1.1 second line" once unfolded. A non-SMTP type (X-Postfix,
// X-Unix) is prose: it stays text, with any codes it quotes found.
func diagnostic(v string) reply.Reply {
	v = collapse(v)
	typ, _, _ := strings.Cut(v, ";")
	rest, ok := reply.CutType(v)
	if ok && !strings.EqualFold(strings.TrimSpace(typ), "smtp") {
		code, enh := reply.Find(rest)
		r := reply.Reply{Code: code, Text: rest}
		if enh.Valid() {
			r.Enhanced = enh.String()
		}
		return r
	}
	r := reply.ParseFlat(rest)
	if r.Code == 0 {
		// "smtp; 5.1.1 <x>: Recipient address rejected" (no reply code),
		// or prose before the reply.
		code, enh := reply.Find(rest)
		r.Code = code
		if enh.Valid() {
			r.Enhanced = enh.String()
		}
	}
	if r.Enhanced != "" && !reply.ValidEnhanced(r.Enhanced) {
		r.Enhanced = ""
	}
	return r
}

// address reads an address-type field value ("rfc822; jane@example.org",
// "rfc822;<jane@example.org>", "jane@example.org") and returns the address,
// or "" when the value is of another type or holds no mailbox.
func address(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if typ, rest, ok := strings.Cut(v, ";"); ok {
		t := strings.ToLower(strings.TrimSpace(typ))
		if t != "rfc822" && t != "utf-8" && t != "unknown" {
			return ""
		}
		v = rest
	}
	return mailbox(v)
}

// mailbox returns the one address a text names: the inside of <…> if any,
// else the text itself, if it looks like local@domain.
func mailbox(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	v = strings.Trim(strings.TrimSpace(v), "<>\"'")
	if !looksLikeAddress(v) {
		return ""
	}
	return v
}

// looksLikeAddress is a cheap plausibility check, not RFC 5321 validation
// (ingest normalises and validates): one @ with text on both sides, no
// spaces, controls or brackets in the local part, a domain of letters,
// digits, hyphens and dots with at least one dot (or an address literal),
// at most 320 bytes.
func looksLikeAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 320 || !utf8.ValidString(s) || hasC1(s) {
		return false
	}
	for i := 0; i < at; i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f, strings.IndexByte("<>,()[]:;@\\", c) >= 0:
			return false
		}
	}
	d := s[at+1:]
	if strings.HasPrefix(d, "[") {
		return strings.HasSuffix(d, "]") && !strings.ContainsAny(d[1:len(d)-1], "[] ")
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c >= 0x80) {
			return false
		}
	}
	return strings.Contains(d, ".") && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".")
}

// hasC1 reports whether s holds a C1 control character (U+0080..U+009F),
// which ingest refuses in an address.
func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

// collapse unfolds a field value completely: every run of white space
// becomes one space.
func collapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t(;"); i >= 0 {
		return s[:i]
	}
	return s
}
