package ingest

import (
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

// TestLimitsControlCharacters: the identity fields and metadata values of
// an attempt from any source refuse control characters (but tab), naming
// the field; the reply text is cleaned elsewhere, not refused.
func TestLimitsControlCharacters(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(a *event.Attempt)
		msg  string // "" when accepted
	}{
		{"clean", func(a *event.Attempt) {}, ""},
		{"tab in a message id", func(a *event.Attempt) { a.MessageID = "<a\tb@x>" }, ""},
		{"non-ASCII sender", func(a *event.Attempt) { a.Sender = "jörg@bücher.example" }, ""},
		{"ESC in the sender", func(a *event.Attempt) { a.Sender = "\x1b[2Jnews@sender.example" }, "/sender: holds the control character U+001B"},
		{"NUL in the sender", func(a *event.Attempt) { a.Sender = "news\x00@sender.example" }, "/sender: holds the control character U+0000"},
		{"newline in the message id", func(a *event.Attempt) { a.MessageID = "<m@x>\nX-Injected: 1" }, "/message_id: holds the control character U+000A"},
		{"DEL in the queue id", func(a *event.Attempt) { a.QueueID = "4ABC\x7f" }, "/queue_id: holds the control character U+007F"},
		{"C1 CSI in the campaign", func(a *event.Attempt) { a.CampaignID = "spring\u009b31m" }, "/campaign_id: holds the control character U+009B"},
		{"CR in the tenant", func(a *event.Attempt) { a.Tenant = "t\r" }, "/tenant"},
		{"bell in the host", func(a *event.Attempt) { a.Source.Host = "mx\x07" }, "/source.host"},
		{"ESC in the pool", func(a *event.Attempt) { a.Pool = "\x1b]0;x\x07" }, "/pool"},
		{"NUL in the sending ip", func(a *event.Attempt) { a.SendingIP = "192.0.2.1\x00" }, "/sending_ip"},
		{"ESC in a metadata value", func(a *event.Attempt) { a.Metadata = map[string]string{"k": "v\x1b[0m"} }, "/metadata/k: holds the control character U+001B"},
		{"control characters in the reply text are not this check's", func(a *event.Attempt) { a.SMTP.Text = "x\x1b[31m" }, ""},
		{"invalid UTF-8 is not this check's", func(a *event.Attempt) { a.Sender = "ne\xffws@x" }, ""},
	} {
		a := event.Attempt{Recipient: "user@example.org", Outcome: event.Bounced}
		tc.set(&a)
		err := checkLimits(&a)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.msg == "":
		case reasonOf(err) != ReasonSchema || !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s: err %v, want %s saying %q", tc.name, err, ReasonSchema, tc.msg)
		}
	}
}
