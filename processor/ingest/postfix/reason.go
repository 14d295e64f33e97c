package postfix

import (
	"net/netip"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
)

// parseReason reads the parenthesised reason of a status line. A remote
// reply ("host H[IP] said: 550 5.1.1 text (in reply to RCPT TO command)",
// or a bare "250 2.0.0 Ok" on sent lines) fills code, enhanced code, text and
// command; a local condition ("connect to H[IP]:25: Connection timed out",
// "lost connection with H[IP] while ...", a DNS failure) has no code, only
// the remote host when it names one. The caller keeps the whole reason as
// the diagnostic either way.
func parseReason(s string) event.SMTP {
	var r event.SMTP
	if i := strings.Index(s, " said: "); i >= 0 {
		r.RemoteHost, r.RemoteIP = lastHostIP(s[:i])
		parseReply(&r, s[i+len(" said: "):])
		return r
	}
	if i := strings.Index(s, " refused to talk to me: "); i >= 0 {
		// The greeting was a rejection: nothing was sent yet.
		r.RemoteHost, r.RemoteIP = lastHostIP(s[:i])
		parseReply(&r, s[i+len(" refused to talk to me: "):])
		if r.Command == "" {
			r.Command = "CONNECT"
		}
		return r
	}
	if len(s) >= 4 && isCode(s) {
		// status=sent carries the remote's final reply without "said:".
		parseReply(&r, s)
		return r
	}
	inner := strings.TrimPrefix(s, "delivery temporarily suspended: ")
	for _, p := range []string{"connect to ", "lost connection with ", "conversation with "} {
		if rest, ok := strings.CutPrefix(inner, p); ok {
			end := strings.IndexByte(rest, ']')
			if end >= 0 {
				r.RemoteHost, r.RemoteIP = splitHostIP(rest[:end+1])
			}
			break
		}
	}
	return r
}

// isCode reports whether s starts with an SMTP reply code followed by a
// space, a dash (continuation) or nothing.
func isCode(s string) bool {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) {
		return false
	}
	return len(s) == 3 || s[3] == ' ' || s[3] == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseReply fills code, enhanced code, text and command from a reply as
// Postfix logs it: "550-5.7.1 line one 550-5.7.1 line two 550 5.7.1 last
// (in reply to end of DATA command)". Postfix joins the lines of a
// multi-line reply with a space and keeps each line's prefix; the text
// drops the repeated prefixes so rules see the server's sentence.
func parseReply(r *event.SMTP, s string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "(in reply to "); i >= 0 && strings.HasSuffix(s, " command)") && i+len("(in reply to ") <= len(s)-len(" command)") {
		r.Command = normCommand(s[i+len("(in reply to ") : len(s)-len(" command)")])
		s = strings.TrimSpace(s[:i])
	}
	if !isCode(s) {
		r.Text = s
		return
	}
	code := s[:3]
	r.Code = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	multi := len(s) > 3 && s[3] == '-'
	rest := ""
	if len(s) > 3 {
		rest = s[4:]
	}
	enh, n := enhancedPrefix(rest)
	if n > 0 {
		r.Enhanced = enh
		rest = rest[n:]
	}
	if multi {
		rest = stripContinuations(rest, code, enh)
	}
	r.Text = strings.TrimSpace(rest)
}

// enhancedPrefix reads an RFC 3463 code "c.s.d" at the start of s, followed
// by a space or the end, and returns it and the bytes it used (with the
// space).
func enhancedPrefix(s string) (string, int) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return "", 0
	}
	i := 2
	j := i
	for j < len(s) && j-i < 3 && isDigit(s[j]) {
		j++
	}
	if j == i || j >= len(s) || s[j] != '.' {
		return "", 0
	}
	k := j + 1
	l := k
	for l < len(s) && l-k < 3 && isDigit(s[l]) {
		l++
	}
	if l == k {
		return "", 0
	}
	if l == len(s) {
		return s[:l], l
	}
	if s[l] != ' ' {
		return "", 0
	}
	return s[:l], l + 1
}

