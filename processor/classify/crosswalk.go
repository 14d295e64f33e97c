package classify

import (
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
)

// Crosswalk reads a source's own classification (event.SourceClassification:
// PowerMTA's bounceCat, KumoMTA's bounce_classification, SES's bounce and
// delay types, SendGrid's type and bounce_classification, Mailgun's
// severity and reason) in bounced's taxonomy, so that attempts can show
// where bounced and the source disagree. label is "" when the source names
// only a class (SES "Permanent/General"); ok is false when the source says
// nothing bounced can compare (PowerMTA "other", SES "Undetermined"). It
// is not evidence for the classifier (rules decide that): a mail team
// trusts a verdict more when it can see where it differs from its MTA.
func Crosswalk(scheme, value string) (class event.Class, label event.Label, ok bool) {
	switch scheme {
	case "pmta_bounceCat", "kumomta":
		label, ok = bounceCategories[squash(value)]
	case "ses":
		return sesCrosswalk(value)
	case "ses_delay":
		label, ok = sesDelays[squash(value)]
	case "sendgrid":
		return sendgridCrosswalk(value)
	case "mailgun":
		return mailgunCrosswalk(value)
	case "pmta_fbl", "ses_complaint", "kumomta_feedback":
		label, ok = event.LabelComplaint, true
	}
	if !ok {
		return "", "", false
	}
	class, _, ok = label.Taxonomy()
	return class, label, ok
}

// squash folds the spellings of one category: "bad-mailbox",
// "BadMailbox" and "bad_mailbox" are one key.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '_' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// bounceCategories are PowerMTA's bounce categories (bounceCat, hyphenated)
// and KumoMTA's, which reuse those names in CamelCase and add a few.
var bounceCategories = map[string]event.Label{
	"badmailbox":           event.MailboxUnknown,
	"invalidrecipient":     event.MailboxUnknown,
	"inactivemailbox":      event.MailboxInactive,
	"baddomain":            event.DomainUnknown,
	"quotaissues":          event.MailboxFull,
	"noanswerfromhost":     event.NetworkError,
	"badconnection":        event.NetworkError,
	"routingerrors":        event.NetworkError,
	"protocolerrors":       event.ProtocolError,
	"messageexpired":       event.LabelExpired,
	"spamrelated":          event.SenderBlocked,
	"spamblock":            event.SenderBlocked,
	"spamcontent":          event.SpamContent,
	"contentrelated":       event.ContentRejected,
	"policyrelated":        event.PolicyViolation,
	"virusrelated":         event.VirusDetected,
	"invalidsender":        event.SenderAddressRejected,
	"relayingissues":       event.RelayDenied,
	"authenticationfailed": event.AuthFailure,
	"messagetoolarge":      event.MessageTooLarge,
}

// sesDelays are SES's DeliveryDelay delayType values.
var sesDelays = map[string]event.Label{
	"mailboxfull":                   event.MailboxFull,
	"spamdetected":                  event.SpamContent,
	"ipfailure":                     event.SenderBlocked,
	"recipientservererror":          event.RemoteSystemError,
	"transientcommunicationfailure": event.NetworkError,
	"internalfailure":               event.RemoteSystemError,
}

// sesCrosswalk reads "bounceType/bounceSubType" of an SES bounce, or
// "Complaint/…".
func sesCrosswalk(v string) (event.Class, event.Label, bool) {
	typ, sub, _ := strings.Cut(v, "/")
	switch typ {
	case "Complaint":
		return event.ClassComplaint, event.LabelComplaint, true
	case "Permanent":
		switch sub {
		case "NoEmail":
			return event.ClassHard, event.MailboxUnknown, true
		case "Suppressed", "OnAccountSuppressionList":
			return event.ClassHard, event.Suppressed, true
		}
		return event.ClassHard, "", true
	case "Transient":
		switch sub {
		case "MailboxFull":
			return event.ClassSoft, event.MailboxFull, true
		case "MessageTooLarge":
			return event.ClassBlock, event.MessageTooLarge, true
		case "ContentRejected", "AttachmentRejected":
			return event.ClassBlock, event.ContentRejected, true
		}
		return event.ClassSoft, "", true
	}
	return "", "", false
}

// sendgridCrosswalk reads SendGrid's "type[/bounce_classification]",
// "dropped/reason" and "spamreport".
func sendgridCrosswalk(v string) (event.Class, event.Label, bool) {
	typ, sub, _ := strings.Cut(v, "/")
	switch typ {
	case "spamreport":
		return event.ClassComplaint, event.LabelComplaint, true
	case "dropped":
		return event.ClassHard, event.Suppressed, true
	}
	switch squash(sub) {
	case "invalidaddress":
		return event.ClassHard, event.MailboxUnknown, true
	case "mailboxunavailable":
		return event.ClassHard, event.MailboxInactive, true
	case "technical":
		return event.ClassSoft, event.RemoteSystemError, true
	case "content":
		return event.ClassBlock, event.ContentRejected, true
	case "reputation":
		return event.ClassBlock, event.SenderBlocked, true
	case "frequencyorvolume":
		return event.ClassBlock, event.RateLimited, true
	}
	switch typ {
	case "bounce": // SendGrid's permanent failure
		return event.ClassHard, "", true
	case "blocked": // its temporary refusal by the receiver
		return event.ClassSoft, "", true
	}
	return "", "", false
}

// mailgunCrosswalk reads Mailgun's "severity[/reason]" of a failed event,
// and "complained".
func mailgunCrosswalk(v string) (event.Class, event.Label, bool) {
	sev, reason, _ := strings.Cut(v, "/")
	if sev == "complained" {
		return event.ClassComplaint, event.LabelComplaint, true
	}
	switch reason {
	case "suppress-bounce", "suppress-unsubscribe", "suppress-complaint":
		return event.ClassHard, event.Suppressed, true
	case "espblock":
		return event.ClassBlock, event.SenderBlocked, true
	case "greylisted":
		return event.ClassSoft, event.Greylisted, true
	case "old":
		return event.ClassSoft, event.LabelExpired, true
	}
	switch sev {
	case "permanent":
		return event.ClassHard, "", true
	case "temporary":
		return event.ClassSoft, "", true
	}
	return "", "", false
}
