package postfix

import (
	"fmt"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// benchRecords is a realistic mix for one busy outbound host: per message
// pickup, cleanup message-id, a campaign header, qmgr, two recipients (one
// delivered with a multi-line-free reply, one deferred once with a Gmail
// style multi-line reply then bounced), connection noise, removed.
func benchRecords(messages int) []raw.Record {
	t0 := time.Date(2024, 4, 5, 0, 0, 0, 0, time.UTC)
	var out []raw.Record
	add := func(prog string, at time.Duration, line string) {
		out = append(out, raw.Record{Host: "mx1", Program: prog, Time: t0.Add(at), Payload: []byte(line)})
	}
	for i := range messages {
		q := fmt.Sprintf("%09X", 0x100000+i)
		at := time.Duration(i) * time.Second
		add("postfix/pickup", at, q+": uid=48 from=<news+c77@sender.example>")
		add("postfix/cleanup", at, q+": message-id=<"+q+"@mx1.sender.example>")
		add("postfix/cleanup", at, q+": info: header X-Campaign-ID: 123 from local; from=<news+c77@sender.example> to=<a@example.org>")
		add("postfix/qmgr", at, q+": from=<news+c77@sender.example>, size=807, nrcpt=2 (queue active)")
		add("postfix/smtp", at+time.Second, "connect to mx.example.net[192.0.2.7]:25: Connection timed out")
		add("postfix/smtp", at+time.Second, q+": to=<a@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1.2, delays=0.05/0.01/0.6/0.54, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4D1F2C0A1)")
		add("postfix/smtp", at+time.Second, q+": to=<b@gmail.example>, relay=gmail-smtp-in.l.google.com[74.125.136.26]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=4.7.0, status=deferred (host gmail-smtp-in.l.google.com[74.125.136.26] said: 421-4.7.0 [1.2.3.4      15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. 421 4.7.0 Senders Guidelines. bv15si15610322wjb.142 - gsmtp (in reply to end of DATA command))")
		add("postfix/smtp", at+10*time.Minute, q+": to=<b@gmail.example>, relay=gmail-smtp-in.l.google.com[74.125.136.26]:25, delay=600, delays=599/0/0.5/0.5, dsn=5.1.1, status=bounced (host gmail-smtp-in.l.google.com[74.125.136.26] said: 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 zb4si15321910pbb.132 - gsmtp (in reply to RCPT TO command))")
		add("postfix/qmgr", at+10*time.Minute, q+": removed")
	}
	return out
}

// BenchmarkDecode measures one line per op over the mixed set; lines/s is
// 1e9 / ns/op.
func BenchmarkDecode(b *testing.B) {
	recs := benchRecords(1000)
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Payload))
	}
	b.SetBytes(bytes / int64(len(recs)))
	b.ReportAllocs()
	d := New(Config{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := d.Decode(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
