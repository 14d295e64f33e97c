package ingest

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkSession measures what stage 1 does per record of each format:
// unwrap, detect, decode, normalise, identify and classify.
func BenchmarkSession(b *testing.B) {
	for _, bc := range []struct{ name, rec string }{
		{"canonical", `{"occurred_at":"2026-11-20T10:00:00Z","recipient":"Bob@Example.com","outcome":"bounced","campaign_id":"c1","message_id":"<m1@x>","smtp":{"code":550,"enhanced":"5.1.1","text":"5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table"}}`},
		{"postfix_syslog", `Nov 20 10:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<alice@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=5, delays=0.1/0/0.2/4.7, dsn=5.1.1, status=bounced (host mx.example.org[192.0.2.10] said: 550 5.1.1 <alice@example.org>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))`},
		{"postfix_vector", `{"file":"/var/log/mail.log","host":"mx1","message":"Nov 20 10:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<alice@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=5, delays=0.1/0/0.2/4.7, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9XYZ)","source_type":"file","timestamp":"2026-11-20T10:00:05.123Z"}`},
		{"exim", `2026-11-20 10:00:00 1RookS-000Pg8-VO ** b@example.org R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<b@example.org>: 550 5.1.1 User unknown`},
		{"kumomta", `{"type":"Bounce","id":"1d8f","sender":"s@example.net","recipient":"c@example.org","queue":"camp:tenant@example.org","site":"","size":10,"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"user unknown","command":"RCPT TO"},"timestamp":1763632800,"num_attempts":1}`},
		{"sendgrid", `[{"email":"frank@example.com","timestamp":1763632800,"event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 The email account that you tried to reach does not exist","sg_event_id":"sg-1","sg_message_id":"sgm-1","category":"nov-news"}]`},
		{"ses_sns", espSample(b, "ses_bounce_sns")},
		{"mailgun", espSample(b, "mailgun_failed_permanent")},
		{"postmark", espSample(b, "postmark_bounce")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := newIngester(b, Config{})
			s := in.NewSession("bench")
			rec := []byte(bc.rec)
			if atts, _, err := s.Decode(rec, received); err != nil || len(atts) != 1 {
				b.Fatalf("%v %v", atts, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, _, err := s.Decode(rec, received); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// espSample is a real webhook body from the esp package's golden samples,
// without its leading "#" source note.
func espSample(b *testing.B, name string) string {
	data, err := os.ReadFile("esp/testdata/" + name + ".txt")
	if err != nil {
		b.Fatal(err)
	}
	var body []string
	for line := range strings.Lines(string(data)) {
		if len(body) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		body = append(body, line)
	}
	return strings.TrimSpace(strings.Join(body, ""))
}
