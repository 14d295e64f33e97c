package mail

import "strings"

// outOfOffice are subject phrases of auto-replies that carry none of the
// RFC 3834 headers, lower case.
var outOfOffice = []string{
	"out of office", "out of the office", "automatic reply", "auto reply", "autoreply", "auto-reply",
	"auto response", "autoresponse", "auto-response", "away from the office", "away from my desk", "away until",
	"on vacation", "vacation reply", "on leave", "abwesenheit", "automatische antwort", "réponse automatique",
	"absence du bureau", "respuesta automática", "fuera de la oficina", "risposta automatica", "afwezig",
}

// isAutoReply reports whether a message (one that is no DSN, no feedback
// report and no known bounce layout) is an auto-reply: RFC 3834's
// Auto-Submitted: auto-replied, the X-Autoreply / X-Autorespond headers
// vacation programs write, Precedence: auto_reply, or an out-of-office
// subject.
func isAutoReply(h header) bool {
	if v := strings.ToLower(strings.TrimSpace(h.get("Auto-Submitted"))); strings.HasPrefix(v, "auto-replied") {
		return true
	}
	if h.has("X-Autoreply") || h.has("X-Autorespond") || h.has("X-Autoresponder") || h.has("X-Vacation") {
		return true
	}
	if strings.EqualFold(strings.TrimSpace(h.get("Precedence")), "auto_reply") {
		return true
	}
	subj := strings.ToLower(decodeWords(h.get("Subject")))
	for _, p := range outOfOffice {
		if strings.Contains(subj, p) {
			return true
		}
	}
	return false
}

// bounceSenders are local parts (or display names) of the senders of
// bounces, lower case.
var bounceSenders = []string{"mailer-daemon", "postmaster", "mail delivery", "mail-daemon", "mailerdaemon"}

// bounceSubjects are subject phrases of bounces, lower case.
var bounceSubjects = []string{
	"undeliver", "delivery status notification", "failure notice", "returned mail", "mail delivery failed",
	"delivery failure", "non-delivery", "nondelivery", "could not be delivered", "delivery has failed",
	"mail system error", "delivery notification", "not delivered", "rejected:", "mail failure",
}

// looksLikeBounce reports whether the headers say a message is a bounce,
// whatever its body: then an unreadable body is an error to look at
// (mail.no_recipient), not a message to skip.
func looksLikeBounce(h header) bool { return bounceWhy(h) != "" }

// bounceWhy names the header that makes a message look like a bounce, or "".
func bounceWhy(h header) string {
	from := strings.ToLower(h.get("From"))
	for _, s := range bounceSenders {
		if strings.Contains(from, s) {
			return "From " + s
		}
	}
	subj := strings.ToLower(decodeWords(h.get("Subject")))
	for _, s := range bounceSubjects {
		if strings.Contains(subj, s) {
			return "Subject " + s
		}
	}
	return ""
}
