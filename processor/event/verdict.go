package event

// Class is what a verdict means for the recipient (docs/classification.md).
type Class string

// The classes of docs/classification.md.
const (
	ClassHard      Class = "hard"
	ClassSoft      Class = "soft"
	ClassBlock     Class = "block"
	ClassComplaint Class = "complaint"
	ClassAutoReply Class = "auto_reply"
	ClassDelivered Class = "delivered"
)

// Scope says whose fault a verdict points at.
type Scope string

// The scopes of docs/classification.md. NonBounce is the scope of complaints, auto-replies
// and deliveries, which docs/classification.md leaves blank.
const (
	ScopeRecipient Scope = "recipient"
	ScopeDomain    Scope = "domain"
	ScopeUpstream  Scope = "upstream"
	ScopeTransport Scope = "transport"
	ScopeUnknown   Scope = "unknown"
	ScopeMessage   Scope = "message"
	ScopeSender    Scope = "sender"
	ScopeNonBounce Scope = "non_bounce"
)

// Label is the reason of a verdict (docs/classification.md).
type Label string

// The labels of docs/classification.md.
const (
	MailboxUnknown        Label = "mailbox_unknown"
	MailboxInactive       Label = "mailbox_inactive"
	MailboxMoved          Label = "mailbox_moved"
	DomainUnknown         Label = "domain_unknown"
	Suppressed            Label = "suppressed"
	MailboxFull           Label = "mailbox_full"
	RecipientFiltered     Label = "recipient_filtered"
	NetworkError          Label = "network_error"
	RemoteSystemError     Label = "remote_system_error"
	LabelExpired          Label = "expired"
	Greylisted            Label = "greylisted"
	Unknown               Label = "unknown"
	MessageTooLarge       Label = "message_too_large"
	ContentRejected       Label = "content_rejected"
	SpamContent           Label = "spam_content"
	VirusDetected         Label = "virus_detected"
	SenderBlocked         Label = "sender_blocked"
	AuthFailure           Label = "auth_failure"
	SenderConfig          Label = "sender_config"
	SenderAddressRejected Label = "sender_address_rejected"
	PolicyViolation       Label = "policy_violation"
	RelayDenied           Label = "relay_denied"
	RateLimited           Label = "rate_limited"
	ProtocolError         Label = "protocol_error"
	LabelComplaint        Label = "complaint"
	LabelAutoReply        Label = "auto_reply"
	LabelDelivered        Label = "delivered"
)

// Labels lists every label in the order of docs/classification.md's table.
func Labels() []Label {
	return []Label{
		MailboxUnknown, MailboxInactive, MailboxMoved, DomainUnknown, Suppressed,
		MailboxFull, RecipientFiltered, NetworkError, RemoteSystemError, LabelExpired, Greylisted, Unknown,
		MessageTooLarge, ContentRejected, SpamContent, VirusDetected,
		SenderBlocked, AuthFailure, SenderConfig, SenderAddressRejected, PolicyViolation, RelayDenied, RateLimited, ProtocolError,
		LabelComplaint, LabelAutoReply, LabelDelivered,
	}
}

// Taxonomy returns the class and scope a label belongs to; ok is false for a
// label docs/classification.md does not define.
func (l Label) Taxonomy() (c Class, s Scope, ok bool) {
	switch l {
	case MailboxUnknown, MailboxInactive, MailboxMoved:
		return ClassHard, ScopeRecipient, true
	case DomainUnknown:
		return ClassHard, ScopeDomain, true
	case Suppressed:
		return ClassHard, ScopeUpstream, true
	case MailboxFull, RecipientFiltered:
		return ClassSoft, ScopeRecipient, true
	case NetworkError, RemoteSystemError, LabelExpired, Greylisted:
		return ClassSoft, ScopeTransport, true
	case Unknown:
		return ClassSoft, ScopeUnknown, true
	case MessageTooLarge, ContentRejected, SpamContent, VirusDetected:
		return ClassBlock, ScopeMessage, true
	case SenderBlocked, AuthFailure, SenderConfig, SenderAddressRejected, PolicyViolation, RelayDenied, RateLimited, ProtocolError:
		return ClassBlock, ScopeSender, true
	case LabelComplaint:
		return ClassComplaint, ScopeNonBounce, true
	case LabelAutoReply:
		return ClassAutoReply, ScopeNonBounce, true
	case LabelDelivered:
		return ClassDelivered, ScopeNonBounce, true
	}
	return "", "", false
}

// Verdict is the classifier's answer for one event. Rule names the rule that
// decided, so every suppression can be explained. Local is set when the
// failure happened inside our own MTA (no route, no DNS answer for our own
// resolver, a local queue error): such failures never count against the
// recipient (docs/classification.md).
type Verdict struct {
	Class Class  `json:"class"`
	Label Label  `json:"label"`
	Scope Scope  `json:"scope"`
	Rule  string `json:"rule"`
	Local bool   `json:"local,omitempty"`
}

// NewVerdict builds the verdict for a label decided by rule, with class and
// scope from the taxonomy.
func NewVerdict(l Label, rule string) Verdict {
	c, s, _ := l.Taxonomy()
	return Verdict{Class: c, Label: l, Scope: s, Rule: rule}
}
