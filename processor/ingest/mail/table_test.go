package mail

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// dsnMessage builds a multipart/report DSN with the given per-recipient
// blocks (and CRLF line ends when crlf is set).
func dsnMessage(top, human, blocks, original string, crlf bool) string {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.sender.example\nTo: bounces+jane=example.org@sender.example\n")
	b.WriteString("Date: Tue, 03 Mar 2026 10:00:00 +0100\nMessage-ID: <bounce-1@mx.sender.example>\n")
	b.WriteString("Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n")
	b.WriteString(top)
	b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n")
	b.WriteString("--B\nContent-Type: text/plain; charset=us-ascii\n\n" + human + "\n")
	b.WriteString("--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.sender.example\nArrival-Date: Tue, 03 Mar 2026 09:00:00 +0100\n\n")
	b.WriteString(blocks + "\n")
	if original != "" {
		b.WriteString("--B\nContent-Type: text/rfc822-headers\n\n" + original + "\n")
	}
	b.WriteString("--B--\n")
	s := b.String()
	if crlf {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

const origHeaders = "Return-Path: <bounces+jane=example.org@sender.example>\nFrom: News <news@sender.example>\nTo: jane@example.org\n" +
	"Message-ID: <m1@sender.example>\nDate: Tue, 03 Mar 2026 08:59:00 +0100\nX-Campaign-ID: spring-sale\nSubject: =?UTF-8?B?w4lwaWNlcmll?=\n"

func decode(t *testing.T, cfg Config, msg string) ([]event.Attempt, string, error) {
	t.Helper()
	as, skip, err := New(cfg).Decode(raw.Record{Payload: []byte(msg), Received: received})
	checkContract(t, as, skip, err)
	return as, skip, err
}

func reason(err error) string {
	if re, ok := err.(*raw.Error); ok {
		return re.Reason
	}
	return fmt.Sprint(err)
}

// TestDSN reads per-recipient blocks as MTAs write them.
func TestDSN(t *testing.T) {
	for _, tc := range []struct {
		name, blocks string
		want         []event.Attempt // Recipient, Outcome, SMTP, Diagnostic checked
		skip         string
		err          string
	}{
		{name: "failed with diagnostic",
			blocks: "Final-Recipient: rfc822; jane@example.org\nOriginal-Recipient: rfc822;jane@example.org\nAction: failed\nStatus: 5.1.1\n" +
				"Remote-MTA: dns; mx.example.org\nDiagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\n    not exist. Please try\n    550 5.1.1 double-checking the recipient's email address",
			want: []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Code: 550, Enhanced: "5.1.1",
				Text: "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address", RemoteHost: "mx.example.org"}}}},
		{name: "delayed",
			blocks: "Final-Recipient: rfc822; <jane@example.org>\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.1]:25: Connection timed out",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Deferred, SMTP: event.SMTP{Enhanced: "4.4.1", Text: "connect to mx.example.org[192.0.2.1]:25: Connection timed out"}}}},
		{name: "failed after retries is expired",
			blocks: "Final-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 4.4.7\nDiagnostic-Code: smtp; 451 4.4.7 Try later",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Expired, SMTP: event.SMTP{Code: 451, Enhanced: "4.4.7", Text: "Try later"}}}},
		{name: "status from the diagnostic when absent",
			blocks: "Final-Recipient: rfc822; jane@example.org\nAction: failed\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Code: 552, Enhanced: "5.2.2", Text: "Mailbox full"}}}},
		{name: "no action, status decides",
			blocks: "Final-Recipient: rfc822; jane@example.org\nStatus: 5.7.1",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Enhanced: "5.7.1"}, Diagnostic: "The mail system could not deliver."}}},
		{name: "original recipient when final is not rfc822",
			blocks: "Final-Recipient: x400; /C=FR/ADMD= /PRMD=x\nOriginal-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 5.1.1",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Enhanced: "5.1.1"}, Diagnostic: "The mail system could not deliver."}}},
		{name: "two recipients, one delivered",
			blocks: "Final-Recipient: rfc822; a@example.org\nAction: delivered\nStatus: 2.0.0\n\nFinal-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.1.1",
			want:   []event.Attempt{{Recipient: "b@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Enhanced: "5.1.1"}, Diagnostic: "The mail system could not deliver."}}},
		{name: "all delivered", blocks: "Final-Recipient: rfc822; a@example.org\nAction: delivered\nStatus: 2.0.0", skip: SkipDelivered},
		{name: "relayed", blocks: "Final-Recipient: rfc822; a@example.org\nAction: relayed\nStatus: 2.0.0", skip: SkipRelayed},
		{name: "expanded", blocks: "Final-Recipient: rfc822; a@example.org\nAction: expanded\nStatus: 2.0.0", skip: SkipRelayed},
		{name: "no recipient field: VERP of the envelope",
			blocks: "Action: failed\nStatus: 5.1.1",
			want:   []event.Attempt{{Recipient: "jane@example.org", Outcome: event.Bounced, SMTP: event.SMTP{Enhanced: "5.1.1"}, Diagnostic: "The mail system could not deliver."}}},
		{name: "recipient without outcome", blocks: "Final-Recipient: rfc822; a@example.org", err: ErrNoRecipient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, skip, err := decode(t, Config{}, dsnMessage("", "The mail system could not deliver.", tc.blocks, "", false))
			if tc.err != "" || err != nil {
				if reason(err) != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if skip != tc.skip {
				t.Fatalf("skip %q, want %q", skip, tc.skip)
			}
			if len(as) != len(tc.want) {
				t.Fatalf("%d attempts, want %d: %+v", len(as), len(tc.want), as)
			}
			for i, w := range tc.want {
				a := as[i]
				if a.Recipient != w.Recipient || a.Outcome != w.Outcome || a.SMTP != w.SMTP || a.Diagnostic != w.Diagnostic {
					t.Errorf("got  %s %s %+v %q\nwant %s %s %+v %q", a.Recipient, a.Outcome, a.SMTP, a.Diagnostic, w.Recipient, w.Outcome, w.SMTP, w.Diagnostic)
				}
				if a.Source.Host != "mx.sender.example" || a.Metadata["mail.layout"] != "dsn" {
					t.Errorf("source %+v, metadata %v", a.Source, a.Metadata)
				}
			}
		})
	}
}

// TestDSNMessage checks what a DSN takes from the message around the
// report: times, original headers, encodings, line ends, the event id.
func TestDSNMessage(t *testing.T) {
	block := "Final-Recipient: rfc822; jane@example.org\nAction: failed\nStatus: 5.1.1\nLast-Attempt-Date: Tue, 03 Mar 2026 09:59:00 +0100 (CET)"
	for _, crlf := range []bool{false, true} {
		msg := dsnMessage("", "x", block, origHeaders, crlf)
		as, _, err := decode(t, Config{}, msg)
		if err != nil || len(as) != 1 {
			t.Fatalf("crlf %v: %v %v", crlf, as, err)
		}
		a := as[0]
		if got := a.OccurredAt.Format(time.RFC3339); got != "2026-03-03T08:59:00Z" {
			t.Errorf("occurred_at %s, want Last-Attempt-Date", got)
		}
		if got := a.SentAt.Format(time.RFC3339); got != "2026-03-03T08:00:00Z" {
			t.Errorf("sent_at %s, want Arrival-Date", got)
		}
		if a.MessageID != "<m1@sender.example>" || a.Sender != "bounces+jane=example.org@sender.example" {
			t.Errorf("message_id %q sender %q", a.MessageID, a.Sender)
		}
		if a.Metadata["header.x-campaign-id"] != "spring-sale" || a.Metadata["header.subject"] != "Épicerie" {
			t.Errorf("metadata %v", a.Metadata)
		}
		if _, ok := a.Metadata["mail.verp_recipient"]; ok {
			t.Errorf("VERP agrees with the report, yet flagged: %v", a.Metadata)
		}
		again, _, _ := decode(t, Config{}, msg)
		if again[0].EventID != a.EventID {
			t.Error("event id is not stable")
		}
	}
	// The bounce's Date when the report has no time, then the receive time.
	as, _, _ := decode(t, Config{}, dsnMessage("", "x", "Final-Recipient: rfc822; jane@example.org\nAction: failed", "", false))
	if got := as[0].OccurredAt.Format(time.RFC3339); got != "2026-03-03T09:00:00Z" {
		t.Errorf("occurred_at %s, want the bounce's Date", got)
	}
	// A VERP address that disagrees with the report is kept as evidence.
	as, _, _ = decode(t, Config{}, dsnMessage("", "x", "Final-Recipient: rfc822; jane.doe@mail.example.org\nAction: failed", "", false))
	if as[0].Recipient != "jane.doe@mail.example.org" || as[0].Metadata["mail.verp_recipient"] != "jane@example.org" {
		t.Errorf("VERP cross-check: %s %v", as[0].Recipient, as[0].Metadata)
	}
}

// TestEncodings: base64 and quoted-printable parts, RFC 2047 words,
// message/global-delivery-status, 8-bit text that is not UTF-8.
func TestEncodings(t *testing.T) {
	dsn := "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: utf-8; jöran@exämple.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown \xff user\n"
	msg := "From: MAILER-DAEMON@example.org\nDate: Tue, 03 Mar 2026 10:00:00 +0000\nSubject: =?ISO-8859-1?Q?Unzustellbar?=\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=X\n\n--X\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nUnzustellbar: =FCberpr=FCfen Sie die Adresse=\n.\n" +
		"--X\nContent-Type: message/global-delivery-status\nContent-Transfer-Encoding: base64\n\n" + wrap(base64.StdEncoding.EncodeToString([]byte(dsn))) + "\n--X--\n"
	as, _, err := decode(t, Config{}, msg)
	if err != nil || len(as) != 1 {
		t.Fatalf("%v %v", as, err)
	}
	a := as[0]
	if a.Recipient != "jöran@exämple.org" || a.SMTP.Text != "unknown "+reply.Placeholder+" user" {
		t.Errorf("recipient %q text %q", a.Recipient, a.SMTP.Text)
	}
	// The human-readable part (QP, Latin-1) is the fallback diagnostic.
	msg = strings.Replace(msg, wrap(base64.StdEncoding.EncodeToString([]byte(dsn))), wrap(base64.StdEncoding.EncodeToString([]byte(strings.Replace(dsn, "Diagnostic-Code: smtp; 550 5.1.1 unknown \xff user\n", "", 1)))), 1)
	as, _, _ = decode(t, Config{}, msg)
	if as[0].Diagnostic != "Unzustellbar: überprüfen Sie die Adresse." {
		t.Errorf("diagnostic %q", as[0].Diagnostic)
	}
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// TestVERP decodes recipients from VERP envelope addresses.
func TestVERP(t *testing.T) {
	def := (&Config{}).verp()
	custom := (&Config{VERP: `^b-(?P<local>[^.]+)\.(?P<domain>[^@]+)@`}).verp()
	for _, tc := range []struct {
		cfg  string
		addr string
		want string
	}{
		{"", "bounces+jane=example.org@sender.example", "jane@example.org"},
		{"", "bounce+jane.doe=mail.example.co.uk@sender.example", "jane.doe@mail.example.co.uk"},
		{"", "bounces@sender.example", ""},
		{"", "bounces+campaign7@sender.example", ""},
		{"", "bounces+jane=localhost@sender.example", ""},
		{"", "", ""},
		{"custom", "b-jane.example.org@sender.example", "jane@example.org"},
		{"custom", "bounces+jane=example.org@sender.example", ""},
	} {
		re := def
		if tc.cfg == "custom" {
			re = custom
		}
		if got := decodeVERP(re, tc.addr); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.cfg, tc.addr, got, tc.want)
		}
	}
	if (&Config{VERP: VERPOff}).verp() != nil {
		t.Error("off is not off")
	}
	// A text bounce with no readable recipient: the envelope's VERP.
	msg := "From: MAILER-DAEMON@mx.example\nDelivered-To: bounces+jane=example.org@sender.example\nSubject: failure notice\nDate: Tue, 03 Mar 2026 10:00:00 +0000\n\nHi. This is the qmail-send program at mx.example.\nSomething went wrong: 550 5.1.1 unknown\n"
	as, _, err := decode(t, Config{}, msg)
	if err != nil || len(as) != 1 || as[0].Recipient != "jane@example.org" || as[0].Outcome != event.Bounced {
		t.Fatalf("%+v %v", as, err)
	}
	if _, _, err := decode(t, Config{VERP: VERPOff}, msg); reason(err) != ErrNoRecipient {
		t.Errorf("VERP off: %v, want %s", err, ErrNoRecipient)
	}
}

