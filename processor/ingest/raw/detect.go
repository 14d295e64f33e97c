package raw

import "bytes"

// Format names Detect returns; they name the adapters.
const (
	FormatCanonical = "canonical"
	FormatKumoMTA   = "kumomta"
	FormatSES       = "ses"
	FormatSendGrid  = "sendgrid"
	FormatMailgun   = "mailgun"
	FormatPostmark  = "postmark"
	FormatPostfix   = "postfix"
	FormatExim      = "exim"
	FormatPMTA      = "pmta"
	FormatPostal    = "postal"
	FormatMail      = "mail"
)

// Detect names the format of rec's payload, or "" when it is none that
// bounced reads. It looks, it does not decode: JSON payloads are walked
// for their top-level keys only (so a key inside a nested object or a word
// inside a string never counts), text lines are matched on their first
// bytes. The checks, in order, first match wins:
//
// The syslog program, when Unwrap found one (it comes first because a
// split Exim line, "[1/2] …", would otherwise look like a JSON array):
//
//	postfix    "postfix", "postfix…/…" or "<name>/<postfix daemon>" (multi-instance syslog_name)
//	exim       "exim…"
//	""         sendmail, sm-mta or sm-msp-queue: Sendmail's queue ids look like Postfix's
//
// A JSON object, by its top-level keys:
//
//	canonical  recipient and outcome
//	ses        Type and Message (the SNS wrapper), or notificationType or eventType, with mail
//	mailgun    event-data (with or without signature), or event, recipient and id or timestamp
//	postal     event whose value starts with Message, DomainDNS or SendLimit, payload (an object), and
//	           uuid or timestamp
//	postmark   RecordType
//	kumomta    type whose value is a KumoMTA record type (Delivery, Bounce, …), with id, queue or response
//	sendgrid   sg_event_id (one event of a batch that a bridge split)
//
// A JSON array: sendgrid when its first element is an object with
// sg_event_id, or with event and email.
//
// A text line, by its first bytes:
//
//	exim       "YYYY-MM-DD hh:mm:ss[.frac][ ±zzzz] [[pid] ]" then an Exim message id (16 or 23 characters)
//	pmta       a CSV line whose first field is d, b, t, tq, r, f, rb or rs, or the header "type,<name>"
//	postfix    "<hex queue id, 6+>: ", or "<long queue id>: " (10+ characters of Postfix's base-52
//	           alphabet, then the 'z' that separates time from inode, then more)
//	mail       an RFC 5322 message (see IsMail): a bounce mail or complaint report from `bounced mail`
//
// The rules are disjoint for the samples in testdata; the order only
// matters for made-up records that satisfy two of them.
func Detect(rec Record) string {
	if rec.Program != "" {
		switch {
		case isPostfixProgram(rec.Program):
			return FormatPostfix
		case len(rec.Program) >= 4 && rec.Program[:4] == "exim":
			return FormatExim
		case rec.Program == "sendmail" || rec.Program == "sm-mta" || rec.Program == "sm-msp-queue":
			return ""
		}
	}
	p := rec.Payload
	i := skipWS(p, 0)
	if i < len(p) {
		switch p[i] {
		case '{':
			return detectObject(p[i:])
		case '[':
			return detectArray(p[i:])
		}
	}
	p = p[i:]
	switch {
	case isEximLine(p):
		return FormatExim
	case isPMTALine(p):
		return FormatPMTA
	case isPostfixQueueLine(p):
		return FormatPostfix
	case IsMail(p):
		return FormatMail
	}
	return ""
}

// Top-level keys Detect looks for.
const (
	kRecipient = 1 << iota
	kOutcome
	kSNSType
	kSNSMessage
	kNotificationType
	kEventType
	kMail
	kEventData
	kEvent
	kID
	kTimestamp
	kRecordType
	kKumoType
	kQueue
	kResponse
	kSgEventID
	kEmail
	kPostalEvent
	kPayload
	kUUID
)

