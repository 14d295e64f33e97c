package mail

import (
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Layout names of the non-standard bounces (metadata "mail.layout").
const (
	layoutDSN       = "dsn"
	layoutQmail     = "qmail"
	layoutPostfix   = "postfix_text"
	layoutSendmail  = "sendmail_text"
	layoutExim      = "exim_text"
	layoutExchange  = "exchange_text"
	layoutGmail     = "gmail_text"
	layoutAngle     = "angle_text" // "<address>:" then the reason, as Yahoo and others write
	layoutList      = "list_text"  // address lines, then their reasons (any bounce, read without a marker)
	layoutOpenSMTPD = "opensmtpd_text"
	layoutDragonFly = "dragonfly_text"
	layoutWorkMail  = "workmail_text"
	layoutMimecast  = "mimecast_text"
	layoutNotes     = "notes_text"
)

// originalMarkers start the copy of the original message in a bounce
// without MIME structure; the text before is the report.
var originalMarkers = []string{
	"--- Below this line is a copy of the message.",
	"------ This is a copy of the message, including all the headers.",
	"------ This is a copy of the message's headers.",
	"----- Original message -----",
	"----- Unsent message follows -----",
	"----- Original message follows -----",
	"--- Original message follows.",
	"Original message headers:",
	"------ This is a copy of the body of the message",
	"--- The header of the original message is following. ---",
	"Below is a copy of the original message:",
	"Message headers follow.",
	"------- Returned Message --------",
	"Original message follows.",
}

// cutOriginal splits a bounce's text at the start of the copy of the
// original message.
func cutOriginal(text string) (report, original string) {
	cut := len(text)
	for _, m := range originalMarkers {
		if i := strings.Index(text, m); i >= 0 && i < cut {
			cut = i
		}
	}
	if cut == len(text) {
		return text, ""
	}
	rest := text[cut:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[i+1:]
	} else {
		rest = ""
	}
	return text[:cut], strings.TrimLeft(rest, "\r\n \t")
}

// layout is one non-standard bounce text: a marker that identifies it, the
// outcome it reports, and how its recipients are listed.
type layout struct {
	name    string
	marker  string
	outcome event.Outcome
	angle   bool // recipients are "<address>:" lines (qmail, Postfix); else address lines after the marker
	inline  bool // the address follows the marker in the same sentence ("… to <address>.")
	replies bool // recipients are in "550 <address>... reason" lines (a Sendmail transcript)
}

// layouts are tried in order; the first whose marker the text holds
// decides. Markers are matched case-insensitively.
var layouts = []layout{
	{layoutQmail, "this is the qmail-send program", event.Bounced, true, false, false},
	{layoutPostfix, "you do not need to resend your message", event.Deferred, true, false, false},
	{layoutPostfix, "this is the mail system at host", event.Bounced, true, false, false},
	{layoutSendmail, "the following addresses had transient non-fatal errors", event.Deferred, false, false, false},
	{layoutSendmail, "the following addresses had permanent fatal errors", event.Bounced, false, false, false},
	{layoutExim, "the following address(es) failed:", event.Bounced, false, false, false},
	{layoutExim, "the address to which the message has not yet been delivered is:", event.Deferred, false, false, false},
	{layoutExim, "the addresses to which the message has not yet been delivered are:", event.Deferred, false, false, false},
	{layoutExchange, "delivery has failed to these recipients or groups:", event.Bounced, false, false, false},
	{layoutExchange, "did not reach the following recipient(s):", event.Bounced, false, false, false},
	{layoutExchange, "the following recipient(s) cannot be reached:", event.Bounced, false, false, false},
	{layoutGmail, "delivery to the following recipient has been delayed:", event.Deferred, false, false, false},
	{layoutGmail, "delivery to the following recipients has been delayed:", event.Deferred, false, false, false},
	{layoutGmail, "delivery to the following recipient failed permanently:", event.Bounced, false, false, false},
	{layoutGmail, "delivery to the following recipients failed permanently:", event.Bounced, false, false, false},
	{layoutExchange, "the following recipient(s) could not be reached:", event.Bounced, false, false, false},
	{layoutExchange, "your message to", event.Bounced, false, true, false}, // Office 365: "Your message to a@b couldn't be delivered."
	{layoutGmail, "your message wasn't delivered to", event.Bounced, false, true, false},
	{layoutAngle, "unable to deliver your message to the following address", event.Bounced, true, false, false},
	{layoutAngle, "i'm afraid i wasn't able to deliver your message", event.Bounced, true, false, false},
	{layoutOpenSMTPD, "an error has occurred while attempting to deliver a message for", event.Bounced, true, false, false},
	{layoutDragonFly, "there was an error delivering your mail to", event.Bounced, false, true, false},
	{layoutExim, "the following address failed:", event.Bounced, false, false, false}, // GMX, an Exim derivative
	{layoutWorkMail, "an error occurred while trying to deliver the mail to the following recipients:", event.Bounced, false, false, false},
	{layoutMimecast, "that you attempted to send to the following address could not be delivered", event.Bounced, false, false, false},
	{layoutNotes, "------- failure reasons", event.Bounced, false, false, false},
	{layoutSendmail, "----- transcript of session follows -----", event.Bounced, false, false, true},
}

// detailMarkers start a section of technical detail that applies to every
// recipient of a text bounce (the reply, a session transcript).
var detailMarkers = []string{
	"the error that the other server returned was:",
	"technical details of permanent failure:",
	"technical details of temporary failure:",
	"----- transcript of session follows -----",
	"diagnostic information for administrators:",
}

// textFindings reads a non-standard bounce. generic allows the "<address>:"
// layout without a marker, for a message whose headers say it is a bounce.
// It returns the layout's name and one finding per recipient, or "" when no
// layout fits.
func textFindings(report string, generic bool, cfg *Config) (string, []finding, error) {
	// Line breaks count as spaces when looking for a marker: some MTAs
	// wrap their sentences anywhere. Replacing one byte with one keeps the
	// offsets those of report.
	lower := foldASCII(report)
	details := detailText(report, lower)
	matched := ""
	for i := range layouts {
		lay := &layouts[i]
		at := strings.Index(lower, lay.marker)
		if at < 0 {
			continue
		}
		matched = cmpOr(matched, lay.name)
		body := report[at+len(lay.marker):]
		if lay.name == layoutQmail || lay.name == layoutPostfix {
			body = report[at:]
		}
		var fs []finding
		var err error
		switch {
		case lay.replies:
			fs, err = replyRecipients(body, cfg)
		case lay.inline:
			fs = inlineRecipient(body)
		case lay.angle:
			fs, err = angleRecipients(body, cfg)
		default:
			fs, err = listedRecipients(body, cfg)
		}
		if err != nil {
			return "", nil, err
		}
		if len(fs) == 0 {
			continue
		}
		warning := isWarning(lower)
		for i := range fs {
			f := &fs[i]
			f.outcome = lay.outcome
			if warning {
				f.outcome = event.Deferred
			}
			own := collapse(f.diagnostic)
			if own == "" && details == "" {
				if _, next, ok := strings.Cut(body, "\n"); ok {
					own = collapse(firstParagraph(next))
				}
			}
			if details != "" && !strings.Contains(own, details) {
				own = strings.TrimSpace(own + " " + details)
			}
			f.diagnostic = own
			if lay.replies && f.code >= 400 && f.code < 500 {
				f.outcome = event.Deferred
			}
			if lay.name == layoutQmail && strings.Contains(strings.ToLower(own), "temporary") {
				f.outcome = event.Deferred
			}
		}
		return lay.name, fs, nil
	}
	if matched == "" && !generic {
		return "", nil, nil
	}
	// A known marker whose own reading found nobody, or a message whose
	// headers say it is a bounce: try both generic readings.
	fs, err := angleRecipients(report, cfg)
	name := layoutAngle
	if err == nil && len(fs) == 0 {
		fs, err = listedRecipients(report, cfg)
		name = layoutList
	}
	if err != nil {
		return "", nil, err
	}
	if len(fs) == 0 {
		// A known layout without a readable recipient may still have a
		// VERP envelope; a message that only looks like a bounce is not
		// read further.
		return matched, nil, nil
	}
	warning := isWarning(lower)
	for i := range fs {
		fs[i].outcome = event.Bounced
		if warning {
			fs[i].outcome = event.Deferred
		}
		fs[i].diagnostic = strings.TrimSpace(collapse(fs[i].diagnostic + " " + details))
	}
	return name, fs, nil
}

// foldASCII lower-cases ASCII letters and turns line breaks into spaces,
// byte for byte: offsets in the result are offsets in s (strings.ToLower
// changes lengths, for invalid UTF-8 and for some letters).
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '\n':
			b[i] = ' '
		}
	}
	return string(b)
}

