package esp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// tableCase is one constructed body (shapes from the providers' docs and
// the samples, values made up) with what it must decode to.
type tableCase struct {
	name, kind, body string
	skip, err        string          // expected skip reason or error reason
	want             []event.Attempt // compared on the fields set here
}

// sesMail is a minimal SES mail object for the table cases.
const sesMailJSON = `"mail":{"timestamp":"2024-05-01T10:00:00.000Z","source":"bounces@news.example.com","messageId":"0100018f-aaaa","destination":["a@example.org","b@example.org","c@example.org"],"tags":{"campaign":["spring-sale"],"ses:outgoing-ip":["198.51.100.7"],"ses:configuration-set":["marketing"]},"headers":[{"name":"Message-ID","value":"<m1@news.example.com>"},{"name":"X-Campaign-ID","value":"from-header"}]}`

// snsWrap wraps an SES event in an SNS envelope the way SNS does: the event
// is a JSON string.
func snsWrap(ev string) string {
	msg, _ := json.Marshal(ev + "\n")
	return `{"Type":"Notification","MessageId":"sns-1","TopicArn":"arn:aws:sns:eu-west-1:1:ses","Message":` + string(msg) + `,"Timestamp":"2024-05-01T10:05:00.000Z"}`
}

func tableCases() []tableCase {
	multiBounce := `{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","bouncedRecipients":[` +
		`{"emailAddress":"a@example.org","action":"failed","status":"4.2.2","diagnosticCode":"smtp; 452 4.2.2 Mailbox full"},` +
		`{"emailAddress":"b@example.org","action":"failed","status":"5.2.2","diagnosticCode":"smtp; 552-5.2.2 over quota\n552 5.2.2 try later"}],` +
		`"timestamp":"2024-05-01T10:01:00.000Z","feedbackId":"fb-1","remoteMtaIp":"203.0.113.9"},` + sesMailJSON + `}`
	return []tableCase{
		{name: "ses multi-recipient transient bounce, SNS double-encoded", kind: KindSES, body: snsWrap(multiBounce),
			want: []event.Attempt{
				{Recipient: "a@example.org", Outcome: event.Bounced, CampaignID: "spring-sale", SendingIP: "198.51.100.7", MessageID: "0100018f-aaaa",
					SMTP:                 event.SMTP{Code: 452, Enhanced: "4.2.2", Text: "Mailbox full", RemoteIP: "203.0.113.9"},
					SourceClassification: &event.SourceClassification{Scheme: "ses", Value: "Transient/MailboxFull"}},
				{Recipient: "b@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Code: 552, Enhanced: "5.2.2", Text: "over quota try later", RemoteIP: "203.0.113.9"}},
			}},
		{name: "ses raw event is the same as SNS-wrapped", kind: KindSES, body: multiBounce,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Bounced}, {Recipient: "b@example.org", Outcome: event.Bounced}}},
		{name: "ses SNS Message already an object", kind: KindSES,
			body: `{"Type":"Notification","MessageId":"sns-2","Message":` + multiBounce + `}`,
			want: []event.Attempt{{Recipient: "a@example.org"}, {Recipient: "b@example.org"}}},
		{name: "ses account suppression list is dropped", kind: KindSES,
			body: `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"OnAccountSuppressionList","bouncedRecipients":[{"emailAddress":"a@example.org","action":"failed","status":"5.1.1","diagnosticCode":"Amazon SES did not send the message to this address because it is on the suppression list for your account."}],"timestamp":"2024-05-01T10:01:00Z","feedbackId":"fb-2"},` + sesMailJSON + `}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Dropped, SMTP: event.SMTP{},
				SourceClassification: &event.SourceClassification{Scheme: "ses", Value: "Permanent/OnAccountSuppressionList"}}}},
		{name: "ses complaint", kind: KindSES,
			body: `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"2024-05-02T08:00:00Z","feedbackId":"fb-3","complaintFeedbackType":"abuse"},` + sesMailJSON + `}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Complaint, SourceClassification: &event.SourceClassification{Scheme: "ses_complaint", Value: "abuse"}}}},
		{name: "ses complaint without feedback type", kind: KindSES,
			body: `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"2024-05-02T08:00:00Z","feedbackId":"fb-4"},` + sesMailJSON + `}`,
			want: []event.Attempt{{Outcome: event.Complaint, SourceClassification: &event.SourceClassification{Scheme: "ses_complaint", Value: "complaint"}}}},
		{name: "ses not-spam feedback is no complaint", kind: KindSES, skip: "ses.not_spam",
			body: `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"2024-05-02T08:00:00Z","feedbackId":"fb-6","complaintFeedbackType":"not-spam"},` + sesMailJSON + `}`},
		{name: "ses complaint on the suppression list is dropped", kind: KindSES,
			body: `{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"2024-05-02T08:00:00Z","feedbackId":"fb-5","complaintSubType":"OnAccountSuppressionList"},` + sesMailJSON + `}`,
			want: []event.Attempt{{Outcome: event.Dropped, SourceClassification: &event.SourceClassification{Scheme: "ses", Value: "Complaint/OnAccountSuppressionList"}}}},
		{name: "ses delivery", kind: KindSES,
			body: `{"eventType":"Delivery","delivery":{"timestamp":"2024-05-01T10:00:02.500Z","processingTimeMillis":2500,"recipients":["a@example.org","b@example.org"],"smtpResponse":"250 2.6.0 Message received","remoteMtaIp":"203.0.113.9","reportingMTA":"a8-70.smtp-out.amazonses.com"},` + sesMailJSON + `}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Delivered, DelaySeconds: 2.5, SMTP: event.SMTP{Code: 250, Enhanced: "2.6.0", Text: "Message received", RemoteIP: "203.0.113.9"}}, {Recipient: "b@example.org"}}},
		{name: "ses delivery delay", kind: KindSES,
			body: `{"eventType":"DeliveryDelay","deliveryDelay":{"timestamp":"2024-05-01T11:00:00Z","delayType":"TransientCommunicationFailure","expirationTime":"2024-05-01T23:00:00Z","delayedRecipients":[{"emailAddress":"a@example.org","status":"4.4.1","diagnosticCode":"smtp; 421 4.4.1 Unable to connect"}]},` + sesMailJSON + `}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Deferred, DelaySeconds: 3600, SMTP: event.SMTP{Code: 421, Enhanced: "4.4.1", Text: "Unable to connect"},
				SourceClassification: &event.SourceClassification{Scheme: "ses_delay", Value: "TransientCommunicationFailure"}}}},
		{name: "ses header campaign when no tag matches", kind: KindSES,
			body: `{"notificationType":"Delivery","delivery":{"timestamp":"2024-05-01T10:00:02Z","recipients":["a@example.org"],"smtpResponse":"250 ok"},"mail":{"timestamp":"2024-05-01T10:00:00Z","messageId":"m","headers":[{"name":"x-campaign-id","value":"hdr-7"}]}}`,
			want: []event.Attempt{{CampaignID: "hdr-7"}}},
		{name: "ses SNS subscription confirmation", kind: KindSES, skip: "ses.subscription_confirmation",
			body: `{"Type":"SubscriptionConfirmation","MessageId":"x","Token":"t","TopicArn":"arn","Message":"You have chosen to subscribe","SubscribeURL":"https://sns.example/"}`},
		{name: "ses open", kind: KindSES, skip: "ses.open", body: `{"eventType":"Open","open":{"timestamp":"2024-05-01T10:00:00Z"},` + sesMailJSON + `}`},
		{name: "ses rendering failure", kind: KindSES, skip: "ses.rendering_failure", body: `{"eventType":"Rendering Failure",` + sesMailJSON + `}`},
		{name: "ses future type", kind: KindSES, skip: "ses.unknown_event", body: `{"eventType":"Teleport",` + sesMailJSON + `}`},
		{name: "ses SNS message not an event", kind: KindSES, err: "ses.sns_message", body: `{"Type":"Notification","MessageId":"x","Message":"hello"}`},
		{name: "ses bounce without recipients", kind: KindSES, err: "ses.no_recipient",
			body: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[],"timestamp":"2024-05-01T10:01:00Z"},` + sesMailJSON + `}`},
		{name: "ses bad timestamp", kind: KindSES, err: "ses.invalid_time",
			body: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"yesterday"},` + sesMailJSON + `}`},
		{name: "ses not ses", kind: KindSES, err: "ses.shape", body: `{"hello":"world"}`},
		{name: "ses not json", kind: KindSES, err: "ses.malformed_json", body: `Bounce!`},

		{name: "sendgrid batch mixing event types", kind: KindSendGrid,
			body: `[{"email":"a@example.org","timestamp":1714557600,"event":"processed","sg_event_id":"e0","category":["spring","promo"]},` +
				`{"email":"a@example.org","timestamp":1714557601,"event":"deferred","sg_event_id":"e1","response":"451 4.7.1 Try again later","attempt":"2","category":["spring","promo"]},` +
				`{"email":"b@example.org","timestamp":1714557602,"event":"bounce","type":"blocked","bounce_classification":"Reputation","status":"5.7.1","reason":"554 5.7.1 Service unavailable; client host blocked","sg_event_id":"e2","ip":"198.51.100.8","pool":{"name":"marketing","id":3},"campaign_id":"c-42"},` +
				`{"email":"c@example.org","timestamp":1714557603,"event":"delivered","response":"250 2.0.0 OK","sg_event_id":"e3","smtp-id":"<m3@example.net>"},` +
				`{"email":"d@example.org","timestamp":1714557604,"event":"spamreport","sg_event_id":"e4"},` +
				`{"email":"e@example.org","timestamp":1714557605,"event":"dropped","reason":"Unsubscribed Address","status":"5.0.0","sg_event_id":"e5"},` +
				`{"email":"f@example.org","timestamp":1714557606,"event":"open","sg_event_id":"e6"}]`,
			want: []event.Attempt{
				{Recipient: "a@example.org", Outcome: event.Deferred, Attempt: 2, CampaignID: "spring", SMTP: event.SMTP{Code: 451, Enhanced: "4.7.1", Text: "Try again later"}},
				{Recipient: "b@example.org", Outcome: event.Bounced, CampaignID: "c-42", SendingIP: "198.51.100.8", Pool: "marketing",
					SMTP:                 event.SMTP{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; client host blocked"},
					SourceClassification: &event.SourceClassification{Scheme: "sendgrid", Value: "blocked/Reputation"}},
				{Recipient: "c@example.org", Outcome: event.Delivered, MessageID: "<m3@example.net>"},
				{Recipient: "d@example.org", Outcome: event.Complaint, SourceClassification: &event.SourceClassification{Scheme: "sendgrid", Value: "spamreport"}},
				{Recipient: "e@example.org", Outcome: event.Dropped, SourceClassification: &event.SourceClassification{Scheme: "sendgrid", Value: "dropped/Unsubscribed Address"}},
			}},
		{name: "sendgrid only opens and clicks", kind: KindSendGrid, skip: "sendgrid.mixed",
			body: `[{"email":"a@example.org","timestamp":1,"event":"open"},{"email":"a@example.org","timestamp":2,"event":"click"}]`},
		{name: "sendgrid only opens", kind: KindSendGrid, skip: "sendgrid.open",
			body: `[{"email":"a@example.org","timestamp":1,"event":"open"},{"email":"b@example.org","timestamp":2,"event":"open"}]`},
		{name: "sendgrid empty batch", kind: KindSendGrid, skip: "sendgrid.empty", body: `[]`},
		{name: "sendgrid single object", kind: KindSendGrid,
			body: `{"email":"a@example.org","timestamp":"1714557600","event":"delivered","sg_event_id":"x"}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Delivered}}},
		{name: "sendgrid tags off", kind: KindSendGrid + ":never",
			body: `[{"email":"a@example.org","timestamp":1714557600,"event":"delivered","category":"spring"}]`,
			want: []event.Attempt{{CampaignID: ""}}},
		{name: "sendgrid event without email", kind: KindSendGrid, err: "sendgrid.no_recipient",
			body: `[{"email":"a@example.org","timestamp":1,"event":"open"},{"timestamp":1,"event":"bounce"}]`},
		{name: "sendgrid bad timestamp", kind: KindSendGrid, err: "sendgrid.invalid_time",
			body: `[{"email":"a@example.org","timestamp":"soon","event":"bounce"}]`},
		{name: "sendgrid event not an object", kind: KindSendGrid, err: "sendgrid.malformed_json", body: `[1]`},

		{name: "mailgun suppress-bounce is dropped", kind: KindMailgun,
			body: `{"signature":{"timestamp":"1","token":"t","signature":"s"},"event-data":{"id":"ev1","event":"failed","severity":"permanent","reason":"suppress-bounce","recipient":"a@example.org","timestamp":1714557600.5,"delivery-status":{"code":605,"message":"","description":"Not delivering to previously bounced address","attempt-no":1},"user-variables":{"campaign":"u-9"},"tags":["t1"]}}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Dropped, CampaignID: "u-9", SMTP: event.SMTP{},
				SourceClassification: &event.SourceClassification{Scheme: "mailgun", Value: "permanent/suppress-bounce"}}}},
		{name: "mailgun suppress-unsubscribe and suppress-complaint", kind: KindMailgun,
			body: `{"event-data":{"event":"failed","severity":"permanent","reason":"suppress-complaint","recipient":"a@example.org","timestamp":1714557600}}`,
			want: []event.Attempt{{Outcome: event.Dropped}}},
		{name: "mailgun bare event-data, delivered, enhanced-code, campaigns", kind: KindMailgun,
			body: `{"id":"ev2","event":"delivered","recipient":"a@example.org","timestamp":1714557600,"envelope":{"sender":"bounce@mg.example.com","sending-ip":"198.51.100.9"},"message":{"headers":{"message-id":"m2@mg.example.com"}},"campaigns":[{"id":"camp-1","name":"Spring"}],"tags":["t1"],"delivery-status":{"code":250,"message":"OK","enhanced-code":"2.0.0","mx-host":"mx.example.org","attempt-no":1}}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Delivered, Sender: "bounce@mg.example.com", SendingIP: "198.51.100.9", MessageID: "m2@mg.example.com",
				CampaignID: "camp-1", Attempt: 1, SMTP: event.SMTP{Code: 250, Enhanced: "2.0.0", Text: "OK", RemoteHost: "mx.example.org"}}}},
		{name: "mailgun complained", kind: KindMailgun,
			body: `{"event-data":{"event":"complained","recipient":"a@example.org","timestamp":1714557600}}`,
			want: []event.Attempt{{Outcome: event.Complaint, SourceClassification: &event.SourceClassification{Scheme: "mailgun", Value: "complained"}}}},
		{name: "mailgun old is expired", kind: KindMailgun,
			body: `{"event-data":{"event":"failed","severity":"permanent","reason":"old","recipient":"a@example.org","timestamp":1714557600,"delivery-status":{"code":421,"message":"4.7.0 Try again later","attempt-no":9}}}`,
			want: []event.Attempt{{Outcome: event.Expired, Attempt: 9, SMTP: event.SMTP{Code: 421, Enhanced: "4.7.0", Text: "Try again later"}}}},
		{name: "mailgun opened", kind: KindMailgun, skip: "mailgun.opened", body: `{"event-data":{"event":"opened","recipient":"a@example.org","timestamp":1}}`},
		{name: "mailgun accepted", kind: KindMailgun, skip: "mailgun.accepted", body: `{"event-data":{"event":"accepted","recipient":"a@example.org","timestamp":1}}`},
		{name: "mailgun no recipient", kind: KindMailgun, err: "mailgun.no_recipient", body: `{"event-data":{"event":"failed","severity":"permanent","timestamp":1}}`},
		{name: "mailgun code out of any range", kind: KindMailgun, err: "schema", body: `{"event-data":{"event":"failed","severity":"permanent","recipient":"a@example.org","timestamp":1714557600,"delivery-status":{"code":99999,"message":"x"}}}`},
		{name: "mailgun negative code", kind: KindMailgun, err: "schema", body: `{"event-data":{"event":"failed","severity":"permanent","recipient":"a@example.org","timestamp":1714557600,"delivery-status":{"code":-1,"message":"x"}}}`},
		{name: "mailgun fractional code", kind: KindMailgun, err: "schema", body: `{"event-data":{"event":"failed","severity":"permanent","recipient":"a@example.org","timestamp":1714557600,"delivery-status":{"code":550.5,"message":"x"}}}`},
		{name: "mailgun form-encoded", kind: KindMailgun, err: "mailgun.malformed_json", body: `event=failed&recipient=a%40example.org`},

		{name: "postmark soft bounce", kind: KindPostmark,
			body: `{"RecordType":"Bounce","ID":7,"Type":"SoftBounce","TypeCode":4096,"MessageID":"pm-1","ServerID":5,"Tag":"weekly","Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).","Details":"smtp;452 4.2.2 mailbox full","Email":"a@example.org","BouncedAt":"2024-05-01T12:00:00.1234567-04:00","Inactive":false,"CanActivate":true}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Bounced, CampaignID: "weekly", Tenant: "5", MessageID: "pm-1",
				SMTP: event.SMTP{Code: 452, Enhanced: "4.2.2", Text: "mailbox full"}, Diagnostic: "smtp;452 4.2.2 mailbox full",
				SourceClassification: &event.SourceClassification{Scheme: "postmark", Value: "SoftBounce"}}}},
		{name: "postmark transient is deferred", kind: KindPostmark,
			body: `{"RecordType":"Bounce","ID":8,"Type":"Transient","Email":"a@example.org","BouncedAt":"2024-05-01T12:00:00Z","Details":"delayed"}`,
			want: []event.Attempt{{Outcome: event.Deferred}}},
		{name: "postmark manually deactivated is dropped", kind: KindPostmark,
			body: `{"RecordType":"Bounce","ID":9,"Type":"ManuallyDeactivated","Email":"a@example.org","BouncedAt":"2024-05-01T12:00:00Z","Details":"Manually deactivated, unknown user"}`,
			want: []event.Attempt{{Outcome: event.Dropped, SMTP: event.SMTP{}, Diagnostic: ""}}},
		{name: "postmark spam complaint", kind: KindPostmark,
			body: `{"RecordType":"SpamComplaint","ID":10,"Type":"SpamComplaint","TypeCode":100001,"Email":"a@example.org","BouncedAt":"2024-05-01T12:00:00Z","Metadata":{"campaign_id":"m-3"}}`,
			want: []event.Attempt{{Outcome: event.Complaint, CampaignID: "m-3", SourceClassification: &event.SourceClassification{Scheme: "postmark", Value: "SpamComplaint"}}}},
		{name: "postmark delivery", kind: KindPostmark,
			body: `{"RecordType":"Delivery","ServerID":23,"MessageStream":"outbound","MessageID":"pm-2","Recipient":"john@example.com","Tag":"welcome-email","DeliveredAt":"2019-11-05T16:33:54.9070259Z","Details":"Test delivery webhook details","Metadata":{"a_key":"a_value"}}`,
			want: []event.Attempt{{Recipient: "john@example.com", Outcome: event.Delivered, CampaignID: "welcome-email", MessageID: "pm-2", Tenant: "23"}}},
		{name: "postmark auto responder", kind: KindPostmark, skip: "postmark.auto_responder",
			body: `{"RecordType":"Bounce","ID":11,"Type":"AutoResponder","Email":"a@example.org","BouncedAt":"2024-05-01T12:00:00Z"}`},
		{name: "postmark open", kind: KindPostmark, skip: "postmark.open", body: `{"RecordType":"Open","Recipient":"a@example.org","ReceivedAt":"2024-05-01T12:00:00Z"}`},
		{name: "postmark subscription change", kind: KindPostmark, skip: "postmark.subscription_change", body: `{"RecordType":"SubscriptionChange","Recipient":"a@example.org","SuppressSending":true}`},
		{name: "postmark inbound", kind: KindPostmark, err: "postmark.shape", body: `{"FromName":"x","MessageStream":"inbound"}`},
		{name: "postmark bad time", kind: KindPostmark, err: "postmark.invalid_time", body: `{"RecordType":"Bounce","ID":1,"Type":"HardBounce","Email":"a@example.org","BouncedAt":"16/11/2022"}`},

		{name: "postal hard fail with the reply and endpoint", kind: KindPostal,
			body: psBodyJSON("MessageDeliveryFailed", `"status":"HardFail","details":"Permanent SMTP delivery error when sending to 203.0.113.5:25 (mx.example.org). Recipient added to suppression list (too many hard fails).","output":"550 5.1.1 <a@example.org>: Recipient address rejected: User unknown","timestamp":1714557601.5`),
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Bounced, CampaignID: "spring", Sender: "news@example.net", MessageID: "m1@example.net",
				SMTP:                 event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "<a@example.org>: Recipient address rejected: User unknown", RemoteHost: "mx.example.org", RemoteIP: "203.0.113.5"},
				SourceClassification: &event.SourceClassification{Scheme: "postal", Value: "HardFail"}}}},
		{name: "postal tags off", kind: KindPostal + ":never",
			body: psBodyJSON("MessageSent", `"status":"Sent","output":"250 ok","timestamp":1714557601`),
			want: []event.Attempt{{Outcome: event.Delivered}}},
		{name: "postal held on the suppression list is dropped", kind: KindPostal,
			body: psBodyJSON("MessageHeld", `"status":"Held","details":"Recipient (a@example.org) is on the suppression list (reason: too many hard fails)","output":"","timestamp":1714557601`),
			want: []event.Attempt{{Outcome: event.Dropped, SourceClassification: &event.SourceClassification{Scheme: "postal", Value: "Held"}}}},
		{name: "postal held at the send limit", kind: KindPostal, skip: "postal.held",
			body: psBodyJSON("MessageHeld", `"status":"Held","details":"Message held because send limit (1000) has been reached.","timestamp":1714557601`)},
		{name: "postal outbound spam check", kind: KindPostal, skip: "postal.refused_spam",
			body: psBodyJSON("MessageDeliveryFailed", `"status":"HardFail","details":"Message is likely spam. Threshold is 5.0 and the message scored 7.1.","timestamp":1714557601`)},
		{name: "postal bounce takes the bounce mail's time", kind: KindPostal,
			body: `{"event":"MessageBounced","timestamp":1714560000.5,"uuid":"u-2","payload":{"original_message":{"id":7,"to":"a@example.org","from":"news@example.net","timestamp":1714557600},"bounce":{"id":8,"direction":"incoming","from":"MAILER-DAEMON@example.org","subject":"Undelivered Mail Returned to Sender","timestamp":1714559000}}}`,
			want: []event.Attempt{{Recipient: "a@example.org", Outcome: event.Bounced, DelaySeconds: 1400, SMTP: event.SMTP{},
				SourceClassification: &event.SourceClassification{Scheme: "postal", Value: "MessageBounced"}}}},
		{name: "postal click", kind: KindPostal, skip: "postal.link_clicked",
			body: `{"event":"MessageLinkClicked","timestamp":1714557601,"uuid":"u","payload":{"url":"https://example.net","token":"VJzsFA0S","ip_address":"192.0.2.1","message":{"id":1,"to":"a@example.org"}}}`},
		{name: "postal send limit", kind: KindPostal, skip: "postal.send_limit_exceeded",
			body: `{"event":"SendLimitExceeded","timestamp":1714557601,"uuid":"u","payload":{"server":{"uuid":"s"},"volume":1000,"limit":1000}}`},
		{name: "postal future event", kind: KindPostal, skip: "postal.unknown_event", body: `{"event":"MessageTeleported","timestamp":1714557601,"uuid":"u","payload":{}}`},
		{name: "postal status contradicts event", kind: KindPostal, err: "postal.shape",
			body: psBodyJSON("MessageSent", `"status":"HardFail","timestamp":1714557601`)},
		{name: "postal without payload", kind: KindPostal, err: "postal.shape", body: `{"event":"MessageSent","timestamp":1714557601,"uuid":"u"}`},
		{name: "postal without message", kind: KindPostal, err: "postal.shape", body: `{"event":"MessageSent","timestamp":1714557601,"uuid":"u","payload":{"status":"Sent"}}`},
		{name: "postal without event", kind: KindPostal, err: "postal.shape", body: `{"payload":{}}`},
		{name: "postal without recipient", kind: KindPostal, err: "postal.no_recipient",
			body: `{"event":"MessageDeliveryFailed","timestamp":1714557601,"uuid":"u","payload":{"status":"HardFail","details":"Message doesn't have an RCPT to","message":{"id":1,"to":null}}}`},
		{name: "postal without any time", kind: KindPostal, err: "postal.invalid_time",
			body: `{"event":"MessageSent","uuid":"u","payload":{"status":"Sent","message":{"id":1,"to":"a@example.org"}}}`},
		{name: "postal bad time", kind: KindPostal, err: "postal.invalid_time",
			body: psBodyJSON("MessageSent", `"status":"Sent","timestamp":"yesterday"`)},
		{name: "postal payload of the wrong type", kind: KindPostal, err: "postal.malformed_json", body: `{"event":"MessageSent","payload":"Sent"}`},
		{name: "postal not json", kind: KindPostal, err: "postal.malformed_json", body: `MessageSent`},
	}
}