func objectKeys(obj []byte) (keys int, ok bool) {
	m, ok := objectMembers(obj)
	if !ok {
		return 0, false
	}
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case "recipient":
			keys |= kRecipient
		case "outcome":
			keys |= kOutcome
		case "Type":
			keys |= kSNSType
		case "Message":
			keys |= kSNSMessage
		case "notificationType":
			keys |= kNotificationType
		case "eventType":
			keys |= kEventType
		case "mail":
			keys |= kMail
		case "event-data":
			keys |= kEventData
		case "event":
			keys |= kEvent
			if isPostalEvent(v) {
				keys |= kPostalEvent
			}
		case "id":
			keys |= kID
		case "timestamp":
			keys |= kTimestamp
		case "RecordType":
			keys |= kRecordType
		case "type":
			if isKumoType(v) {
				keys |= kKumoType
			}
		case "queue":
			keys |= kQueue
		case "response":
			keys |= kResponse
		case "sg_event_id":
			keys |= kSgEventID
		case "email":
			keys |= kEmail
		case "payload":
			if len(v) > 0 && v[0] == '{' {
				keys |= kPayload
			}
		case "uuid":
			keys |= kUUID
		}
	}
	// A truncated or malformed object still gets a verdict from the keys
	// seen so far: the adapter then reports the JSON error with its own
	// reason, which says more than "unknown format".
	return keys, true
}

func has(keys, want int) bool { return keys&want == want }

func detectObject(obj []byte) string {
	keys, ok := objectKeys(obj)
	if !ok {
		return ""
	}
	switch {
	case has(keys, kRecipient|kOutcome):
		return FormatCanonical
	case has(keys, kSNSType|kSNSMessage),
		keys&(kNotificationType|kEventType) != 0 && has(keys, kMail):
		return FormatSES
	case has(keys, kEventData),
		has(keys, kEvent|kRecipient) && keys&(kID|kTimestamp) != 0:
		return FormatMailgun
	case has(keys, kPostalEvent|kPayload) && keys&(kUUID|kTimestamp) != 0:
		return FormatPostal
	case has(keys, kRecordType):
		return FormatPostmark
	case has(keys, kKumoType) && keys&(kID|kQueue|kResponse) != 0:
		return FormatKumoMTA
	case has(keys, kSgEventID):
		return FormatSendGrid
	}
	return ""
}

func detectArray(arr []byte) string {
	i := skipWS(arr, 1)
	if i >= len(arr) || arr[i] != '{' {
		return ""
	}
	end := skipNested(arr, i)
	if end < 0 {
		return ""
	}
	keys, _ := objectKeys(arr[i:end])
	if has(keys, kSgEventID) || has(keys, kEvent|kEmail) {
		return FormatSendGrid
	}
	return ""
}

// postalEventPrefixes start the names of Postal's webhook events
// (app/models/webhook_event.rb, app/models/server.rb): MessageSent,
// MessageBounced, …, DomainDNSError, SendLimitExceeded, ….
var postalEventPrefixes = [...]string{"Message", "DomainDNS", "SendLimit"}

func isPostalEvent(v []byte) bool {
	if !isString(v) {
		return false
	}
	s := v[1 : len(v)-1]
	for _, p := range postalEventPrefixes {
		if len(s) > len(p) && string(s[:len(p)]) == p {
			return true
		}
	}
	return false
}

// kumoTypes are the values of a KumoMTA log record's "type"
// (docs/reference/log_record.md).
var kumoTypes = [...]string{
	"Reception", "Delivery", "Bounce", "TransientFailure", "Expiration", "AdminBounce", "OOB", "Feedback",
	"Rejection", "AdminRebind", "DeferredInjectionRebind", "Delayed", "XferOut", "XferIn",
}

func isKumoType(v []byte) bool {
	if !isString(v) {
		return false
	}
	s := v[1 : len(v)-1]
	for _, t := range kumoTypes {
		if string(s) == t {
			return true
		}
	}
	return false
}

// postfixDaemons are the services Postfix logs as "<syslog_name>/<service>";
// with a syslog_name of the user's choosing (multi-instance setups:
// "postfix-out/smtp", "mx2/qmgr") the service is what identifies Postfix.
var postfixDaemons = [...]string{
	"smtp", "lmtp", "smtpd", "qmgr", "oqmgr", "cleanup", "bounce", "defer", "trace", "pickup", "local",
	"virtual", "pipe", "error", "retry", "discard", "postscreen", "dnsblog", "tlsproxy", "anvil", "scache",
	"tlsmgr", "master", "trivial-rewrite", "proxymap", "verify", "flush", "showq", "spawn", "postdrop",
	"postqueue", "postsuper", "postlog", "sendmail",
}

