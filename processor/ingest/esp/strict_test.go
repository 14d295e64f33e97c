package esp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/internal/jsoncheck"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// TestStrictBodies: what encoding/json reads with a guess (a repeated key
// at any depth, a kept string that is not UTF-8 or holds a lone surrogate
// escape) each decoder refuses as <kind>.malformed_json, naming the key.
func TestStrictBodies(t *testing.T) {
	const (
		sesRcpt = `{"emailAddress":"a@example.org","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 x"}`
		sesMail = `"mail":{"timestamp":"2024-05-01T10:00:00Z","source":"s@example.net","messageId":"m"}`
	)
	ses := func(rcpt string) string {
		return `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[` + rcpt + `],"timestamp":"2024-05-01T10:01:00Z"},` + sesMail + `}`
	}
	sns := func(msg string) string {
		b, _ := json.Marshal(msg)
		return `{"Type":"Notification","MessageId":"n","Message":` + string(b) + `}`
	}
	const mg = `{"event-data":{"event":"failed","severity":"permanent","recipient":"a@example.org","timestamp":1714557600,"delivery-status":{"code":550,"message":"x"}}}`
	const sg = `{"email":"a@example.org","timestamp":1714557600,"event":"bounce","reason":"550 5.1.1 x"}`
	const pm = `{"RecordType":"Bounce","ID":1,"Type":"HardBounce","Email":"a@example.org","BouncedAt":"2024-05-01T10:00:00Z","Details":"smtp;550 5.1.1 x"}`
	for _, tc := range []struct {
		name, kind, body string
		msg              string // "" when accepted
	}{
		{"ses clean", KindSES, ses(sesRcpt), ""},
		{"ses clean in SNS", KindSES, sns(ses(sesRcpt)), ""},
		{"ses repeat in bouncedRecipients[]", KindSES, ses(`{"emailAddress":"evil@example.org","emailAddress":"a@example.org"}`), `duplicate key "bounce.bouncedRecipients.emailAddress"`},
		{"ses repeat under case folding", KindSES, ses(`{"emailAddress":"a@example.org","EmailAddress":"b@example.org"}`), `it names field "emailAddress" again`},
		{"ses repeat in mail.tags", KindSES, strings.Replace(ses(sesRcpt), `"source"`, `"tags":{"c":["a"],"c":["b"]},"source"`, 1), `duplicate key "mail.tags.c"`},
		{"ses repeat inside the SNS Message", KindSES, sns(strings.Replace(ses(sesRcpt), `{"notificationType":"Bounce"`, `{"notificationType":"Delivery","notificationType":"Bounce"`, 1)), `SNS Message: duplicate key "notificationType"`},
		{"ses repeat in the SNS envelope", KindSES, strings.Replace(sns(ses(sesRcpt)), `"MessageId":"n"`, `"MessageId":"n","MessageId":"o"`, 1), `duplicate key "MessageId"`},
		{"ses invalid UTF-8 in a recipient", KindSES, ses("{\"emailAddress\":\"a\xffb@example.org\"}"), `field "bounce.bouncedRecipients.emailAddress": the string is not valid UTF-8`},
		{"ses invalid UTF-8 in the SNS Message", KindSES, "{\"Type\":\"Notification\",\"Message\":\"{\xff}\"}", `field "Message": the string is not valid UTF-8`},
		{"ses lone surrogate inside the SNS Message", KindSES, sns(ses(`{"emailAddress":"a\udcffb@example.org"}`)), `lone UTF-16 surrogate`},
		{"sendgrid clean batch", KindSendGrid, `[` + sg + `,` + sg + `]`, ""},
		{"sendgrid repeat in the second event of a batch", KindSendGrid, `[` + sg + `,{"email":"evil@example.org","email":"a@example.org","timestamp":1714557600,"event":"bounce"}]`, `duplicate key "email"`},
		{"sendgrid repeated custom arg", KindSendGrid, `[{"email":"a@example.org","timestamp":1714557600,"event":"bounce","c":"1","c":"2"}]`, `duplicate key "c"`},
		{"sendgrid field by case folding", KindSendGrid, `[{"email":"a@example.org","Email":"b@example.org","timestamp":1714557600,"event":"bounce"}]`, `duplicate key "Email"`},
		{"sendgrid invalid UTF-8 in a custom arg", KindSendGrid, "[{\"email\":\"a@example.org\",\"timestamp\":1714557600,\"event\":\"bounce\",\"c\":[\"\xfe\"]}]", `field "c": the string is not valid UTF-8`},
		{"sendgrid one event object", KindSendGrid, `{"email":"a@example.org","email":"b@example.org","timestamp":1714557600,"event":"bounce"}`, `duplicate key "email"`},
		{"mailgun clean", KindMailgun, mg, ""},
		{"mailgun repeat in event-data", KindMailgun, strings.Replace(mg, `"recipient":"a@example.org"`, `"recipient":"evil@example.org","recipient":"a@example.org"`, 1), `duplicate key "event-data.recipient"`},
		{"mailgun repeat in delivery-status", KindMailgun, strings.Replace(mg, `"code":550`, `"code":550,"code":250`, 1), `duplicate key "event-data.delivery-status.code"`},
		{"mailgun repeat in user-variables", KindMailgun, strings.Replace(mg, `"event":"failed"`, `"event":"failed","user-variables":{"a":1,"a":2}`, 1), `duplicate key "event-data.user-variables.a"`},
		{"mailgun lone surrogate in the recipient", KindMailgun, strings.Replace(mg, `"a@example.org"`, `"a\ud800@example.org"`, 1), `lone UTF-16 surrogate`},
		{"postmark clean", KindPostmark, pm, ""},
		{"postmark repeat", KindPostmark, strings.Replace(pm, `"Email":"a@example.org"`, `"Email":"evil@example.org","Email":"a@example.org"`, 1), `duplicate key "Email"`},
		{"postmark invalid UTF-8 in a flexible field", KindPostmark, strings.Replace(pm, `"ID":1`, "\"ID\":\"1\xff\"", 1), `field "ID": the string is not valid UTF-8`},
	} {
		d := decoders(Config{})[tc.kind]
		as, _, err := d.Decode(raw.Record{Payload: []byte(tc.body)})
		var se *raw.JSONStrictError
		switch {
		case tc.msg == "" && (err != nil || len(as) == 0):
			t.Errorf("%s: %d attempts, err %v; want attempts", tc.name, len(as), err)
		case tc.msg == "":
		case errReason(err) != tc.kind+"."+reasonJSON || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s: err %v (reason %q), want %s.%s saying %q", tc.name, err, errReason(err), tc.kind, reasonJSON, tc.msg)
		}
	}
}

// strictViolation: jsoncheck.Violation, inside JSON strings too.
func strictViolation(b []byte) bool { return jsoncheck.Violation(b, true) }
