package exim

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/internal/golden"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

// record builds the raw.Record an unwrapper would hand over for a log line,
// moving an "exim[pid]: " prefix into Program and PID.
func record(line string) raw.Record {
	rec := raw.Record{Payload: []byte(line), Host: "mx1.example"}
	if strings.HasPrefix(line, "exim[") {
		if end := strings.Index(line, "]: "); end > 0 {
			rec.Program = "exim"
			rec.PID, _ = strconv.Atoi(line[len("exim["):end])
			rec.Payload = []byte(line[end+3:])
		}
	}
	return rec
}

// TestGolden decodes the sample lines in testdata/*.txt in order with one
// Decoder (arrivals feed later deliveries) and compares the result with
// testdata/golden/<name>.jsonl. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) { golden.File(t, name, *update, New(Config{}), record) })
	}
}

func TestMessageID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"1RookS-000Pg8-VO", true},          // old 16-character form
		{"16VDhn-000000001bo-D342", true},   // 23-character form (4.97+)
		{"10HmaY-000000005vi-0000", true},   // test suite, new form
		{"1RookS-000Pg8-V", false},          // short tail
		{"1RookS-000Pg8-VOOOO", false},      // long tail
		{"1Rook-000Pg8-VOa", false},         // short head
		{"1RookS_000Pg8-VO", false},         // wrong separator
		{"1RookS-000P!8-VO", false},         // not alphanumeric
		{"16VDhn-0000000001bo-D342", false}, // 12-character middle
		{"SMTP", false},
	} {
		if got := IsMessageID(tc.id); got != tc.ok {
			t.Errorf("IsMessageID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

// TestFailureLayouts holds both layouts of a failure line, and the
// deferral, to the same SMTP reading.
func TestFailureLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		outcome    event.Outcome
		smtp       event.SMTP
		diag       string
		meta       map[string]string
	}{
		{
			name:    "old layout: reason after T=",
			line:    `2012-02-13 15:11:41 1RwtmW-000MsX-CK ** a@gmail.com R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<a@gmail.com>: host gmail-smtp-in.l.google.com [209.85.137.26]: 550-5.1.1 The email account\n550-5.1.1 does not exist.\n550 5.1.1 http://support.google.com nx10si6357592lab.5`,
			outcome: event.Bounced,
			smtp:    event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "The email account does not exist. http://support.google.com nx10si6357592lab.5", Command: "RCPT TO", RemoteHost: "gmail-smtp-in.l.google.com", RemoteIP: "209.85.137.26"},
			diag:    "SMTP error from remote mail server after RCPT TO:<a@gmail.com>: host gmail-smtp-in.l.google.com [209.85.137.26]: 550-5.1.1 The email account\n550-5.1.1 does not exist.\n550 5.1.1 http://support.google.com nx10si6357592lab.5",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp"},
		},
		{
			name:    "current layout: reason after H= … [ip] :",
			line:    `1999-03-02 09:44:33 10HmaX-000000005vi-0000 ** fail@test.ex R=fail_transport T=fail H=mx.test.ex [127.0.0.1] : SMTP error from remote mail server after RCPT TO:<fail@test.ex>: 550 5.1.1 Recipient refused`,
			outcome: event.Bounced,
			smtp:    event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "Recipient refused", Command: "RCPT TO", RemoteHost: "mx.test.ex", RemoteIP: "127.0.0.1"},
			diag:    "SMTP error from remote mail server after RCPT TO:<fail@test.ex>: 550 5.1.1 Recipient refused",
			meta:    map[string]string{"router": "fail_transport", "transport": "fail"},
		},
		{
			name:    "current layout with port, interface and reused connection",
			line:    `1999-03-02 09:44:33 10HmaZ-000000005vi-0000 ** u@domain.com R=all T=smtp H=127.0.0.1 [127.0.0.1]:25* I=[127.0.0.1]:10001 : SMTP error from remote mail server after pipelined MAIL FROM:<s@test.ex> SIZE=1234: 550 Don't like that sender`,
			outcome: event.Bounced,
			smtp:    event.SMTP{Code: 550, Text: "Don't like that sender", Command: "MAIL FROM", RemoteHost: "127.0.0.1", RemoteIP: "127.0.0.1"},
			diag:    "SMTP error from remote mail server after pipelined MAIL FROM:<s@test.ex> SIZE=1234: 550 Don't like that sender",
			meta:    map[string]string{"router": "all", "transport": "smtp"},
		},
		{
			name:    "old wording: remote mailer, end of data",
			line:    `2008-09-28 12:54:17 1KjzXB-0003Xe-RZ ** x@gmail.com R=dnslookup T=remote_smtp: SMTP error from remote mailer after end of data: host gmail-smtp-in.l.google.com [10.0.47.27]: 550-5.7.1 [10.1.2.3] The IP you're using\n550 5.7.1 is not authorized`,
			outcome: event.Bounced,
			smtp:    event.SMTP{Code: 550, Enhanced: "5.7.1", Text: "[10.1.2.3] The IP you're using is not authorized", Command: "END-OF-DATA", RemoteHost: "gmail-smtp-in.l.google.com", RemoteIP: "10.0.47.27"},
			diag:    "SMTP error from remote mailer after end of data: host gmail-smtp-in.l.google.com [10.0.47.27]: 550-5.7.1 [10.1.2.3] The IP you're using\n550 5.7.1 is not authorized",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp"},
		},
		{
			name:    "deferral with a remote reply (-44 is RCPT 4xx, not local)",
			line:    `2012-02-13 14:39:22 1RookS-000Pg8-VO == u@london.com R=dnslookup T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<u@london.com>: host mx0.gmx.com [74.208.5.90]: 450 4.3.2 Too many mails`,
			outcome: event.Deferred,
			smtp:    event.SMTP{Code: 450, Enhanced: "4.3.2", Text: "Too many mails", Command: "RCPT TO", RemoteHost: "mx0.gmx.com", RemoteIP: "74.208.5.90"},
			diag:    "SMTP error from remote mail server after RCPT TO:<u@london.com>: host mx0.gmx.com [74.208.5.90]: 450 4.3.2 Too many mails",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp", "errno": "-44"},
		},
		{
			name:    "4.9x deferral: host fields after defer (errno), reply after the command",
			line:    `2026-11-20 10:00:05 1tXyZa-000123-AB == user@example.com R=dnslookup T=remote_smtp defer (-44) H=mx.example.com [192.0.2.10] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes DN="CN=mx.example.com": SMTP error from remote mail server after RCPT TO:<user@example.com>: 451 4.7.1 Greylisted`,
			outcome: event.Deferred,
			smtp:    event.SMTP{Code: 451, Enhanced: "4.7.1", Text: "Greylisted", Command: "RCPT TO", RemoteHost: "mx.example.com", RemoteIP: "192.0.2.10"},
			diag:    "SMTP error from remote mail server after RCPT TO:<user@example.com>: 451 4.7.1 Greylisted",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp", "errno": "-44"},
		},
		{
			name:    "4.9x failure: reason glued to the host's IP",
			line:    `2026-11-20 10:00:05 1tXyZa-000123-AB ** user@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after end of data: 554 5.7.1 Rejected as spam`,
			outcome: event.Bounced,
			smtp:    event.SMTP{Code: 554, Enhanced: "5.7.1", Text: "Rejected as spam", Command: "END-OF-DATA", RemoteHost: "mx.example.com", RemoteIP: "192.0.2.10"},
			diag:    "SMTP error from remote mail server after end of data: 554 5.7.1 Rejected as spam",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp"},
		},
		{
			name:    "4.9x failure: 421 at the greeting, port and interface",
			line:    `2026-11-20 10:00:05 1tXyZa-000123-AB == user@example.com R=dnslookup T=remote_smtp defer (-46) H=mx.example.com [192.0.2.10]:25 I=[198.51.100.1]:52011: SMTP error from remote mail server after initial connection: 421 4.7.0 Try again later`,
			outcome: event.Deferred,
			smtp:    event.SMTP{Code: 421, Enhanced: "4.7.0", Text: "Try again later", Command: "CONNECT", RemoteHost: "mx.example.com", RemoteIP: "192.0.2.10"},
			diag:    "SMTP error from remote mail server after initial connection: 421 4.7.0 Try again later",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp", "errno": "-46"},
		},
		{
			name:    "deferral, negative errno: Exim's own condition",
			line:    `2012-02-13 14:59:15 1Rwtcp-0000Ac-BW == p@brightconsult.example R=dnslookup T=remote_smtp defer (-1): domain matches queue_smtp_domains, or -odqs set`,
			outcome: event.Deferred,
			diag:    "domain matches queue_smtp_domains, or -odqs set",
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp", "errno": "-1", "local_failure": "true"},
		},
		{
			name:    "deferral, positive errno",
			line:    `2002-12-19 16:20:23 16aiQz-0002Q5-00 == m@endrest.example R=dnslookup T=smtp defer (146): Connection refused`,
			outcome: event.Deferred,
			diag:    "Connection refused",
			meta:    map[string]string{"router": "dnslookup", "transport": "smtp", "errno": "146"},
		},
		{
			name:    "routing failure: reason after the address",
			line:    `1995-12-19 16:20:23 0tRiQz-0002Q5-00 ** jim@trek99.example <Jim@trek99.example>: unknown mail domain`,
			outcome: event.Bounced,
			diag:    "unknown mail domain",
			meta:    map[string]string{"original_recipient": "Jim@trek99.example"},
		},
		{
			name:    "expiry",
			line:    `2012-02-13 14:39:22 1RookS-000Pg8-VO ** f@london.com: retry timeout exceeded`,
			outcome: event.Expired,
			diag:    "retry timeout exceeded",
		},
		{
			name:    "delivery with a quoted confirmation",
			line:    `2012-02-13 14:39:28 1RwtHE-0004d8-JE => o@perm.example R=dnslookup T=remote_smtp H=mail2.perm.example [195.222.159.238] C="250 2.0.0 Ok: queued as \"ACC5184541\""`,
			outcome: event.Delivered,
			smtp:    event.SMTP{Code: 250, Enhanced: "2.0.0", Text: `Ok: queued as "ACC5184541"`, RemoteHost: "mail2.perm.example", RemoteIP: "195.222.159.238"},
			diag:    `250 2.0.0 Ok: queued as "ACC5184541"`,
			meta:    map[string]string{"router": "dnslookup", "transport": "remote_smtp"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atts, skip, err := New(Config{}).Decode(raw.Record{Payload: []byte(tc.line)})
			if err != nil || skip != "" || len(atts) != 1 {
				t.Fatalf("Decode = %v, %q, %v", atts, skip, err)
			}
			a := atts[0]
			if a.Outcome != tc.outcome || a.SMTP != tc.smtp || a.Diagnostic != tc.diag {
				t.Errorf("got outcome %s smtp %+v diag %q\nwant outcome %s smtp %+v diag %q", a.Outcome, a.SMTP, a.Diagnostic, tc.outcome, tc.smtp, tc.diag)
			}
			if len(a.Metadata) != len(tc.meta) {
				t.Errorf("metadata %v, want %v", a.Metadata, tc.meta)
			}
			for k, v := range tc.meta {
				if a.Metadata[k] != v {
					t.Errorf("metadata %v, want %v", a.Metadata, tc.meta)
				}
			}
		})
	}
}

