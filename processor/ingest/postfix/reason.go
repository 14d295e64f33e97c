package postfix

import (
	"net/netip"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/reply"
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
		setReply(&r, s[i+len(" said: "):])
		return r
	}
	if i := strings.Index(s, " refused to talk to me: "); i >= 0 {
		// The greeting was a rejection: nothing was sent yet.
		r.RemoteHost, r.RemoteIP = lastHostIP(s[:i])
		setReply(&r, s[i+len(" refused to talk to me: "):])
		if r.Command == "" {
			r.Command = "CONNECT"
		}
		return r
	}
	if len(s) >= 4 && reply.Code(s) != 0 {
		// status=sent carries the remote's final reply without "said:".
		setReply(&r, s)
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// setReply fills code, enhanced code, text and command from a reply as
// Postfix logs it: "550-5.7.1 line one 550-5.7.1 line two 550 5.7.1 last
// (in reply to end of DATA command)". The command is Postfix's own
// addition; the rest is the server's multi-line reply with its lines
// joined.
func setReply(r *event.SMTP, s string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "(in reply to "); i >= 0 && strings.HasSuffix(s, " command)") && i+len("(in reply to ") <= len(s)-len(" command)") {
		r.Command = normCommand(s[i+len("(in reply to ") : len(s)-len(" command)")])
		s = strings.TrimSpace(s[:i])
	}
	p := reply.ParseFlat(s)
	r.Code, r.Enhanced, r.Text = p.Code, p.Enhanced, p.Text
}

// normCommand maps Postfix's "in reply to X command" wording onto the
// canonical command names of docs/formats.md.
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