// arfMessage builds a feedback report.
func arfMessage(report, original string) string {
	return "From: feedback@fbl.example.net\nTo: fbl@sender.example\nDate: Wed, 04 Mar 2026 12:00:00 +0000\nMessage-ID: <r1@fbl.example.net>\nSubject: Abuse report\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\n\n--F\nContent-Type: text/plain\n\nThis is an abuse report.\n" +
		"--F\nContent-Type: message/feedback-report\n\n" + report + "\n--F\nContent-Type: message/rfc822\n\n" + original + "\nbody\n--F--\n"
}

// TestARF reads feedback reports.
func TestARF(t *testing.T) {
	orig := "Return-Path: <bounces+jane=example.org@sender.example>\nFrom: news@sender.example\nTo: Jane <jane@example.org>\nMessage-ID: <m2@sender.example>\nX-Campaign-ID: c9\n"
	for _, tc := range []struct {
		name, report, original string
		cfg                    Config
		rcpts                  []string
		value, skip, err       string
	}{
		{name: "abuse", report: "Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\nOriginal-Mail-From: <bounces+jane=example.org@sender.example>\nOriginal-Rcpt-To: <jane@example.org>\nArrival-Date: Wed, 04 Mar 2026 11:00:00 +0000\nSource-IP: 192.0.2.1\nReported-Domain: sender.example",
			original: orig, rcpts: []string{"jane@example.org"}, value: "abuse"},
		{name: "fraud, two recipients", report: "Feedback-Type: fraud\nOriginal-Rcpt-To: a@example.org\nOriginal-Rcpt-To: b@example.org", original: orig, rcpts: []string{"a@example.org", "b@example.org"}, value: "fraud"},
		{name: "virus", report: "Feedback-Type: virus\nOriginal-Rcpt-To: a@example.org", original: orig, rcpts: []string{"a@example.org"}, value: "virus"},
		{name: "opt-out is a complaint", report: "Feedback-Type: opt-out\nOriginal-Rcpt-To: a@example.org", original: orig, rcpts: []string{"a@example.org"}, value: "opt-out"},
		{name: "unknown type reads as other", report: "Feedback-Type: something-new\nOriginal-Rcpt-To: a@example.org", original: orig, rcpts: []string{"a@example.org"}, value: "something-new"},
		{name: "not-spam", report: "Feedback-Type: not-spam\nOriginal-Rcpt-To: a@example.org", original: orig, skip: SkipNotSpam},
		{name: "auth-failure", report: "Feedback-Type: auth-failure\nAuth-Failure: dmarc", original: orig, skip: SkipAuthFailure},
		{name: "redacted: VERP of the original", report: "Feedback-Type: abuse", original: orig, rcpts: []string{"jane@example.org"}, value: "abuse"},
		{name: "redacted: original's To", report: "Feedback-Type: abuse", original: orig, cfg: Config{VERP: VERPOff}, rcpts: []string{"jane@example.org"}, value: "abuse"},
		{name: "redacted: two in To", report: "Feedback-Type: abuse", original: "From: news@sender.example\nTo: a@example.org, b@example.org\nMessage-ID: <m3@x>\n", err: ErrNoRecipient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, skip, err := decode(t, tc.cfg, arfMessage(tc.report, tc.original))
			if reason(err) != tc.err && !(err == nil && tc.err == "") {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if skip != tc.skip {
				t.Fatalf("skip %q, want %q", skip, tc.skip)
			}
			if len(as) != len(tc.rcpts) {
				t.Fatalf("%d attempts, want %d", len(as), len(tc.rcpts))
			}
			for i, a := range as {
				if a.Recipient != tc.rcpts[i] || a.Outcome != event.Complaint || a.SourceClassification == nil ||
					*a.SourceClassification != (event.SourceClassification{Scheme: "arf", Value: tc.value}) {
					t.Errorf("attempt %+v", a)
				}
				if a.MessageID != "<m2@sender.example>" || a.Metadata["header.x-campaign-id"] != "c9" {
					t.Errorf("original: %q %v", a.MessageID, a.Metadata)
				}
				if a.OccurredAt.Format(time.RFC3339) != "2026-03-04T12:00:00Z" {
					t.Errorf("occurred_at %v, want the report's Date", a.OccurredAt)
				}
			}
		})
	}
}