// TestCorrelation follows one message from arrival to completion: the
// arrival's sender, Message-ID and time reach the deliveries, deferrals
// count attempts, and Completed forgets the message.
func TestCorrelation(t *testing.T) {
	d := New(Config{})
	dec := func(line string) ([]event.Attempt, string) {
		t.Helper()
		atts, skip, err := d.Decode(raw.Record{Payload: []byte(line), Host: "mx1"})
		if err != nil {
			t.Fatal(err)
		}
		return atts, skip
	}
	if _, skip := dec(`2024-03-01 10:00:00 1rAbCd-000123-Xy <= news+c42@sender.example H=app [10.0.0.5] P=esmtp S=1234 id=c42.7@sender.example`); skip != SkipArrival {
		t.Fatalf("arrival skip = %q", skip)
	}
	atts, _ := dec(`2024-03-01 10:00:05 1rAbCd-000123-Xy == u@example.org R=dnslookup T=remote_smtp defer (-44) H=mx.example.org [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<u@example.org>: 451 4.7.1 Greylisted`)
	if a := atts[0]; a.Sender != "news+c42@sender.example" || a.MessageID != "c42.7@sender.example" || a.Attempt != 1 ||
		!a.SentAt.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) || a.DelaySeconds != 5 || a.Metadata["local_failure"] != "" {
		t.Errorf("deferral = %+v", a)
	}
	// A retry-time note between the attempts is not one: it must not count.
	if _, skip := dec(`2024-03-01 10:30:00 1rAbCd-000123-Xy == u@example.org R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host`); skip != SkipRetryWait {
		t.Fatalf("retry note skip = %q", skip)
	}
	atts, _ = dec(`2024-03-01 11:00:00 1rAbCd-000123-Xy => u@example.org R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1] C="250 OK"`)
	if a := atts[0]; a.Attempt != 2 || a.Sender != "news+c42@sender.example" || a.QueueID != "1rAbCd-000123-Xy" {
		t.Errorf("delivery = %+v", a)
	}
	// Another host's message with the same id is a different message.
	atts, _, _ = d.Decode(raw.Record{Payload: []byte(`2024-03-01 11:00:00 1rAbCd-000123-Xy => v@example.org R=r T=t`), Host: "mx2"})
	if a := atts[0]; a.Sender != "" || a.Attempt != 0 {
		t.Errorf("other host = %+v", a)
	}
	if _, skip := dec(`2024-03-01 11:00:00 1rAbCd-000123-Xy Completed`); skip != SkipCompleted {
		t.Fatalf("completed skip = %q", skip)
	}
	if d.Len() != 0 {
		t.Errorf("state not evicted on Completed: %d messages", d.Len())
	}
	// A bounce message Exim generated: its deliveries are not our traffic.
	dec(`2024-03-01 11:00:01 1rBbCd-000124-Xy <= <> R=1rAbCd-000123-Xy U=mailnull P=local S=3958`)
	if _, skip := dec(`2024-03-01 11:00:02 1rBbCd-000124-Xy => news+c42@sender.example R=dnslookup T=remote_smtp H=a [192.0.2.2]`); skip != SkipBounceMessage {
		t.Errorf("bounce message delivery skip = %q", skip)
	}
}

