package postfix

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

// TestParseReason holds the reason parser to one row per real reason shape.
func TestParseReason(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		want   event.SMTP
	}{
		{"remote reply at RCPT TO (Cuttlefish fixture)",
			"host foo.bar.com[1.2.3.4] said: 451 4.3.0 <bounces@planningalerts.org.au>: Temporary lookup failure (in reply to RCPT TO command)",
			event.SMTP{Code: 451, Enhanced: "4.3.0", Text: "<bounces@planningalerts.org.au>: Temporary lookup failure", Command: "RCPT TO", RemoteHost: "foo.bar.com", RemoteIP: "1.2.3.4"}},
		{"multi-line 550-5.7.1 after end of DATA, IPv6 (smtp_0018)",
			"host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 [2607:4100:3:25:100::2      12] Our system has detected that this 550-5.7.1 message is likely unsolicited mail. To reduce the amount of spam sent 550-5.7.1 to Gmail, this message has been blocked. Please visit 550-5.7.1 http://support.google.com/mail/bin/answer.py?hl=en&answer=188131 for 550 5.7.1 more information. qc12si8475009pab.211 - gsmtp (in reply to end of DATA command)",
			event.SMTP{Code: 550, Enhanced: "5.7.1", Text: "[2607:4100:3:25:100::2      12] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. Please visit http://support.google.com/mail/bin/answer.py?hl=en&answer=188131 for more information. qc12si8475009pab.211 - gsmtp", Command: "END-OF-DATA", RemoteHost: "gmail-smtp-in.l.google.com", RemoteIP: "2607:f8b0:400e:c04::1b"}},
		{"multi-line 421-4.7.0 rate limit (smtp_0023)",
			"host gmail-smtp-in.l.google.com[74.125.136.26] said: 421-4.7.0 [1.2.3.4      15] Our system has detected an unusual rate of 421-4.7.0 unsolicited mail originating from your IP address. To protect our 421-4.7.0 users from spam, mail sent from your IP address has been temporarily 421-4.7.0 rate limited. Please visit 421-4.7.0  https://support.google.com/mail/answer/81126 to review our Bulk Email 421 4.7.0 Senders Guidelines. bv15si15610322wjb.142 - gsmtp (in reply to end of DATA command)",
			event.SMTP{Code: 421, Enhanced: "4.7.0", Text: "[1.2.3.4      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. Please visit  https://support.google.com/mail/answer/81126 to review our Bulk Email Senders Guidelines. bv15si15610322wjb.142 - gsmtp", Command: "END-OF-DATA", RemoteHost: "gmail-smtp-in.l.google.com", RemoteIP: "74.125.136.26"}},
		{"one continuation line only (Cuttlefish fixture)",
			"host aspmx.l.google.com[173.194.79.27] said: 550-5.1.1 The email account that you tried to reach does not exist. zb4si15321910pbb.132 - gsmtp (in reply to RCPT TO command)",
			event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "The email account that you tried to reach does not exist. zb4si15321910pbb.132 - gsmtp", Command: "RCPT TO", RemoteHost: "aspmx.l.google.com", RemoteIP: "173.194.79.27"}},
		{"multi-line without enhanced codes",
			"host mx.example.org[192.0.2.1] said: 550-Mailbox unavailable 550-see the policy page 550 for 550 details (in reply to MAIL FROM command)",
			event.SMTP{Code: 550, Text: "Mailbox unavailable see the policy page for 550 details", Command: "MAIL FROM", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.1"}},
		{"no enhanced code (forum post)",
			"host globala.mxsave.com[130.94.123.150] said: 550 5.7.1 <mica@xxxxxxx.com>,... Relaying denied (in reply to RCPT TO command)",
			event.SMTP{Code: 550, Enhanced: "5.7.1", Text: "<mica@xxxxxxx.com>,... Relaying denied", Command: "RCPT TO", RemoteHost: "globala.mxsave.com", RemoteIP: "130.94.123.150"}},
		{"MAIL FROM (smtp_0024)",
			"host mta7.am0.yahoodns.net[66.196.118.34] said: 451 4.3.2 Internal error reading data (in reply to MAIL FROM command)",
			event.SMTP{Code: 451, Enhanced: "4.3.2", Text: "Internal error reading data", Command: "MAIL FROM", RemoteHost: "mta7.am0.yahoodns.net", RemoteIP: "66.196.118.34"}},
		{"bare code without enhanced",
			"host mx.example.org[192.0.2.1] said: 554 Transaction failed (in reply to DATA command)",
			event.SMTP{Code: 554, Text: "Transaction failed", Command: "DATA", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.1"}},
		{"greeting rejected",
			"host mx.example.org[192.0.2.8] refused to talk to me: 554 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
			event.SMTP{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org", Command: "CONNECT", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.8"}},
		{"EHLO",
			"host mx.example.org[192.0.2.8] said: 501 5.5.4 Syntax: EHLO hostname (in reply to EHLO command)",
			event.SMTP{Code: 501, Enhanced: "5.5.4", Text: "Syntax: EHLO hostname", Command: "EHLO", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.8"}},
		{"SASL server said (smtp_0032)",
			"SASL authentication failed; server xyz.example.com[1.2.3.4] said: 535 5.7.8 Error: authentication failed: authentication failure",
			event.SMTP{Code: 535, Enhanced: "5.7.8", Text: "Error: authentication failed: authentication failure", RemoteHost: "xyz.example.com", RemoteIP: "1.2.3.4"}},
		{"sent reply", "250 2.0.0 Ok: queued as F12DF84004",
			event.SMTP{Code: 250, Enhanced: "2.0.0", Text: "Ok: queued as F12DF84004"}},
		{"said with no reply code", "host mx.example.org[192.0.2.1] said: Go away",
			event.SMTP{Text: "Go away", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.1"}},

		// Local conditions: no code, the host when named.
		{"connect timeout (Cuttlefish fixture)",
			"connect to extmail.optusnet.com.au[211.29.133.14]:25: Connection timed out",
			event.SMTP{RemoteHost: "extmail.optusnet.com.au", RemoteIP: "211.29.133.14"}},
		{"old connect timeout (pastebin, Postfix 2.3)",
			"connect to mail.linuxcancun.com[74.50.106.91]: Connection timed out",
			event.SMTP{RemoteHost: "mail.linuxcancun.com", RemoteIP: "74.50.106.91"}},
		{"lost connection (smtp_0033)",
			"lost connection with hotmail-com.olc.protection.outlook.com[104.47.55.161] while sending RCPT TO",
			event.SMTP{RemoteHost: "hotmail-com.olc.protection.outlook.com", RemoteIP: "104.47.55.161"}},
		{"conversation timed out",
			"conversation with mx.example.org[192.0.2.1] timed out while receiving the initial server greeting",
			event.SMTP{RemoteHost: "mx.example.org", RemoteIP: "192.0.2.1"}},
		{"suspended after lost connection (error_0001)",
			"delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO",
			event.SMTP{RemoteHost: "mta7.am0.yahoodns.net", RemoteIP: "98.136.216.22"}},
		{"suspended after connect timeout (SEKOIA sample)",
			"delivery temporarily suspended: connect to mail.corp.com[1.1.1.1]:25: Connection timed out",
			event.SMTP{RemoteHost: "mail.corp.com", RemoteIP: "1.1.1.1"}},
		{"DNS failure (SEKOIA sample)",
			"Host or domain name not found. Name service error for name=corp.com type=AAAA: Host not found",
			event.SMTP{}},
		{"local delivery", "delivered to maildir", event.SMTP{}},
		{"unknown user, local(8)", `unknown user: "ghdsgfhdslfh"`, event.SMTP{}},
		{"empty", "", event.SMTP{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseReason(tt.reason); got != tt.want {
				t.Errorf("parseReason(%q)\n got %+v\nwant %+v", tt.reason, got, tt.want)
			}
		})
	}
}

// TestLocalFailure: relay=none lines are marked only when the wording can
// only be our own side; the recipient's DNS answers are left to the
// classifier.
func TestLocalFailure(t *testing.T) {
	tests := []struct {
		relay, reason string
		want          bool
	}{
		{"none", "connect to mx.example.net[192.0.2.7]:25: No route to host", true},
		{"none", "connect to mx.example.net[192.0.2.7]:25: Network is unreachable", true},
		{"none", "delivery temporarily suspended: unknown mail transport error", true},
		{"none", "mail for example.org loops back to myself", true},
		{"none", "connect to 127.0.0.1[127.0.0.1]:10024: Connection refused", true},
		{"none", "connect to localhost[::1]:10024: Connection refused", true},
		{"none", "4.3.0 <x@example.org>: Temporary lookup failure", true},
		{"none", "Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again", false},
		{"none", "Host or domain name not found. Name service error for name=corp.com type=AAAA: Host not found", false},
		{"none", "connect to mx.example.net[192.0.2.7]:25: Connection timed out", false},
		{"none", "User unknown in virtual alias table", false},
		{"mx.example.org[192.0.2.1]:25", "host mx.example.org[192.0.2.1] said: 451 4.3.0 Temporary lookup failure (in reply to RCPT TO command)", false},
	}
	for _, tt := range tests {
		r := parseReason(tt.reason)
		if got := localFailure(tt.relay, tt.reason, &r); got != tt.want {
			t.Errorf("localFailure(%q, %q) = %v, want %v", tt.relay, tt.reason, got, tt.want)
		}
	}
}

// TestSplitQID tells queue ids from other "word: " prefixes.
func TestSplitQID(t *testing.T) {
	for s, want := range map[string]string{
		"0F5383D: removed":                       "0F5383D",
		"48rT2v1hQrz1J0N: prepend: header":       "48rT2v1hQrz1J0N",
		"ADD961003206D: message-id=<>":           "ADD961003206D",
		"NOQUEUE: reject: RCPT from x":           "",
		"warning: hostname x does not resolve":   "",
		"statistics: max connection rate":        "",
		"Deleted: 3 messages":                    "",
		"SSL_connect error to x: lost":           "",
		"1234: too short":                        "",
		"Postfix is running with backwards-comp": "",
	} {
		q, _, ok := splitQID(s)
		if q != want || ok != (want != "") {
			t.Errorf("splitQID(%q) = %q, %v; want %q", s, q, ok, want)
		}
	}
}