// psBodyJSON is a Postal status event for a@example.org with the given
// payload members besides message.
func psBodyJSON(ev, payload string) string {
	return `{"event":"` + ev + `","timestamp":1714557602.25,"uuid":"u-1","payload":{` + payload +
		`,"message":{"id":41,"token":"t","direction":"outgoing","message_id":"m1@example.net","to":"a@example.org","from":"news@example.net","subject":"s","timestamp":1714557600,"spam_status":"NotSpam","tag":"spring"}}}`
}

func TestDecodeTable(t *testing.T) {
	ds := decoders(Config{})
	never := decoders(Config{TagCampaign: TagCampaignNever})
	for _, tc := range tableCases() {
		t.Run(tc.name, func(t *testing.T) {
			kind, opt, _ := strings.Cut(tc.kind, ":")
			d := ds[kind]
			if opt == "never" {
				d = never[kind]
			}
			as, skip, err := d.Decode(raw.Record{Payload: []byte(tc.body), Host: "bridge-1"})
			if tc.err != "" {
				var re *raw.Error
				if !errors.As(err, &re) || re.Reason != tc.err {
					t.Fatalf("err = %v, want reason %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if skip != tc.skip {
				t.Fatalf("skip = %q, want %q", skip, tc.skip)
			}
			if len(as) != len(tc.want) {
				t.Fatalf("%d attempts, want %d: %+v", len(as), len(tc.want), as)
			}
			for i := range as {
				checkAttempt(t, i, &as[i], &tc.want[i])
			}
		})
	}
}

// checkAttempt compares the fields want sets, and the invariants every
// attempt keeps.
func checkAttempt(t *testing.T, i int, got, want *event.Attempt) {
	t.Helper()
	if got.EventID == "" || got.OccurredAt.IsZero() || got.OccurredAt.Location().String() != "UTC" || got.Source.Kind == "" || got.Source.Host != "bridge-1" {
		t.Errorf("[%d] missing id, UTC time or source: %+v", i, got)
	}
	if got.RecipientNorm != "" || got.RecipientDomain != "" || got.Verdict != nil {
		t.Errorf("[%d] derived fields set by the decoder", i)
	}
	if got.Outcome == event.Dropped && (got.SMTP != event.SMTP{} || got.Diagnostic != "") {
		t.Errorf("[%d] dropped attempt carries reply text: %+v / %q", i, got.SMTP, got.Diagnostic)
	}
	cmp := func(field string, g, w any, set bool) {
		if set && g != w {
			t.Errorf("[%d] %s = %v, want %v", i, field, g, w)
		}
	}
	cmp("recipient", got.Recipient, want.Recipient, want.Recipient != "")
	cmp("outcome", got.Outcome, want.Outcome, want.Outcome != "")
	cmp("campaign", got.CampaignID, want.CampaignID, want.CampaignID != "" || strings.Contains(t.Name(), "tags_off"))
	cmp("sending_ip", got.SendingIP, want.SendingIP, want.SendingIP != "")
	cmp("pool", got.Pool, want.Pool, want.Pool != "")
	cmp("tenant", got.Tenant, want.Tenant, want.Tenant != "")
	cmp("sender", got.Sender, want.Sender, want.Sender != "")
	cmp("message_id", got.MessageID, want.MessageID, want.MessageID != "")
	cmp("attempt", got.Attempt, want.Attempt, want.Attempt != 0)
	cmp("delay", got.DelaySeconds, want.DelaySeconds, want.DelaySeconds != 0)
	cmp("diagnostic", got.Diagnostic, want.Diagnostic, want.Diagnostic != "")
	cmp("smtp", got.SMTP, want.SMTP, want.SMTP != event.SMTP{})
	if want.SourceClassification != nil {
		if got.SourceClassification == nil || *got.SourceClassification != *want.SourceClassification {
			t.Errorf("[%d] source_classification = %+v, want %+v", i, got.SourceClassification, want.SourceClassification)
		}
	}
}

// TestEventIDsStable checks the natural keys: the same body decodes to the
// same ids, SNS-wrapped and raw bounces share them (feedbackId), and the
// recipients of one notification get distinct ids.
func TestEventIDsStable(t *testing.T) {
	d := NewSES(Config{})
	body := readSample(t, "testdata/ses_bounce_raw.txt")
	a1, _, _ := d.Decode(raw.Record{Payload: body})
	a2, _, _ := d.Decode(raw.Record{Payload: readSample(t, "testdata/ses_bounce_sns.txt")})
	if len(a1) != 1 || len(a2) != 1 || a1[0].EventID != a2[0].EventID {
		t.Fatalf("raw and SNS ids differ: %v %v", a1, a2)
	}
	for _, tc := range tableCases() {
		if tc.kind != KindSES || !strings.HasPrefix(tc.name, "ses multi") {
			continue
		}
		as, _, _ := d.Decode(raw.Record{Payload: []byte(tc.body)})
		if as[0].EventID == as[1].EventID {
			t.Fatal("two recipients share an event id")
		}
		// Each attempt owns its metadata.
		as[0].Metadata["x"] = "y"
		if as[1].Metadata["x"] == "y" {
			t.Fatal("attempts share a metadata map")
		}
	}
}

// TestMetadataBounded: a body with hundreds of custom args still yields an
// attempt inside the schema's limits (64 entries, 4096 characters).
func TestMetadataBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[{"email":"a@example.org","timestamp":1714557600,"event":"delivered","sg_event_id":"x"`)
	for i := range 300 {
		b.WriteString(`,"arg` + strings.Repeat("k", i%7) + string(rune('a'+i%26)) + strings.Repeat("z", i/26) + `":"` + strings.Repeat("v", 5000) + `"`)
	}
	b.WriteString(`}]`)
	as, _, err := NewSendGrid(Config{}).Decode(raw.Record{Payload: []byte(b.String())})
	if err != nil || len(as) != 1 {
		t.Fatal(err)
	}
	if n := len(as[0].Metadata); n > 64 {
		t.Fatalf("%d metadata entries", n)
	}
	for k, v := range as[0].Metadata {
		if len(v) > 4096 {
			t.Fatalf("metadata %s is %d bytes", k, len(v))
		}
	}
}