// TestAutoReply tells auto-replies from bounces and from other mail.
func TestAutoReply(t *testing.T) {
	for _, tc := range []struct {
		name, header, body, want string
	}{
		{"rfc3834", "Auto-Submitted: auto-replied\nSubject: Re: hello\n", "I am away.", SkipAutoReply},
		{"x-autoreply", "X-Autoreply: yes\nSubject: Re: hello\n", "I am away.", SkipAutoReply},
		{"x-autorespond", "X-Autorespond: yes\nSubject: Re: hello\n", "I am away.", SkipAutoReply},
		{"precedence", "Precedence: auto_reply\nSubject: Re: hello\n", "I am away.", SkipAutoReply},
		{"subject", "Subject: Out of Office: hello\n", "I am away.", SkipAutoReply},
		{"encoded subject", "Subject: =?UTF-8?Q?Automatische_Antwort:_hallo?=\n", "Ich bin weg.", SkipAutoReply},
		{"auto-generated is not a reply", "Auto-Submitted: auto-generated\nSubject: Your invoice\n", "Attached.", SkipNotBounce},
		{"plain mail", "Subject: Lunch?\n", "Noon?", SkipNotBounce},
		{"a bounce with auto-submitted is a bounce", "Auto-Submitted: auto-replied\nSubject: failure notice\n",
			"Hi. This is the qmail-send program at mx.example.\n\n<jane@example.org>:\n550 5.1.1 unknown user\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "From: someone@example.org\nTo: news@sender.example\nDate: Tue, 03 Mar 2026 10:00:00 +0000\n" + tc.header + "\n" + tc.body + "\n"
			as, skip, err := decode(t, Config{}, msg)
			if err != nil || skip != tc.want || (tc.want == "" && len(as) != 1) {
				t.Fatalf("%d attempts, skip %q, err %v; want skip %q", len(as), skip, err, tc.want)
			}
		})
	}
}

