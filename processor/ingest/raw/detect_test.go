package raw

import "testing"

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		name    string
		program string
		payload string
		want    string
	}{
		// One row per format.
		{"canonical", "", `{"occurred_at":"2024-04-05T16:41:54Z","recipient":"a@b.example","outcome":"bounced"}`, FormatCanonical},
		{"kumomta", "", `{"type":"Bounce","id":"1d98076abbbc11ed940250ebf67f93bd","queue":"campaign:tenant@domain","response":{"code":550}}`, FormatKumoMTA},
		{"kumomta partial (docs)", "", `{"type":"TransientFailure","response":{"code":400,"content":"KumoMTA internal: IO error"}}`, FormatKumoMTA},
		{"ses sns", "", `{"Type":"Notification","MessageId":"x","Message":"{\"notificationType\":\"Bounce\"}"}`, FormatSES},
		{"ses raw", "", `{"notificationType":"Bounce","bounce":{},"mail":{}}`, FormatSES},
		{"ses event publishing", "", `{"eventType":"Bounce","bounce":{},"mail":{}}`, FormatSES},
		{"sendgrid", "", `[{"email":"a@b.example","event":"bounce","sg_event_id":"x"}]`, FormatSendGrid},
		{"sendgrid without sg_event_id", "", ` [ {"email":"not an email","event":"dropped"} ]`, FormatSendGrid},
		{"sendgrid single event", "", `{"email":"a@b.example","event":"bounce","sg_event_id":"x"}`, FormatSendGrid},
		{"mailgun", "", `{"signature":{"token":"t"},"event-data":{"event":"failed"}}`, FormatMailgun},
		{"mailgun event-data only", "", `{"event-data":{"event":"failed"}}`, FormatMailgun},
		{"mailgun flat event", "", `{"event":"failed","recipient":"a@b.example","id":"x","timestamp":1534110422.38,"message":{"headers":{}}}`, FormatMailgun},
		{"postmark", "", `{"RecordType":"Bounce","ID":1,"Type":"HardBounce"}`, FormatPostmark},
		{"postfix by program", "postfix/smtp", `connect to mx[1.2.3.4]:25: Connection timed out`, FormatPostfix},
		{"postfix master", "postfix", `Postfix is running with backwards-compatible default setting`, FormatPostfix},
		{"postfix instance", "postfix-out/smtp", `x`, FormatPostfix},
		{"postfix custom syslog_name", "mx2/qmgr", `x`, FormatPostfix},
		{"postfix hex queue id", "", `39D9336AFA81: to=<foo@bar.com>, status=deferred`, FormatPostfix},
		{"postfix long queue id", "", `48rT2v1hQrz1J0N: prepend: header X-Spam-Status: Yes`, FormatPostfix},
		{"exim old id", "", `2012-02-13 14:39:22 1RookS-000Pg8-VO ** a@b.example: retry timeout exceeded`, FormatExim},
		{"exim new id", "", `1999-03-02 09:44:33 10HmaX-000000005vi-0000 Completed`, FormatExim},
		{"exim millisec and zone", "", `2024-04-05 16:41:54.123 +0200 10HmaX-000000005vi-0000 Completed`, FormatExim},
		{"exim pid", "", `2024-04-05 16:41:54 [1234] 10HmaX-000000005vi-0000 Completed`, FormatExim},
		{"exim by program", "exim", `2006-11-21 15:17:10 1Gmc37-00045w-00 Frozen (delivery error message)`, FormatExim},
		{"exim4 by program", "exim4", `Start queue run: pid=1`, FormatExim},
		{"exim syslog split part", "exim", `[2\3] 550-5.1.1 double-checking the recipient's email address`, FormatExim},
		{"program wins over JSON look", "postfix/cleanup", `{"not":"json really"}`, FormatPostfix},
		{"other program lets JSON through", "kumod", `{"type":"Bounce","id":"1"}`, FormatKumoMTA},
		{"pmta header", "", `type,timeLogged,orig,rcpt,dlvSourceIp,bounceCat`, FormatPMTA},
		{"pmta d", "", `d,1178807903,orig@port25.com,user1@domain.com,10.0.0.1,`, FormatPMTA},
		{"pmta rb", "", `rb,2016-05-29 01:10:51+0200,orig@x,rcpt@y,5.1.1,smtp;550`, FormatPMTA},
		{"pmta tq", "", `tq,1,2`, FormatPMTA},
		// Near-misses.
		{"canonical without outcome", "", `{"occurred_at":"2024-04-05T16:41:54Z","recipient":"a@b.example"}`, ""},
		{"canonical mentioning queue, type and id in text", "", `{"recipient":"a@b.example","outcome":"deferred","diagnostic":"\"type\":\"Delivery\",\"id\":1,\"queue\":\"full\""}`, FormatCanonical},
		{"canonical with nested kumo-like keys", "", `{"metadata":{"type":"Delivery","id":"1","queue":"q"},"recipient":"a@b.example","outcome":"delivered"}`, FormatCanonical},
		{"kumomta lower-case type", "", `{"type":"delivery","id":"1","queue":"q"}`, ""},
		{"kumomta type alone", "", `{"type":"Delivery"}`, ""},
		{"kumomta type not a string", "", `{"type":["Delivery"],"id":"1"}`, ""},
		{"keys only inside a string", "", `{"note":"\"RecordType\":1, \"event-data\":{}"}`, ""},
		{"sns type without message", "", `{"Type":"Notification","MessageId":"x"}`, ""},
		{"ses mail without type", "", `{"mail":{}}`, ""},
		{"postmark lower case", "", `{"recordtype":"Bounce"}`, ""},
		{"postal webhook", "", `{"event":"MessageDelayed","timestamp":1606753101.96,"payload":{},"uuid":"x"}`, FormatPostal},
		{"postal bounce", "", `{"event":"MessageBounced","timestamp":1,"payload":{"original_message":{},"bounce":{}},"uuid":"x"}`, FormatPostal},
		{"postal dns error", "", `{"event":"DomainDNSError","timestamp":1,"payload":{"domain":"example.com"},"uuid":"x"}`, FormatPostal},
		{"postal send limit", "", `{"event":"SendLimitExceeded","payload":{"volume":1},"uuid":"x"}`, FormatPostal},
		{"postal payload not an object", "", `{"event":"MessageSent","timestamp":1,"payload":"x","uuid":"x"}`, ""},
		{"postal event not a string", "", `{"event":["MessageSent"],"timestamp":1,"payload":{},"uuid":"x"}`, ""},
		{"postal without uuid or timestamp", "", `{"event":"MessageSent","payload":{}}`, ""},
		{"postal event prefix alone", "", `{"event":"Message","timestamp":1,"payload":{},"uuid":"x"}`, ""},
		{"event and payload of another source", "", `{"event":"delivered","timestamp":1,"payload":{},"uuid":"x"}`, ""},
		{"postal keys only nested", "", `{"data":{"event":"MessageSent","payload":{},"uuid":"x"}}`, ""},
		{"array of strings", "", `["a","b"]`, ""},
		{"array of other objects", "", `[{"event":"x"}]`, ""},
		{"empty array", "", `[]`, ""},
		{"empty object", "", `{}`, ""},
		{"truncated object", "", `{"RecordType":"Bounce","ID":`, FormatPostmark},
		{"sendmail program", "sm-mta", `r39G922P001173: to=<v@inbox.lv>, stat=Deferred`, ""},
		{"sendmail id without program", "", `r39G922P001173: to=<v@inbox.lv>, stat=Deferred`, ""},
		{"short hex", "", `ABCDE: hello`, ""},
		{"hex without space", "", `39D9336AFA81:to=<a@b>`, ""},
		{"lower-case hex is not short id", "", `39d9336afa81: x`, ""},
		{"long id without z", "", `48rT2v1hQr1J0N: x`, ""},
		{"long id z too early", "", `48rT2vz1hQr1J0N: x`, ""},
		{"exim daemon line without a message id", "", `2012-02-13 15:02:51 SMTP connection from [109.70.26.4]`, "exim"},
		{"exim timestamp alone", "", `2012-02-13 15:02:51 `, ""},
		{"exim T separator", "", `2012-02-13T15:02:51 1RookS-000Pg8-VO x`, ""},
		{"exim bad date", "", `2012-02-30 15:02:51 1RookS-000Pg8-VO x`, ""},
		{"pmta one field", "", `d,x`, ""},
		{"pmta unknown type", "", `x,1,2,3`, ""},
		{"pmta header with digit", "", `type,1,2`, ""},
		{"other program", "sshd", `Accepted publickey for root`, ""},
		{"empty", "", ``, ""},
		{"nginx", "", `10.89.2.6 - - [11/Apr/2023:22:11:41 +0000] "GET / HTTP/1.0" 200 615`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Detect(Record{Program: c.program, Payload: []byte(c.payload)}); got != c.want {
				t.Errorf("Detect = %q, want %q", got, c.want)
			}
		})
	}
}
