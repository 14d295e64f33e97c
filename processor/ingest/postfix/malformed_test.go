package postfix

import (
	"errors"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// TestMalformedStatus holds attempt lines that cannot be read to an error
// (they reach the DLQ with the reason), and the lines that are not attempts
// to counted skips.
func TestMalformedStatus(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, program, line string
		reason, skip        string
	}{
		{"to= cut away", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.10] said: 550 5.1.1 User unknown (in reply to RCPT TO command))",
			ReasonMalformed, ""},
		{"only orig_to=", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: orig_to=<a@example.com>, relay=none, delay=1, delays=0.1/0/0.5/0.4, dsn=4.4.1, status=deferred (connect to mx.example.com[192.0.2.10]:25: Connection refused)",
			ReasonMalformed, ""},
		{"only the status item left", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: status=sent (250 2.0.0 Ok)", ReasonMalformed, ""},
		{"no queue id", "postfix/smtp",
			"to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 Ok)",
			ReasonMalformed, ""},
		{"no queue id, no program", "",
			"to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 Ok)",
			ReasonMalformed, ""},
		{"unknown status word", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=wibble (250 Ok)",
			ReasonStatus, ""},
		{"empty status word", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=",
			ReasonStatus, ""},
		{"no status", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1",
			ReasonStatusLine, ""},
		{"two to=", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<a@example.com>, to=<b@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.1.1, status=bounced (550 5.1.1 x)",
			ReasonMalformed, ""},
		{"two to=, the second without brackets", "postfix/local",
			"4Zk9V7Dd4ez9sWV: to=<a@example.com>, relay=local, delay=1, to=b@example.com, dsn=2.0.0, status=sent (delivered to mailbox)",
			ReasonMalformed, ""},
		{"empty to=", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 Ok)",
			ReasonStatusLine, ""},

		// Not attempts: counted skips.
		{"session line quoting status=", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: host mx.example.com[192.0.2.10] said: 451 4.3.0 relay=x, status=busy (in reply to MAIL FROM command)",
			"", SkipSession},
		{"bounce notice", "postfix/bounce",
			"4Zk9V7Dd4ez9sWV: sender non-delivery notification: 4Zk9V8Ee5fz9sWW", "", SkipBounce},
		{"delay notice", "postfix/bounce",
			"4Zk9V7Dd4ez9sWV: sender delay notification: 4Zk9V8Ee5fz9sWW", "", SkipBounce},
		{"qmgr removed", "postfix/qmgr", "4Zk9V7Dd4ez9sWV: removed", "", SkipRemoved},
		{"daemon warning", "postfix/master",
			"warning: process /usr/lib/postfix/sbin/smtp pid 2131 exit status 1", "", SkipOther},
		{"warning continuation", "postfix/master",
			"warning: /usr/lib/postfix/sbin/smtp: bad command startup -- throttling", "", SkipOther},
		{"warning naming a status", "postfix/smtp",
			"warning: 4Zk9V7Dd4ez9sWV: relay=x, status=sent: malformed", "", SkipOther},
		{"verification probe", "postfix/smtp",
			"4Zk9V7Dd4ez9sWV: to=<x@example.com>, relay=mx.example.com[192.0.2.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
			"", SkipVerify},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, skip, err := New(Config{}).Decode(raw.Record{Host: "mx1", Program: tc.program, Time: at, Payload: []byte(tc.line)})
			if tc.reason != "" {
				var re *raw.Error
				if !errors.As(err, &re) || re.Reason != tc.reason || len(as) != 0 || skip != "" {
					t.Fatalf("Decode = %d attempts, skip %q, err %v; want a %s error", len(as), skip, err, tc.reason)
				}
				return
			}
			if err != nil || skip != tc.skip {
				t.Fatalf("Decode = %d attempts, skip %q, err %v; want skip %s", len(as), skip, err, tc.skip)
			}
		})
	}
}