func TestTimeZones(t *testing.T) {
	for _, tc := range []struct {
		zone, line string
		want       time.Time
	}{
		{"", `2024-03-01 10:00:00 1rAbCd-000123-Xy => u@example.org R=r T=t`, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)},
		{"", `2024-03-01 10:00:00 +0100 1rAbCd-000123-Xy => u@example.org R=r T=t`, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)},
		{"", `2024-03-01 10:00:00.250 -0500 [1234] 1rAbCd-000123-Xy => u@example.org R=r T=t`, time.Date(2024, 3, 1, 15, 0, 0, 250e6, time.UTC)},
		{"Europe/Berlin", `2024-03-01 10:00:00 1rAbCd-000123-Xy => u@example.org R=r T=t`, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)},
	} {
		atts, _, err := New(Config{TimeZone: tc.zone}).Decode(raw.Record{Payload: []byte(tc.line)})
		if err != nil {
			t.Fatal(err)
		}
		if got := atts[0].OccurredAt; !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%q in %q: %v, want %v", tc.line, tc.zone, got, tc.want)
		}
	}
}

func TestSkipsAndErrors(t *testing.T) {
	for _, tc := range []struct {
		line, skip, err string
	}{
		{line: `2012-02-13 15:02:51 SMTP connection from [109.70.26.4] (TCP/IP connection count = 1)`, skip: SkipDaemon},
		{line: `2012-02-13 15:02:15 1Rwtcp-0000Ac-BW Spool file is locked (another process is handling this message)`, skip: SkipMessageLog},
		{line: `2012-02-13 15:02:28 1Rwtfv-0002ry-W4 => :blackhole: <t@somehost.ru> R=blackhole_router`, skip: SkipDiscarded},
		{line: `2012-02-13 15:02:28 1Rwtfv-0002ry-W4 *> t@somehost.ru R=r T=t`, skip: SkipDiscarded},
		{line: `exim[15745]: 2006-11-21 15:17:10 1Gmc37-00045w-00 Frozen (delivery error message)`, skip: SkipMessageLog},
		{line: `Feb 13 15:02:51 mx1 exim[1]: x`, err: ErrUnparsable},
		{line: `2012-02-31 15:02:51 1Rwtfv-0002ry-W4 Completed`, err: ErrTime},
		{line: `2012-02-13 15:02:28 1Rwtfv-0002ry-W4 ** `, err: ErrUnparsable},
		// Not attempts: Exim did not try (its retry data said wait).
		{line: `1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@simple R=all T=smtp defer (-54): retry time not reached for any host for 'simple'`, skip: SkipRetryWait},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB == user@example.com routing defer (-51): Retry time not yet reached`, skip: SkipRetryWait},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB == user@example.com R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host for 'example.com'`, skip: SkipRetryWait},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB H=mx.example.com [192.0.2.10] Connection refused`, skip: SkipMessageLog},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB Completed QT=1m2s`, skip: SkipCompleted},
		// Attempt lines whose address cannot be read: dead-lettered.
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB ** R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<u@example.com>: 550 5.1.1 User unknown`, err: ErrMalformed},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB == user R=dnslookup T=remote_smtp defer (-44) H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<user>: 451 4.7.1 Greylisted`, err: ErrMalformed},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB => user@ R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10] C="250 OK"`, err: ErrMalformed},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB -> @example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10] C="250 OK"`, err: ErrMalformed},
		{line: `2026-11-20 10:00:05 1tXyZa-000123-AB => <user@example.com R=dnslookup`, err: ErrUnparsable},
		{line: ``, err: ErrUnparsable},
	} {
		_, skip, err := New(Config{}).Decode(raw.Record{Payload: []byte(tc.line)})
		var re *raw.Error
		switch {
		case tc.err != "" && (!errors.As(err, &re) || re.Reason != tc.err):
			t.Errorf("%q: err %v, want %s", tc.line, err, tc.err)
		case tc.err == "" && (err != nil || skip != tc.skip):
			t.Errorf("%q: skip %q err %v, want %q", tc.line, skip, err, tc.skip)
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	d := New(Config{})
	d.Decode(raw.Record{Payload: []byte(`2024-03-01 10:00:00 1rAbCd-000123-Xy <= s@sender.example P=esmtp id=m1@sender.example`), Host: "mx1"})
	d.Decode(raw.Record{Payload: []byte(`2024-03-01 10:00:01 1rAbCd-000123-Xy == u@example.org R=r T=t defer (111): Connection refused`), Host: "mx1"})
	b, err := json.Marshal(d.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	d2 := New(Config{})
	d2.Restore(s)
	atts, _, _ := d2.Decode(raw.Record{Payload: []byte(`2024-03-01 10:30:00 1rAbCd-000123-Xy => u@example.org R=r T=t`), Host: "mx1"})
	if a := atts[0]; a.Sender != "s@sender.example" || a.MessageID != "m1@sender.example" || a.Attempt != 2 {
		t.Errorf("after restore: %+v", a)
	}
}

// TestStateBounded holds the state to MaxMessages when Completed lines are
// missing, and expires messages by log time.
func TestStateBounded(t *testing.T) {
	d := New(Config{MaxMessages: 100, StateTTL: time.Hour})
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		ts := base.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05")
		id := "1rAb" + strconv.Itoa(10+i%90) + "-" + strconv.Itoa(100000+i) + "-Xy"
		d.Decode(raw.Record{Payload: []byte(ts + " " + id + " <= s@x.example P=esmtp")})
		if d.Len() > 100 {
			t.Fatalf("state grew to %d", d.Len())
		}
	}
	d.Decode(raw.Record{Payload: []byte("2024-03-01 05:00:00 1rAbZZ-999999-Xy <= s@x.example")})
	for i := range 4096 { // reach the periodic sweep
		d.Decode(raw.Record{Payload: []byte("2024-03-01 05:00:00 1rAbZZ-" + strconv.Itoa(100000+i) + "-Xz Completed")})
	}
	d.evict()
	if d.Len() != 1 {
		t.Errorf("after TTL: %d messages, want 1", d.Len())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	for _, tc := range []struct {
		cfg Config
		key string
	}{
		{Config{TimeZone: "Mars/Olympus"}, "ingest.exim.time_zone"},
		{Config{StateTTL: -1}, "ingest.exim.state_ttl"},
		{Config{MaxMessages: -1}, "ingest.exim.max_messages"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.key) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.key)
		}
	}
}

