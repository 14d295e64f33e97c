package mail

import (
	"strings"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// complaint is what a feedback report says.
type complaint struct {
	feedbackType   string   // lower case; "abuse" when the report has none (Microsoft JMRP)
	recipients     []string // Original-Rcpt-To, or what stands for it
	mailFrom       string
	arrival        string // Arrival-Date (or Received-Date), unparsed
	sourceIP       string
	reportedDomain string
	userAgent      string
}

// feedbackTypes says what each RFC 5965 / RFC 6591 / RFC 6430 feedback
// type becomes. A type not listed is read as "other" (RFC 5965 §7.3 asks
// receivers to do so): a complaint.
var feedbackTypes = map[string]string{
	"abuse":   "", // a spam complaint
	"fraud":   "", // phishing or fraud reported by the recipient
	"virus":   "", // the recipient's system found a virus
	"other":   "",
	"opt-out": "", // an unsubscribe request made through the feedback loop: suppress all the same
	// not-spam (RFC 6430) is a recipient taking back a spam verdict: it is
	// no complaint and nothing to suppress.
	"not-spam": SkipNotSpam,
	// auth-failure (RFC 6591) is a DMARC/SPF/DKIM failure report about
	// a message, not a recipient's opinion of it.
	"auth-failure": SkipAuthFailure,
	"dmarc":        SkipAuthFailure,
}

// readFeedback reads a message/feedback-report part.
func readFeedback(b []byte, cfg *Config) (complaint, error) {
	h, _, err := parseHeader(trimBlankLines(b), cfg.maxHeaderBytes())
	if err != nil {
		return complaint{}, err
	}
	c := complaint{
		feedbackType:   strings.ToLower(strings.TrimSpace(firstWord(h.get("Feedback-Type")))),
		mailFrom:       mailbox(h.get("Original-Mail-From")),
		arrival:        h.get("Arrival-Date"),
		sourceIP:       strings.Trim(strings.TrimSpace(h.get("Source-IP")), "[]"),
		reportedDomain: strings.TrimSpace(h.get("Reported-Domain")),
		userAgent:      strings.TrimSpace(h.get("User-Agent")),
	}
	if c.arrival == "" {
		c.arrival = h.get("Received-Date")
	}
	for _, f := range h {
		if !strings.EqualFold(f.name, "Original-Rcpt-To") {
			continue
		}
		if a := mailbox(f.value); a != "" {
			if len(c.recipients) == cfg.maxRecipients() {
				return c, raw.Errorf(ErrTooManyRecipients, "the feedback report has more than %d Original-Rcpt-To fields (ingest.mail.max_recipients)", cfg.maxRecipients())
			}
			c.recipients = append(c.recipients, a)
		}
	}
	return c, nil
}

// trimBlankLines drops the empty lines a part's body may start with.
func trimBlankLines(b []byte) []byte {
	for len(b) > 0 {
		line, rest := nextLine(b)
		if len(strings.TrimSpace(string(line))) != 0 {
			return b
		}
		b = rest
	}
	return b
}