func isPostfixProgram(p string) bool {
	if p == "postfix" {
		return true
	}
	slash := -1
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			slash = i
		}
	}
	if slash <= 0 {
		return false
	}
	if len(p) >= 7 && p[:7] == "postfix" {
		return true
	}
	svc := p[slash+1:]
	for _, d := range postfixDaemons {
		if svc == d {
			return true
		}
	}
	return false
}

// isEximLine matches an Exim main log line: its timestamp (with the
// optional fraction of log_selector +millisec and the zone of
// log_timezone), the optional "[pid] " of +pid, and a message id. Exim
// lines without a message id (connections, daemon notices) do not match:
// they are not about a delivery.
func isEximLine(p []byte) bool {
	_, n, ok := scanISO(p, ' ')
	if !ok || n != 19 && (n <= 19 || p[19] != '.') {
		return false
	}
	if n >= len(p) || p[n] != ' ' {
		return false
	}
	n++
	if n+5 < len(p) && (p[n] == '+' || p[n] == '-') && p[n+5] == ' ' {
		if _, ok := digits(p[n+1 : n+5]); !ok {
			return false
		}
		n += 6
	}
	if n < len(p) && p[n] == '[' {
		j := n + 1
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j == n+1 || j+1 >= len(p) || p[j] != ']' || p[j+1] != ' ' {
			return false
		}
		n = j + 2
	}
	// Lines about one message carry its id; Exim's daemon lines ("SMTP
	// connection from …", "Start queue run") do not, and still belong to
	// the Exim adapter, which skips and counts them.
	return isEximID(p[n:]) || n < len(p)
}

// isEximID matches [0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} at the
// start of p, followed by a space or the end: old 16-character ids
// (1RookS-000Pg8-VO) and new 23-character ones (16VDhn-000000001bo-D342).
func isEximID(p []byte) bool {
	i := 0
	for _, r := range [3][2]int{{6, 6}, {6, 11}, {2, 4}} {
		j := i
		for j < len(p) && isAlnum(p[j]) {
			j++
		}
		if n := j - i; n < r[0] || n > r[1] {
			return false
		}
		i = j
		if r[0] == 2 {
			break
		}
		if i >= len(p) || p[i] != '-' {
			return false
		}
		i++
	}
	return i == len(p) || p[i] == ' '
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// isPMTALine matches a PowerMTA accounting CSV record or its header. At
// least three fields are required, so that a stray "d," is not PowerMTA.
func isPMTALine(p []byte) bool {
	comma := bytes.IndexByte(p, ',')
	if comma <= 0 || comma > 4 {
		return false
	}
	switch string(p[:comma]) {
	case "d", "b", "t", "tq", "r", "f", "rb", "rs":
	case "type":
		if comma+1 >= len(p) || !(p[comma+1] >= 'a' && p[comma+1] <= 'z' || p[comma+1] >= 'A' && p[comma+1] <= 'Z') {
			return false
		}
	default:
		return false
	}
	return bytes.IndexByte(p[comma+1:], ',') >= 0
}

// isPostfixQueueLine matches a Postfix line that starts with a queue id:
// short ids are upper-case hex, long ids (enable_long_queue_ids) are the
// time in Postfix's base-52 alphabet (at least ten characters), a 'z', and
// the inode in base 51 (src/global/mail_queue.h). Requiring the 'z' keeps
// Sendmail's queue ids (r39G922P001173) out.
func isPostfixQueueLine(p []byte) bool {
	hex, long, lastZ := true, true, -1
	j := 0
	for ; j < len(p); j++ {
		c := p[j]
		isHex := c >= '0' && c <= '9' || c >= 'A' && c <= 'F'
		isSafe := postfixSafe(c)
		if !(hex && isHex) && !(long && isSafe) {
			break
		}
		hex, long = hex && isHex, long && isSafe
		if c == 'z' {
			lastZ = j
		}
	}
	if j+1 >= len(p) || p[j] != ':' || p[j+1] != ' ' {
		return false
	}
	return hex && j >= 6 || long && lastZ >= 10 && lastZ < j-1
}

// postfixSafe reports whether c is in Postfix's safe alphabet: digits and
// letters without vowels (src/global/safe_ultostr.c).
func postfixSafe(c byte) bool {
	switch {
	case c >= '0' && c <= '9':
		return true
	case c >= 'B' && c <= 'Z':
		return c != 'E' && c != 'I' && c != 'O' && c != 'U'
	case c >= 'b' && c <= 'z':
		return c != 'e' && c != 'i' && c != 'o' && c != 'u'
	}
	return false
}
