package smtpsink

import "strings"

// Replies is the reply to a recipient's first, second, … try; the last one
// repeats for every later try. A reply's lines are separated by "\n" and
// each starts with its code ("550 5.1.1 …\n550 5.1.1 …"); the sink writes
// the continuation dashes.
type Replies []string

// at is the reply to try n (from 1).
func (r Replies) at(n int) string {
	if n > len(r) {
		n = len(r)
	}
	return r[n-1]
}

// Rule is how the sink answers one kind of recipient.
type Rule struct {
	// RCPT answers RCPT TO.
	RCPT Replies
	// Data, when set, answers the end of DATA of a message this recipient
	// was accepted for; unset, the message is accepted.
	Data Replies
}

// Script maps a recipient to its Rule by the first word of its local part:
// the part before the first '.', '+' or '-', ASCII case folded, so
// "Unknown.Two@Example.TEST" is answered as "unknown".
type Script struct {
	// Rules by first word. A word with no rule gets Default.
	Rules   map[string]Rule
	Default Rule
}

// Rule is the rule for rcpt.
func (s *Script) Rule(rcpt string) Rule {
	local, _, _ := strings.Cut(rcpt, "@")
	if i := strings.IndexAny(local, ".+-"); i >= 0 {
		local = local[:i]
	}
	if r, ok := s.Rules[strings.ToLower(local)]; ok {
		return r
	}
	return s.Default
}

// The replies of DefaultScript, by name, so that tests and expectations can
// refer to them.
const (
	ReplyOK          = "250 2.1.5 Ok"
	ReplyUnknown     = "550 5.1.1 User unknown in local recipient table"
	ReplyFull        = "552 5.2.2 Mailbox full"
	ReplyBlocked     = "554 5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.spamhaus.org"
	ReplyGreylisted  = "451 4.7.1 Greylisted, please try again later"
	ReplySoft        = "450 4.2.1 Mailbox temporarily unavailable"
	ReplyMultiReject = "550 5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 Please try double-checking the recipient's email address.\n550 5.1.1 https://support.example.test/mail/?p=NoSuchUser"
	ReplyMultiQueued = "250 2.0.0 Ok: queued as 4F2A1B\n250 2.0.0 Thank you"
	ReplySpam        = "550 5.7.1 Message content rejected as spam"
	ReplyGreeting421 = "421 4.7.0 sink.example.test Too many connections, try again later"
)

// DefaultScript is the script scripts/mta-logs uses: one first word per
// reply class.
//
//	ok, anything else  250 at RCPT, message accepted
//	unknown            550 5.1.1 at RCPT
//	full               552 5.2.2 at RCPT
//	blocked            554 5.7.1 blocklist at RCPT
//	grey               451 4.7.1 on the first try, 250 after
//	soft               450 4.2.1 on every try (until the message expires)
//	multi              multi-line 550-5.1.1 at RCPT
//	multiok            250 at RCPT, multi-line 250- after end of data
//	spam               250 at RCPT, 550 5.7.1 after end of data
func DefaultScript() *Script {
	return &Script{
		Default: Rule{RCPT: Replies{ReplyOK}},
		Rules: map[string]Rule{
			"ok":      {RCPT: Replies{ReplyOK}},
			"unknown": {RCPT: Replies{ReplyUnknown}},
			"full":    {RCPT: Replies{ReplyFull}},
			"blocked": {RCPT: Replies{ReplyBlocked}},
			"grey":    {RCPT: Replies{ReplyGreylisted, ReplyOK}},
			"soft":    {RCPT: Replies{ReplySoft}},
			"multi":   {RCPT: Replies{ReplyMultiReject}},
			"multiok": {RCPT: Replies{ReplyOK}, Data: Replies{ReplyMultiQueued}},
			"spam":    {RCPT: Replies{ReplyOK}, Data: Replies{ReplySpam}},
		},
	}
}
