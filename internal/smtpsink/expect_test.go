package smtpsink

import (
	"strings"
	"testing"
)

// journalOf renders journal lines for Expect from short specs.
func journalOf(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestExpectPostfix(t *testing.T) {
	log := `Dec 07 03:10:27 mta postfix/qmgr[1]: AAA: from=<s@mta.example.test>, size=300, nrcpt=2 (queue active)
Dec 07 03:10:27 mta postfix/smtp[2]: AAA: to=<Grey@example.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.4, delays=0.2/0/0/0.2, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisted (in reply to RCPT TO command))
Dec 07 03:10:27 mta postfix/smtp[2]: AAA: to=<soft@example.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.4, delays=0.2/0/0/0.2, dsn=4.2.1, status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.2.1 Busy (in reply to RCPT TO command))
Dec 07 03:10:37 mta postfix/smtp[2]: AAA: to=<Grey@example.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=10, delays=10/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)
Dec 07 03:10:38 mta postfix/smtp[2]: BBB: to=<user@refused.test>, relay=none, delay=0.02, delays=0.02/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)
Dec 07 03:12:30 mta postfix/qmgr[1]: AAA: from=<s@mta.example.test>, status=expired, returned to sender
Dec 07 03:12:30 mta postfix/qmgr[1]: CCC: from=<>, size=2331, nrcpt=1 (queue active)
Dec 07 03:12:30 mta postfix/local[3]: CCC: to=<s@mta.example.test>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
`
	journal := journalOf(
		`{"listen":"127.0.0.1:2525","conn":1,"stage":"RCPT","rcpt":"Grey@example.test","try":1,"code":451,"enhanced":"4.7.1","text":"Greylisted"}`,
		`{"listen":"127.0.0.1:2525","conn":1,"stage":"RCPT","rcpt":"soft@example.test","try":1,"code":450,"enhanced":"4.2.1","text":"Busy"}`,
		`{"listen":"127.0.0.1:2525","conn":2,"stage":"RCPT","rcpt":"grey@example.test","try":2,"code":250,"enhanced":"2.1.5","text":"Ok"}`,
		`{"listen":"127.0.0.1:2525","conn":2,"stage":"DATA","rcpt":"grey@example.test","try":1,"code":250,"enhanced":"2.0.0","text":"Ok: queued"}`,
	)
	xs, err := Expect("postfix", strings.NewReader(log), strings.NewReader(journal))
	if err != nil {
		t.Fatal(err)
	}
	want := []Expectation{
		{Line: 2, Recipient: "Grey@example.test", Outcome: "deferred", Code: 451, Enhanced: "4.7.1", Source: SourceSink},
		{Line: 3, Recipient: "soft@example.test", Outcome: "deferred", Code: 450, Enhanced: "4.2.1", Source: SourceSink},
		{Line: 4, Recipient: "Grey@example.test", Outcome: "delivered", Code: 250, Enhanced: "2.0.0", Source: SourceSink},
		{Line: 5, Recipient: "user@refused.test", Outcome: "deferred", Enhanced: "4.4.1", Source: SourceMTA},
		{Line: 6, Recipient: "soft@example.test", Outcome: "expired", Code: 450, Enhanced: "4.2.1", Source: SourceSink},
	}
	compare(t, xs, want)
}

func TestExpectExim(t *testing.T) {
	log := `2026-12-07 03:20:00 1tAAAA-000001-AB <= s@mta.example.test U=root P=local S=300
2026-12-07 03:20:00 1tAAAA-000001-AB == soft@example.test R=sink T=sink_smtp defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<soft@example.test>: 450 4.2.1 Busy
2026-12-07 03:20:05 1tAAAA-000001-AB == soft@example.test R=sink T=sink_smtp defer (-53): retry time not reached
2026-12-07 03:20:05 1tAAAA-000001-AB == user@greet.test R=greet T=greet_smtp defer (-46) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after initial connection: 421 4.7.0 Busy
2026-12-07 03:22:00 1tAAAA-000001-AB ** soft@example.test R=sink T=sink_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<soft@example.test>: 450 4.2.1 Busy: retry timeout exceeded
2026-12-07 03:22:00 1tBBBB-000002-CD <= <> R=1tAAAA-000001-AB U=Debian-exim P=local S=1200
2026-12-07 03:22:00 1tBBBB-000002-CD => s <s@mta.example.test> R=local_user T=local_delivery
2026-12-07 03:22:01 1tCCCC-000003-EF => s <s@mta.example.test> R=local_user T=local_delivery
`
	journal := journalOf(
		`{"listen":"127.0.0.1:2525","conn":1,"stage":"RCPT","rcpt":"soft@example.test","try":1,"code":450,"enhanced":"4.2.1","text":"Busy"}`,
		`{"listen":"127.0.0.1:2526","conn":1,"stage":"greeting","code":421,"enhanced":"4.7.0","text":"Busy"}`,
		`{"listen":"127.0.0.1:2525","conn":2,"stage":"RCPT","rcpt":"soft@example.test","try":2,"code":450,"enhanced":"4.2.1","text":"Busy"}`,
	)
	xs, err := Expect("exim", strings.NewReader(log), strings.NewReader(journal))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, xs, []Expectation{
		{Line: 2, Recipient: "soft@example.test", Outcome: "deferred", Code: 450, Enhanced: "4.2.1", Source: SourceSink},
		{Line: 4, Recipient: "user@greet.test", Outcome: "deferred", Code: 421, Enhanced: "4.7.0", Source: SourceSink},
		{Line: 5, Recipient: "soft@example.test", Outcome: "expired", Code: 450, Enhanced: "4.2.1", Source: SourceSink},
		{Line: 8, Recipient: "s@mta.example.test", Outcome: "delivered", Source: SourceMTA},
	})
}

func TestExpectRefusesDisagreement(t *testing.T) {
	line := `Dec 07 03:10:27 mta postfix/smtp[2]: AAA: to=<ok@example.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.4, delays=0.2/0/0/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)` + "\n"
	ok := `{"listen":"l","conn":1,"stage":"RCPT","rcpt":"ok@example.test","try":1,"code":250,"enhanced":"2.1.5","text":"Ok"}`
	data := `{"listen":"l","conn":1,"stage":"DATA","rcpt":"ok@example.test","try":1,"code":250,"enhanced":"2.0.0","text":"Ok"}`
	bad := `{"listen":"l","conn":1,"stage":"RCPT","rcpt":"ok@example.test","try":1,"code":550,"enhanced":"5.1.1","text":"No"}`
	for _, tc := range []struct {
		name, mta, log, journal, want string
	}{
		{"class differs", "postfix", line, journalOf(bad), "the MTA logged delivered"},
		{"no answer left", "postfix", line, "", "no answer left"},
		{"answers left over", "postfix", line, journalOf(ok, data, ok, data), "1 more times"},
		{"DATA without RCPT", "postfix", line, journalOf(data), "no accepted RCPT"},
		{"bad journal", "postfix", line, "{", "journal entry 1"},
		{"unknown MTA", "sendmail", line, "", "unknown MTA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Expect(tc.mta, strings.NewReader(tc.log), strings.NewReader(tc.journal))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func compare(t *testing.T, got, want []Expectation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d expectations, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		g.Why = ""
		if g != want[i] {
			t.Errorf("expectation %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
