package raw

import (
	"encoding/json"
	"testing"
)

// BenchmarkUnwrapDetect measures what stage 1 pays per record before an
// adapter runs: Unwrap then Detect, one sub-benchmark per form.
func BenchmarkUnwrapDetect(b *testing.B) {
	postfix := "Apr  5 16:41:54 kedumba postfix/smtp[18733]: 39D9336AFA81: to=<foo@bar.com>, relay=foo.bar.com[1.2.3.4]:25, delay=92780, delays=92777/0.03/1.6/0.91, dsn=4.3.0, status=deferred (host foo.bar.com[1.2.3.4] said: 451 4.3.0 <bounces@planningalerts.org.au>: Temporary lookup failure (in reply to RCPT TO command))"
	exim := "2012-02-13 14:39:22 1RookS-000Pg8-VO == udbbwscdnbegrmloghuf@london.com R=dnslookup T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<udbbwscdnbegrmloghuf@london.com>: host mx0.gmx.com [74.208.5.90]: 450 4.3.2 Too many mails (mail bomb), try again in 1 hour(s) 25 minute(s)"
	kumo := `{"type":"Delivery","id":"1d98076abbbc11ed940250ebf67f93bd","sender":"user@sender.example.com","recipient":"user@recipient.example.com","queue":"campaign:tenant@domain","site":"source2->(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com.","size":1047,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0},"content":"OK ids=8a5475ccbbc611eda12250ebf67f93bd","command":"."},"peer_address":{"name":"gmail-smtp-in.l.google.com.","addr":"142.251.2.27"},"timestamp":1757675281,"event_time":"2025-09-12T11:08:01.440526026Z","created":1757675281,"created_time":"2025-09-12T11:08:01.440526026Z","num_attempts":0,"bounce_classification":"Uncategorized","egress_pool":"pool0","egress_source":"source2","feedback_report":null,"meta":{},"headers":{},"delivery_protocol":"ESMTP","reception_protocol":"ESMTP","nodeid":"557f3ad4-2c8c-11ee-976e-782d7e12e173"}`
	str := func(s string) string { q, _ := json.Marshal(s); return string(q) }
	for _, c := range []struct{ name, value string }{
		{"bare/postfix-rfc3164", postfix},
		{"bare/postfix-rfc5424", `<22>1 2024-04-05T16:41:54.123456+02:00 kedumba postfix/smtp 18733 - [origin ip="192.0.2.1"] 39D9336AFA81: to=<foo@bar.com>, relay=foo.bar.com[1.2.3.4]:25, delay=92780, dsn=4.3.0, status=deferred (host foo.bar.com[1.2.3.4] said: 451 4.3.0 Temporary lookup failure)`},
		{"bare/postfix-rsyslog", "2024-04-05T16:41:54.123456+02:00 kedumba postfix/smtp[18733]: 39D9336AFA81: to=<foo@bar.com>, relay=foo.bar.com[1.2.3.4]:25, delay=92780, dsn=4.3.0, status=deferred (host foo.bar.com[1.2.3.4] said: 451 4.3.0 Temporary lookup failure)"},
		{"bare/exim", exim},
		{"bare/pmta", "b,2016-05-29 01:10:23+0200,bad-mailbox,vmta-mymta03,mailwizz@example.com,YYY@anotherdomain.com,sourcemta.domain.com (0.0.0.0),1.1.1.1,,5.1.1 (bad destination mailbox address),mx1.destindomain.com (2.2.2.2)"},
		{"bare/kumomta", kumo},
		{"bare/canonical", `{"occurred_at":"2024-04-05T16:41:54Z","recipient":"foo@bar.com","outcome":"deferred","source":{"kind":"postfix","host":"kedumba"},"smtp":{"code":451,"enhanced":"4.3.0","text":"Temporary lookup failure"},"queue_id":"39D9336AFA81"}`},
		{"bare/sendgrid", `[{"ip":"167.89.17.173","status":"5.1.1","smtp-id":"<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>","sg_event_id":"lC0Rc-FuQmKbnxCWxX1jRQ","reason":"550 5.1.1 The email account that you tried to reach does not exist.","sg_message_id":"Lli-03HcQ5-JLybO9fXsJg.filter0077p1las1.21536.5717FC482.0","tls":1,"event":"bounce","email":"noreply@example.com","timestamp":1461095250,"type":"bounce"}]`},
		{"filebeat/postfix", `{"@timestamp":"2024-04-05T16:41:55.012Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.14.4"},"ecs":{"version":"8.0.0"},"log":{"file":{"path":"/var/log/mail.log"},"offset":1234},"message":` + str(postfix) + `,"input":{"type":"log"},"host":{"name":"kedumba"},"agent":{"id":"1a300adf-207e-4ef5-ab29-4dc4d875f655","name":"kedumba","type":"filebeat","version":"8.14.4","ephemeral_id":"270c28c5-13e7-43f3-b27b-22382d331408"}}`},
		{"vector/postfix", `{"file":"/var/log/mail.log","host":"kedumba","message":` + str(postfix) + `,"source_type":"file","timestamp":"2024-04-05T14:21:52.100Z"}`},
		{"vector/kumomta-string", `{"host":"kumo1","message":` + str(kumo) + `,"source_type":"file","timestamp":"2025-09-12T11:08:02Z"}`},
		{"vector/kumomta-nested", `{"host":"kumo1","message":` + kumo + `,"source_type":"kafka","timestamp":"2025-09-12T11:08:02Z"}`},
		{"fluentbit/exim", `{"@timestamp":1329143963.5,"log":` + str(exim) + `}`},
		{"fluentbit/syslog-parser", `{"@timestamp":1712335314.0,"pri":"22","host":"kedumba","ident":"postfix/smtp","pid":"18733","message":"39D9336AFA81: to=<foo@bar.com>, relay=foo.bar.com[1.2.3.4]:25, delay=92780, dsn=4.3.0, status=deferred"}`},
	} {
		value := []byte(c.value)
		cfg := Config{Zone: "Europe/Berlin"}.WithDefaults()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				rec, err := Unwrap(cfg, value, recv)
				if err != nil {
					b.Fatal(err)
				}
				if Detect(rec) == "" {
					b.Fatal("not detected")
				}
			}
		})
	}
}