// TestTextLayouts reads non-standard bounces, one row per layout.
func TestTextLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, subject, body string
		rcpts               []string
		outcome             event.Outcome
		code                int
		enhanced            string
	}{
		{"postfix", "Undelivered Mail Returned to Sender", "This is the mail system at host mx.sender.example.\n\n<jane@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1\n    <jane@example.org>: Recipient address rejected (in reply to RCPT TO command)\n",
			[]string{"jane@example.org"}, event.Bounced, 550, "5.1.1"},
		{"postfix delay", "Delayed Mail (still being retried)", "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n\n<jane@example.org>: connect to mx.example.org[192.0.2.1]:25: Connection timed out\n",
			[]string{"jane@example.org"}, event.Deferred, 0, ""},
		{"qmail two", "failure notice", "Hi. This is the qmail-send program at mx.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n\n<a@example.org>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 unknown\n\n<b@example.org>:\nmailbox full (#5.2.2)\n\n--- Below this line is a copy of the message.\n\nTo: <x@example.org>:\n",
			[]string{"a@example.org", "b@example.org"}, event.Bounced, 550, "5.1.1"},
		{"sendmail", "Returned mail: see transcript for details", "   ----- The following addresses had permanent fatal errors -----\n<jane@example.org>\n    (reason: 550 5.1.1 <jane@example.org>... User unknown)\n\n   ----- Transcript of session follows -----\n... while talking to mx.example.org.:\n>>> RCPT To:<jane@example.org>\n<<< 550 5.1.1 <jane@example.org>... User unknown\n",
			[]string{"jane@example.org"}, event.Bounced, 550, "5.1.1"},
		{"exim", "Mail delivery failed: returning message to sender", "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  jane@example.org\n    host mx.example.org [192.0.2.1]\n    SMTP error from remote mail server after RCPT TO:<jane@example.org>:\n    550 5.1.1 User unknown\n",
			[]string{"jane@example.org"}, event.Bounced, 550, "5.1.1"},
		{"exchange", "Undeliverable: hello", "Delivery has failed to these recipients or groups:\n\njane@example.org<mailto:jane@example.org>\nThe email address you entered couldn't be found.\n\nDiagnostic information for administrators:\n\nGenerating server: EX1.example.org\n\njane@example.org\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n",
			[]string{"jane@example.org"}, event.Bounced, 550, "5.1.10"},
		{"office 365 sentence", "Undeliverable: hello", "Your message to jane@example.org couldn't be delivered.\njane wasn't found at example.org.\n",
			[]string{"jane@example.org"}, event.Bounced, 0, ""},
		{"gmail delayed", "Delivery Status Notification (Delay)", "This is an automatically generated Delivery Status Notification\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nDelivery to the following recipient has been delayed:\n\n     jane@example.org\n\nMessage will be retried for 2 more day(s)\n",
			[]string{"jane@example.org"}, event.Deferred, 0, ""},
		{"no recipient", "Undelivered Mail Returned to Sender", "Something failed, sorry.\n", nil, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\nTo: news@sender.example\nDate: Tue, 03 Mar 2026 10:00:00 +0000\nSubject: " + tc.subject + "\n\n" + tc.body
			as, _, err := decode(t, Config{VERP: VERPOff}, msg)
			if tc.rcpts == nil {
				if reason(err) != ErrNoRecipient {
					t.Fatalf("err %v, want %s", err, ErrNoRecipient)
				}
				return
			}
			if err != nil || len(as) != len(tc.rcpts) {
				t.Fatalf("%+v %v", as, err)
			}
			for i, a := range as {
				if a.Recipient != tc.rcpts[i] || a.Outcome != tc.outcome {
					t.Errorf("attempt %d: %s %s, want %s %s", i, a.Recipient, a.Outcome, tc.rcpts[i], tc.outcome)
				}
			}
			if as[0].SMTP.Code != tc.code || as[0].SMTP.Enhanced != tc.enhanced {
				t.Errorf("smtp %+v, want %d %s (diagnostic %q)", as[0].SMTP, tc.code, tc.enhanced, as[0].Diagnostic)
			}
		})
	}
}

