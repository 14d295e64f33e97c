package smtpsink

import (
	"strings"
	"testing"
)

const testJournal = `{"time":"2026-01-01T00:00:00Z","listen":"127.0.0.1:2525","conn":1,"stage":"RCPT","rcpt":"unknown@example.test","try":1,"code":550,"enhanced":"5.1.1","text":"User unknown"}
{"time":"2026-01-01T00:00:00Z","listen":"127.0.0.1:2525","conn":2,"stage":"RCPT","rcpt":"soft@example.test","try":1,"code":450,"enhanced":"4.2.1","text":"Mailbox temporarily unavailable"}
{"time":"2026-01-01T00:00:00Z","listen":"127.0.0.1:2525","conn":3,"stage":"RCPT","rcpt":"ok@example.test","try":1,"code":250,"enhanced":"2.1.5","text":"Ok"}
{"time":"2026-01-01T00:00:00Z","listen":"127.0.0.1:2525","conn":3,"stage":"DATA","rcpt":"ok@example.test","try":1,"code":250,"enhanced":"2.0.0","text":"Ok: queued"}
`

// report is a minimal Postfix-shaped DSN for one recipient.
func report(env, rcpt, action, status, diag string) []byte {
	return []byte("Delivered-To: " + env + "\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mta.example.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nOriginal-Recipient: rfc822;" + rcpt + "\r\n" +
		"Action: " + action + "\r\nStatus: " + status + "\r\nDiagnostic-Code: " + diag + "\r\n\r\n" +
		"--B--\r\n")
}

func TestExpectDSN(t *testing.T) {
	const env = "bounces+unknown=example.test@bounce.example.test"
	tests := []struct {
		name    string
		mail    []byte
		want    DSNExpectation // checked when wantErr is empty
		wantErr string
	}{
		{"failed at RCPT", report(env, "unknown@example.test", "failed", "5.1.1", "smtp; 550 5.1.1 User unknown"),
			DSNExpectation{File: "m.eml", EnvelopeTo: env, VERP: "unknown@example.test", Recipient: "unknown@example.test",
				Action: "failed", Status: "5.1.1", Code: 550, Enhanced: "5.1.1", Source: SourceSink}, ""},
		{"delayed", report(env, "soft@example.test", "delayed", "4.2.1", "smtp; 450 4.2.1 Mailbox temporarily unavailable"),
			DSNExpectation{File: "m.eml", EnvelopeTo: env, VERP: "unknown@example.test", Recipient: "soft@example.test",
				Action: "delayed", Status: "4.2.1", Code: 450, Enhanced: "4.2.1", Source: SourceSink}, ""},
		{"expired soft failure", report(env, "soft@example.test", "failed", "4.2.1", "smtp; 450 4.2.1 Mailbox temporarily unavailable"),
			DSNExpectation{File: "m.eml", EnvelopeTo: env, VERP: "unknown@example.test", Recipient: "soft@example.test",
				Action: "failed", Status: "4.2.1", Code: 450, Enhanced: "4.2.1", Source: SourceSink}, ""},
		{"MTA's own failure", report(env, "user@nowhere.invalid", "failed", "5.4.4", "X-Postfix; Host or domain name not found"),
			DSNExpectation{File: "m.eml", EnvelopeTo: env, VERP: "unknown@example.test", Recipient: "user@nowhere.invalid",
				Action: "failed", Status: "5.4.4", Source: SourceMTA, Why: "X-Postfix; Host or domain name not found"}, ""},
		{"status not the sink's", report(env, "unknown@example.test", "failed", "5.2.0", "smtp; 550 5.1.1 x"), DSNExpectation{}, "reported status 5.2.0"},
		{"diagnostic code not the sink's", report(env, "unknown@example.test", "failed", "5.1.1", "smtp; 551 5.1.1 x"), DSNExpectation{}, "Diagnostic-Code"},
		{"delayed but refused for good", report(env, "unknown@example.test", "delayed", "5.1.1", "smtp; 550 5.1.1 x"), DSNExpectation{}, "refused it for good"},
		{"report on an accepted recipient", report(env, "ok@example.test", "failed", "5.1.1", "smtp; 250 ok"), DSNExpectation{}, "accepted it"},
		{"no envelope header", []byte("Content-Type: multipart/report; boundary=B\r\n\r\n--B--\r\n"), DSNExpectation{}, "no Delivered-To"},
		{"not a report", []byte("Delivered-To: " + env + "\r\nContent-Type: text/plain\r\n\r\nhi\r\n"), DSNExpectation{}, "want multipart/report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs, err := ExpectDSN(strings.NewReader(testJournal), []CapturedMail{{Name: "m.eml", Data: tt.mail}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(xs) != 1 {
				t.Fatalf("got %d expectations; want 1: %+v", len(xs), xs)
			}
			got := xs[0]
			if tt.want.Source == SourceSink {
				got.Why = "" // the sink's text, checked by TestExpect
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVERPAddress(t *testing.T) {
	for in, want := range map[string]string{
		"bounces+alice=example.org@bounce.example.test": "alice@example.org",
		"<bounces+a.b=x.example@bounce.example.test>":   "a.b@x.example",
		"bounces@bounce.example.test":                   "",
		"bounces+noequals@bounce.example.test":          "",
		"bounces+trailing=@bounce.example.test":         "",
		"bounces+a+b=example.org@bounce.example.test":   "a+b@example.org",
		"bounces+a=b=example.org@bounce.example.test":   "a=b@example.org",
	} {
		if got := verpAddress(in); got != want {
			t.Errorf("verpAddress(%q) = %q; want %q", in, got, want)
		}
	}
}