// stripContinuations removes the "550-5.7.1 " (and the last line's
// "550 5.7.1 ") prefixes that start each joined line of a multi-line
// reply. Only prefixes with the reply's own code at a word start are
// removed; with no enhanced code, a bare "550 " is removed only as the
// last line's prefix, since "550 " could be prose.
func stripContinuations(s, code, enh string) string {
	var b strings.Builder
	b.Grow(len(s))
	// Without an enhanced code, the last line's "code " prefix is the first
	// one after the last "code-" prefix: later ones are prose.
	last := -1
	if enh == "" {
		from := 0
		for i := 0; i+4 <= len(s); i++ {
			if (i == 0 || s[i-1] == ' ') && s[i:i+3] == code && s[i+3] == '-' {
				from = i + 4
			}
		}
		for i := from; i+4 <= len(s); i++ {
			if (i == 0 || s[i-1] == ' ') && s[i:i+3] == code && s[i+3] == ' ' {
				last = i
				break
			}
		}
	}
	i := 0
	for i < len(s) {
		if (i == 0 || s[i-1] == ' ') && strings.HasPrefix(s[i:], code) && i+3 < len(s) {
			sep := s[i+3]
			skip := 0
			switch {
			case sep == '-' || (sep == ' ' && enh != ""):
				e, n := enhancedPrefix(s[i+4:])
				switch {
				case enh != "" && e == enh:
					skip = 4 + n
				case enh == "" && sep == '-':
					skip = 4
				}
			case sep == ' ' && i == last:
				skip = 4
			}
			if skip > 0 {
				i += skip
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// normCommand maps Postfix's "in reply to X command" wording onto the
// canonical command names of SPEC §2.
func normCommand(c string) string {
	switch c {
	case "RCPT TO", "MAIL FROM", "DATA", "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "XFORWARD", "XCLIENT", "BDAT", "QUIT", "RSET":
		return c
	case "end of DATA", "END OF DATA", "end of data":
		return "END-OF-DATA"
	}
	return strings.ToUpper(c)
}

// lastHostIP finds "H[IP]" as the last word of s ("host H[IP]",
// "SASL authentication failed; server H[IP]").
func lastHostIP(s string) (host, ip string) {
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		s = s[i+1:]
	}
	return splitHostIP(s)
}

// splitHostIP splits "H[IP]" (also "H[IP]:port"); a bracket that does not
// hold an address (a unix socket, "private/dovecot-lmtp") yields no IP.
func splitHostIP(s string) (host, ip string) {
	o := strings.IndexByte(s, '[')
	if o < 0 {
		return "", ""
	}
	c := strings.IndexByte(s[o:], ']')
	if c < 0 {
		return "", ""
	}
	host, ip = s[:o], s[o+1:o+c]
	if _, err := netip.ParseAddr(ip); err != nil {
		ip = ""
	}
	return host, ip
}

// isLoopback reports whether a relay or remote host is this machine: the
// hop to a content filter (amavis, a milter-less filter on 127.0.0.1:10024)
// or a local LMTP server.
func isLoopback(host, ip string) bool {
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		return err == nil && a.IsLoopback()
	}
	return host == "localhost" || strings.HasPrefix(host, "localhost.")
}

// ourSide lists wording that, on a relay=none line, can only describe our
// own MTA or network: nothing reached a server of the recipient's domain, so
// the event is no evidence about the recipient. DNS failures are not here on
// purpose: "Host not found" may be the recipient's NXDOMAIN (a hard fact
// about the domain) or our resolver failing; the classifier reads the text.
var ourSide = []string{
	"No route to host",
	"Network is unreachable",
	"loops back to myself",
	"mail transport unavailable",
	"unknown mail transport error",
	"Temporary lookup failure",
	"queue file write error",
	"mail system configuration error",
	"local configuration error",
	"Permission denied",
	"Cannot assign requested address",
	"Address family not supported",
	"Resource temporarily unavailable",
	"insufficient system resources",
}

// localFailure reports whether a status line with relay=none failed on our
// side: one of the ourSide phrases, or a connection to a loopback address
// (the content filter is down).
func localFailure(relay, reason string, r *event.SMTP) bool {
	if relay != "none" {
		return false
	}
	if r.RemoteHost != "" && isLoopback(r.RemoteHost, r.RemoteIP) {
		return true
	}
	for _, p := range ourSide {
		if strings.Contains(reason, p) {
			return true
		}
	}
	return false
}