// TestLimits: hostile structure is refused with a reason, quickly.
func TestLimits(t *testing.T) {
	nested := "From: MAILER-DAEMON@x.example\nContent-Type: multipart/mixed; boundary=b0\n\n"
	for i := range 20 {
		nested += fmt.Sprintf("--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	many := "From: MAILER-DAEMON@x.example\nContent-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\nContent-Type: text/plain\n\nx\n", 100) + "--b--\n"
	rcpts := strings.Repeat("Final-Recipient: rfc822; a@example.org\nAction: failed\n\n", 101)
	for _, tc := range []struct{ name, msg, want string }{
		{"depth", nested, ErrTooDeep},
		{"parts", many, ErrTooManyParts},
		{"recipients", dsnMessage("", "x", rcpts, "", false), ErrTooManyRecipients},
		{"header", "From: a@example.org\nSubject: " + strings.Repeat("x", 300<<10) + "\n\nbody", ErrHeaderTooLarge},
		{"not a message", "just some text\n", ErrMalformed},
		{"feedback-report without its part", "From: a@example.org\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := decode(t, Config{}, tc.msg); reason(err) != tc.want {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
		})
	}
	if _, _, err := decode(t, Config{MaxRecipients: 200}, dsnMessage("", "x", rcpts, "", false)); err != nil {
		t.Errorf("max_recipients 200: %v", err)
	}
}

// TestNoTime: a message without any date and a record without a receive
// time is refused.
func TestNoTime(t *testing.T) {
	msg := "From: MAILER-DAEMON@x.example\nSubject: failure notice\n\nHi. This is the qmail-send program at x.\n\n<jane@example.org>:\n550 no\n"
	_, _, err := New(Config{}).Decode(raw.Record{Payload: []byte(msg)})
	if reason(err) != ErrTime {
		t.Fatalf("err %v, want %s", err, ErrTime)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{VERP: VERPOff, MaxParts: 10, MaxDepth: 3, MaxRecipients: 5, MaxHeaderBytes: 1 << 10, MaxHeaders: 10}, ""},
		{Config{VERP: `^(?P<local>[^+]+)\+(?P<domain>.+)@`}, ""},
		{Config{VERP: `(`}, "ingest.mail.verp"},
		{Config{VERP: `^(?P<user>.+)@`}, "ingest.mail.verp"},
		{Config{MaxParts: -1}, "ingest.mail.max_parts"},
		{Config{MaxDepth: 1000}, "ingest.mail.max_depth"},
		{Config{MaxHeaders: 61}, "ingest.mail.max_headers"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestFieldParsing covers the small parsers DSN fields go through.
func TestFieldParsing(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rfc822; jane@example.org", "jane@example.org"},
		{"RFC822;<jane@example.org>", "jane@example.org"},
		{"jane@example.org", "jane@example.org"},
		{"x400; /C=FR/", ""},
		{"rfc822; jane", ""},
		{"rfc822; Jane Doe <jane@example.org>", "jane@example.org"},
		{"", ""},
	} {
		if got := address(tc.in); got != tc.want {
			t.Errorf("address(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		code int
		enh  string
		text string
	}{
		{"smtp; 550 5.1.1 <jane@example.org>... User unknown", 550, "5.1.1", "<jane@example.org>... User unknown"},
		{"SMTP; 550-5.7.1 line one\n   550 5.7.1 line two", 550, "5.7.1", "line one line two"},
		{"X-Postfix; host mx said: 450 4.2.0 greylisted", 450, "4.2.0", "host mx said: 450 4.2.0 greylisted"},
		{"smtp; 5.1.1 unknown user", 0, "5.1.1", "5.1.1 unknown user"},
		{"Connection timed out", 0, "", "Connection timed out"},
	} {
		r := diagnostic(tc.in)
		if r.Code != tc.code || r.Enhanced != tc.enh || r.Text != tc.text {
			t.Errorf("diagnostic(%q) = %d %q %q, want %d %q %q", tc.in, r.Code, r.Enhanced, r.Text, tc.code, tc.enh, tc.text)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"Tue, 03 Mar 2026 10:00:00 +0100", "2026-03-03T09:00:00Z"},
		{"Tue, 03 Mar 2026 10:00:00 +0100 (CET)", "2026-03-03T09:00:00Z"},
		{"3 Mar 2026 10:00:00 -0000", "2026-03-03T10:00:00Z"},
		{"Thu, 29 Apr 1999 23:34:45 -0500 (CDT)", "1999-04-30T04:34:45Z"},
		{"yesterday", "0001-01-01T00:00:00Z"},
		{"Tue, 03 Mar 1970 10:00:00 +0000", "0001-01-01T00:00:00Z"},
	} {
		if got := parseDate(tc.in).Format(time.RFC3339); got != tc.want {
			t.Errorf("parseDate(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestHostileShapes: inputs shaped to make a naive parser quadratic (a
// field folded over many lines, a reason over many lines, many empty
// parts) decode in linear time.
func TestHostileShapes(t *testing.T) {
	folded := "From: MAILER-DAEMON@x.example\nSubject: failure notice\nX-Long: a" + strings.Repeat("\n b", 80000) + "\n\nx\n"
	reasons := "From: MAILER-DAEMON@x.example\nSubject: failure notice\nDate: Tue, 03 Mar 2026 10:00:00 +0000\n\nHi. This is the qmail-send program at x.\n\n<jane@example.org>:\n" + strings.Repeat("r\n", 30000)
	for name, msg := range map[string]string{"folded field": folded, "long reason": reasons} {
		start := time.Now()
		as, skip, err := decode(t, Config{}, msg)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v to decode (%d attempts, %q, %v)", name, d, len(as), skip, err)
		}
		for _, a := range as {
			if len(a.Diagnostic) > maxTextBytes {
				t.Errorf("%s: diagnostic of %d bytes", name, len(a.Diagnostic))
			}
		}
	}
}