// FuzzDecode: the decoder never panics, and a failure is always a
// *raw.Error with an "exim." reason.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		lines, _ := os.ReadFile(file)
		for l := range strings.SplitSeq(string(lines), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				f.Add(l)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		d := New(Config{MaxMessages: 4})
		// Twice, so the second pass sees the first one's state.
		for range 2 {
			atts, skip, err := d.Decode(raw.Record{Payload: []byte(line), Host: "h"})
			if err != nil {
				var re *raw.Error
				if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, "exim.") {
					t.Fatalf("error %T %v is not a *raw.Error with an exim. reason", err, err)
				}
				continue
			}
			if skip == "" && len(atts) == 0 {
				t.Fatal("neither attempts nor a skip reason")
			}
			for _, a := range atts {
				if !a.Outcome.Valid() || a.Recipient == "" || a.EventID == "" {
					t.Fatalf("bad attempt %+v", a)
				}
			}
		}
	})
}

// BenchmarkDecode decodes the sample file's lines in a loop.
func BenchmarkDecode(b *testing.B) {
	data, _ := os.ReadFile("testdata/exim.txt")
	var recs []raw.Record
	var size int64
	for l := range strings.SplitSeq(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			recs = append(recs, record(l))
			size += int64(len(l))
		}
	}
	d := New(Config{})
	b.ReportAllocs()
	b.SetBytes(size / int64(len(recs)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.Decode(recs[i%len(recs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