// warnings are phrases of delay notices: the MTA is still trying.
var warnings = []string{
	"you do not need to resend your message", "this is a warning message only", "will be retried",
	"still trying", "will keep trying", "has been delayed", "has not yet been delivered",
}

// isWarning reports whether a text bounce is a delay notice.
func isWarning(lower string) bool {
	for _, w := range warnings {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// detailText returns the sections after the detail markers, collapsed.
func detailText(report, lower string) string {
	var parts []string
	for _, m := range detailMarkers {
		i := strings.Index(lower, m)
		if i < 0 {
			continue
		}
		sec := report[i+len(m):]
		// The section ends at the first empty line after some text.
		sec = firstParagraph(sec)
		if m == "diagnostic information for administrators:" {
			sec = exchangeReply(report[i+len(m):])
		}
		if sec != "" {
			parts = append(parts, sec)
		}
	}
	return collapse(strings.Join(parts, " "))
}

// exchangeReply finds the remote server's reply in Exchange's section for
// administrators: "Remote Server returned '550 5.1.10 …'" or
// "#550 5.1.1 RESOLVER.ADR.RecipientNotFound ##".
func exchangeReply(sec string) string {
	if i := strings.Index(sec, "Remote Server returned '"); i >= 0 {
		s := sec[i+len("Remote Server returned '"):]
		if j := strings.Index(s, "'\n"); j >= 0 {
			s = s[:j]
		} else if j := strings.LastIndexByte(s, '\''); j >= 0 {
			s = s[:j]
		}
		return collapse(s)
	}
	if i := strings.Index(sec, "#"); i >= 0 {
		s := sec[i+1:]
		if j := strings.Index(s, "##"); j >= 0 {
			return collapse(s[:j])
		}
	}
	return ""
}

// firstParagraph returns the text up to the first empty line that follows
// some text.
func firstParagraph(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		t := strings.TrimSpace(line)
		if t == "" {
			if b.Len() > 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(t, "-----") {
			break
		}
		b.WriteString(t)
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

// inlineRecipient reads the address that ends a marker sentence ("There
// was an error delivering your mail to <a@b>."); the reason is the
// paragraph that follows.
func inlineRecipient(body string) []finding {
	w, _, _ := strings.Cut(strings.TrimSpace(body), " ")
	w, _, _ = strings.Cut(w, "\n")
	a := mailbox(strings.TrimRight(w, ".,;:"))
	if a == "" {
		return nil
	}
	return []finding{{recipient: a}}
}

// replyRecipients reads a Sendmail session transcript for replies that
// name the recipient: "550 <a@b>... User unknown", "554 a@b... Service
// unavailable". The reply is the recipient's reason.
func replyRecipients(body string, cfg *Config) ([]finding, error) {
	var fs []finding
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "-----") && len(fs) > 0 {
			break
		}
		code := reply.Code(t)
		if code < 400 || len(t) < 5 || t[3] != ' ' {
			continue
		}
		w, _, ok := strings.Cut(t[4:], "...")
		if !ok {
			continue
		}
		a := lineAddress(w)
		if a == "" || strings.Contains(w, " ") {
			continue
		}
		if len(fs) == cfg.maxRecipients() {
			return nil, raw.Errorf(ErrTooManyRecipients, "the bounce lists more than %d recipients (ingest.mail.max_recipients)", cfg.maxRecipients())
		}
		fs = append(fs, finding{recipient: a, code: code, diagnostic: t})
	}
	return fs, nil
}

// angleRecipients reads "<address>: reason" blocks: the reason is the rest
// of the line and the lines after, up to an empty line or the next
// recipient.
func angleRecipients(body string, cfg *Config) ([]finding, error) {
	var fs []finding
	var cur *finding
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if cur != nil && t != "" && (line[0] == ' ' || line[0] == '\t') {
			// An indented line continues the current reason, even when
			// it quotes the address again (Postfix wraps that way).
			appendReason(&cur.diagnostic, t)
			continue
		}
		if w, rest, _ := strings.Cut(t, " "); strings.HasSuffix(w, ":") && !strings.HasPrefix(t, "<") {
			// "a@b: reason" (OpenSMTPD), "\"a@b\":" (GMX).
			if a := mailbox(strings.TrimSuffix(w, ":")); a != "" {
				if len(fs) == cfg.maxRecipients() {
					return nil, raw.Errorf(ErrTooManyRecipients, "the bounce lists more than %d recipients (ingest.mail.max_recipients)", cfg.maxRecipients())
				}
				fs = append(fs, finding{recipient: a, diagnostic: strings.TrimSpace(rest)})
				cur = &fs[len(fs)-1]
				continue
			}
		}
		if strings.HasPrefix(t, "<") {
			if end := strings.Index(t, ">"); end > 0 {
				rest := strings.TrimSpace(t[end+1:])
				// "<a@b> (expanded from <c@d>): reason" (Postfix).
				if strings.HasPrefix(rest, "(expanded from") {
					if k := strings.Index(rest, "):"); k >= 0 {
						rest = rest[k+1:]
					}
				}
				if a := mailbox(t[:end+1]); a != "" && strings.HasPrefix(rest, ":") {
					if len(fs) == cfg.maxRecipients() {
						return nil, raw.Errorf(ErrTooManyRecipients, "the bounce lists more than %d recipients (ingest.mail.max_recipients)", cfg.maxRecipients())
					}
					fs = append(fs, finding{recipient: a, diagnostic: strings.TrimSpace(rest[1:])})
					cur = &fs[len(fs)-1]
					continue
				}
			}
		}
		if cur == nil {
			continue
		}
		if t == "" {
			cur = nil
			continue
		}
		appendReason(&cur.diagnostic, t)
	}
	return fs, nil
}

// listedRecipients reads address lines after a marker: each recipient's
// line starts with its address (">>> a@b <a@b>", "a@b<mailto:a@b>",
// "a@b on <date>", "<a@b>"), and the lines that follow, up to the next
// address line, are its reason. Reading stops at the first line that is
// neither, after an empty line.
func listedRecipients(body string, cfg *Config) ([]finding, error) {
	var fs []finding
	blank := false
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if t == "" {
			blank = true
			continue
		}
		if strings.HasPrefix(t, "-----") || strings.HasPrefix(t, "=====") {
			if len(fs) > 0 {
				break
			}
			continue
		}
		if a := lineAddress(t); a != "" {
			if len(fs) == cfg.maxRecipients() {
				return nil, raw.Errorf(ErrTooManyRecipients, "the bounce lists more than %d recipients (ingest.mail.max_recipients)", cfg.maxRecipients())
			}
			fs = append(fs, finding{recipient: a})
			blank = false
			continue
		}
		if len(fs) == 0 || blank {
			if len(fs) > 0 {
				break
			}
			continue
		}
		appendReason(&fs[len(fs)-1].diagnostic, t)
	}
	return fs, nil
}

// appendReason adds a line to a recipient's reason, up to the length an
// attempt keeps: beyond it the line would be cut anyway, and appending to
// an ever longer string would make a hostile bounce quadratic.
func appendReason(d *string, line string) {
	if len(*d) >= maxTextBytes {
		return
	}
	if *d == "" {
		*d = line
		return
	}
	*d += " " + line
}

// lineAddress returns the address a recipient line starts with, or "".
// The first word must be the address itself (bare, in <>, in quotes):
// an address inside a longer word ("Message-ID:<…>", a sentence in a
// script without spaces) is not a recipient line.
func lineAddress(t string) string {
	t = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(t, ">>>"), "-- "))
	w, _, _ := strings.Cut(t, " ")
	w, _, _ = strings.Cut(w, "\t")
	if i := strings.Index(w, "<mailto:"); i > 0 {
		w = w[:i]
	}
	w = strings.TrimSuffix(w, ":")
	w = strings.TrimPrefix(strings.TrimSuffix(w, ">"), "<")
	w = strings.Trim(w, "\"'")
	if !looksLikeAddress(w) {
		return ""
	}
	return w
}
