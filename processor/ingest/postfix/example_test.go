package postfix_test

import (
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/postfix"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// One Decoder per input partition: queue lines are remembered, the status
// line becomes an attempt carrying what they said.
func Example() {
	d := postfix.New(postfix.Config{})
	at := time.Date(2024, 3, 16, 0, 34, 30, 0, time.UTC)
	lines := []struct{ program, line string }{
		{"postfix/cleanup", "30B2533C076: message-id=<20120316043430.30B2533C076@server.crver.net>"},
		{"postfix/qmgr", "30B2533C076: from=<contacto@crver.net>, size=807, nrcpt=2 (queue active)"},
		{"postfix/smtp", "30B2533C076: to=<roa@linuxcancun.com>, relay=none, delay=189, delays=0.05/0.03/189/0, dsn=4.4.1, status=deferred (connect to mail.linuxcancun.com[74.50.106.91]: Connection timed out)"},
	}
	for i, l := range lines {
		rec := raw.Record{Host: "server", Program: l.program, Time: at.Add(time.Duration(i) * time.Minute), Payload: []byte(l.line)}
		attempts, skip, err := d.Decode(rec)
		switch {
		case err != nil:
			fmt.Println("error:", err)
		case skip != "":
			fmt.Println("skip:", skip)
		}
		for _, a := range attempts {
			fmt.Println(a.Outcome, a.Recipient, a.Attempt, a.Sender, a.MessageID, a.SMTP.Enhanced)
		}
	}
	// Output:
	// skip: postfix.cleanup
	// skip: postfix.qmgr
	// deferred roa@linuxcancun.com 1 contacto@crver.net <20120316043430.30B2533C076@server.crver.net> 4.4.1
}
