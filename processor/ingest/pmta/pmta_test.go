package pmta

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/internal/golden"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

func record(line string) raw.Record {
	return raw.Record{Payload: []byte(line), Host: "pmta1.example", File: "/var/log/pmta/acct.csv"}
}

// TestGolden decodes testdata/<name>.txt in order with one Decoder per file
// (headers carry over to later lines) and compares the result with
// testdata/golden/<name>.jsonl. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	for name, cfg := range map[string]Config{
		"powermta":          {},
		"powermta_noheader": {Header: DefaultFields()},
		"powermta_current":  {},
	} {
		t.Run(name, func(t *testing.T) { golden.File(t, name, *update, New(cfg), record) })
	}
}

// decodeAll feeds lines to one Decoder and returns the last line's result.
func decodeAll(t *testing.T, d *Decoder, lines ...string) ([]event.Attempt, string, error) {
	t.Helper()
	var (
		atts []event.Attempt
		skip string
		err  error
	)
	for _, l := range lines {
		atts, skip, err = d.Decode(record(l))
	}
	return atts, skip, err
}

const fullHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,vmta,vmtaPool,jobId,envId,header_Message-ID,header_X-Campaign-ID"

func TestRecordTypes(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       event.Attempt
	}{
		{
			name: "b with a comment in dsnStatus and a smtp; diag",
			line: `b,2024-03-01 10:00:05+0100,2024-03-01 10:00:00+0100,news@s.example,u@example.org,,failed,5.1.1 (bad destination mailbox address),"smtp;550 5.1.1 <u@example.org>: Recipient address rejected, user unknown",mx.example.org (192.0.2.7),bad-mailbox,203.0.113.5,vmta-a,pool-1,spring-24,env1,<m1@s.example>,c-99`,
			want: event.Attempt{
				OccurredAt: time.Date(2024, 3, 1, 9, 0, 5, 0, time.UTC), SentAt: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC),
				Recipient: "u@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "pmta1.example"},
				Sender: "news@s.example", MessageID: "<m1@s.example>", CampaignID: "spring-24", Tenant: "pool-1", Pool: "pool-1", SendingIP: "203.0.113.5",
				SMTP:                 event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "<u@example.org>: Recipient address rejected, user unknown", RemoteHost: "mx.example.org", RemoteIP: "192.0.2.7"},
				Diagnostic:           "smtp;550 5.1.1 <u@example.org>: Recipient address rejected, user unknown",
				DelaySeconds:         5,
				SourceClassification: &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "bad-mailbox"},
				Metadata:             map[string]string{"env_id": "env1", "header.message-id": "<m1@s.example>", "header.x-campaign-id": "c-99"},
			},
		},
		{
			name: "b message-expired is expired; dsnStatus when the reply has no enhanced code",
			line: `b,1709287205,1708855205,s@s.example,u@example.org,,failed,4.4.7 (delivery time expired),smtp;421 Try again later,,message-expired,,vmta-a,,,,,`,
			want: event.Attempt{
				OccurredAt: time.Unix(1709287205, 0).UTC(), SentAt: time.Unix(1708855205, 0).UTC(),
				Recipient: "u@example.org", Outcome: event.Expired, Source: event.Source{Kind: Kind, Host: "pmta1.example"},
				Sender: "s@s.example", Tenant: "vmta-a", Pool: "vmta-a",
				SMTP:                 event.SMTP{Code: 421, Enhanced: "4.4.7", Text: "Try again later"},
				Diagnostic:           "smtp;421 Try again later",
				DelaySeconds:         432000,
				SourceClassification: &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "message-expired"},
			},
		},
		{
			name: "t is deferred; the reply's enhanced code wins, dsnStatus kept",
			line: `t,2024-03-01T10:00:05Z,,s@s.example,u@example.org,,delayed,4.0.0 (undefined status),smtp;451 4.7.1 Greylisted,mx.example.org,,,,,,,,`,
			want: event.Attempt{
				OccurredAt: time.Date(2024, 3, 1, 10, 0, 5, 0, time.UTC),
				Recipient:  "u@example.org", Outcome: event.Deferred, Source: event.Source{Kind: Kind, Host: "pmta1.example"},
				Sender:     "s@s.example",
				SMTP:       event.SMTP{Code: 451, Enhanced: "4.7.1", Text: "Greylisted", RemoteHost: "mx.example.org"},
				Diagnostic: "smtp;451 4.7.1 Greylisted",
				Metadata:   map[string]string{"dsn_status": "4.0.0"},
			},
		},
		{
			name: "rb is an asynchronous bounce",
			line: `rb,1709287205.25,,s@s.example,u@example.org,U@example.org,failed,5.2.1,,,inactive-mailbox,,,,,,,`,
			want: event.Attempt{
				OccurredAt: time.Unix(1709287205, 250e6).UTC(),
				Recipient:  "u@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "pmta1.example"},
				Sender:               "s@s.example",
				SMTP:                 event.SMTP{Enhanced: "5.2.1"},
				Diagnostic:           "5.2.1",
				SourceClassification: &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "inactive-mailbox"},
				Metadata:             map[string]string{"async": "true", "original_recipient": "U@example.org"},
			},
		},
		{
			name: "f is a complaint about a delivered message",
			line: `f,2024-03-01 10:00:05,,s@s.example,u@example.org,,,,,,,,,,c7,,,`,
			want: event.Attempt{
				OccurredAt: time.Date(2024, 3, 1, 10, 0, 5, 0, time.UTC),
				Recipient:  "u@example.org", Outcome: event.Delivered, Source: event.Source{Kind: Kind, Host: "pmta1.example"},
				Sender: "s@s.example", CampaignID: "c7",
				SourceClassification: &event.SourceClassification{Scheme: "pmta_fbl", Value: "complaint"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atts, skip, err := decodeAll(t, New(Config{}), fullHeader, tc.line)
			if err != nil || skip != "" || len(atts) != 1 {
				t.Fatalf("Decode = %v, %q, %v", atts, skip, err)
			}
			got := atts[0]
			if got.EventID == "" {
				t.Error("no event id")
			}
			got.EventID = ""
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

// TestRecurringHeader: a header line replaces the columns in force, per
// source; a data line before any header is an error unless Config.Header
// gives the columns.
func TestRecurringHeader(t *testing.T) {
	d := New(Config{})
	if _, _, err := d.Decode(record("d,1178807903,orig@port25.com,user1@domain.com")); !isReason(err, ErrNoHeader) {
		t.Fatalf("data before header: %v", err)
	}
	atts, _, _ := decodeAll(t, d, "type,timeLogged,orig,rcpt", "d,1178807903,a@s.example,u1@example.org")
	if atts[0].Recipient != "u1@example.org" {
		t.Fatalf("first header: %+v", atts[0])
	}
	// The header recurs with another order: later lines follow it.
	atts, _, _ = decodeAll(t, d, "type,rcpt,orig,timeLogged", "d,u2@example.org,a@s.example,1178807903")
	if atts[0].Recipient != "u2@example.org" || atts[0].Sender != "a@s.example" {
		t.Fatalf("second header: %+v", atts[0])
	}
	// Another file of the same host has its own header.
	other := raw.Record{Payload: []byte("d,1178807903,a@s.example,u3@example.org"), Host: "pmta1.example", File: "/other"}
	if _, _, err := d.Decode(other); !isReason(err, ErrNoHeader) {
		t.Errorf("other file used this file's header: %v", err)
	}
	// Snapshot and Restore carry the header over a restart.
	b, _ := json.Marshal(d.Snapshot())
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	d2 := New(Config{})
	d2.Restore(s)
	atts, _, err := d2.Decode(record("d,u4@example.org,a@s.example,1178807903"))
	if err != nil || atts[0].Recipient != "u4@example.org" {
		t.Errorf("after restore: %v %v", atts, err)
	}
	// Config.Header covers sources that have not logged a header.
	d3 := New(Config{Header: []string{"type", "rcpt", "timeLogged"}})
	if atts, _, err := d3.Decode(record("b,u5@example.org,1178807903")); err != nil || atts[0].Outcome != event.Bounced {
		t.Errorf("configured header: %v %v", atts, err)
	}
}

func TestSkipsAndErrors(t *testing.T) {
	for _, tc := range []struct {
		line, skip, err string
	}{
		{line: "", skip: SkipBlank},
		{line: "type,timeLogged,rcpt", skip: SkipHeader},
		{line: "r,1178807903,u@example.org", skip: SkipReceived},
		{line: "rs,1178807903,u@example.org", skip: SkipRemoteStatus},
		{line: "d,1178807903,", err: ErrNoRecipient},
		{line: "b,1178807903,", err: ErrNoRecipient},
		{line: "t,1178807903,  ", err: ErrNoRecipient},
		{line: "tq,1178807903,", err: ErrNoRecipient},
		{line: "rb,1178807903,", err: ErrNoRecipient},
		{line: "d,1178807903", err: ErrNoRecipient}, // short line: rcpt missing
		{line: "r,1178807903,", skip: SkipReceived},
		{line: "rs,1178807903,", skip: SkipRemoteStatus},
		{line: "x,1178807903,u@example.org", err: ErrUnknownType},
		{line: "d,yesterday,u@example.org", err: ErrTime},
		{line: "d,,u@example.org", err: ErrTime},
		{line: `d,1178807903,"u@example.org`, err: ErrUnparsable},
		{line: `d,1178807903,"u"x`, err: ErrUnparsable},
		{line: "d,1178807903,u@example.org,extra", err: ErrColumns},
	} {
		d := New(Config{})
		d.Decode(record("type,timeLogged,rcpt"))
		_, skip, err := d.Decode(record(tc.line))
		switch {
		case tc.err != "" && !isReason(err, tc.err):
			t.Errorf("%q: err %v, want %s", tc.line, err, tc.err)
		case tc.err == "" && (err != nil || skip != tc.skip):
			t.Errorf("%q: skip %q err %v, want %q", tc.line, skip, err, tc.skip)
		}
	}
}

func TestSplitCSV(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`a,b,c`, []string{"a", "b", "c"}},
		{`a,,`, []string{"a", "", ""}},
		{`"a,b","say ""hi""",c`, []string{"a,b", `say "hi"`, "c"}},
		{`""`, []string{""}},
		{`a"b,c`, []string{`a"b`, "c"}},
	} {
		got, err := splitCSV(tc.in, nil)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitCSV(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestTimes(t *testing.T) {
	d := New(Config{TimeZone: "America/New_York"})
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2016-05-29 01:10:51+0200", time.Date(2016, 5, 28, 23, 10, 51, 0, time.UTC)},
		{"2016-05-29 01:10:51-02:00", time.Date(2016, 5, 29, 3, 10, 51, 0, time.UTC)},
		{"2016-05-29T01:10:51Z", time.Date(2016, 5, 29, 1, 10, 51, 0, time.UTC)},
		{"2016-05-29 01:10:51 +0200", time.Date(2016, 5, 28, 23, 10, 51, 0, time.UTC)},
		{"2016-05-29 01:10:51", time.Date(2016, 5, 29, 5, 10, 51, 0, time.UTC)},
		{"1178807903", time.Unix(1178807903, 0).UTC()},
		{"1178807903.5", time.Unix(1178807903, 5e8).UTC()},
	} {
		got, err := d.parseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := (Config{Header: DefaultFields()}).Validate(); err != nil {
		t.Errorf("default fields: %v", err)
	}
	for _, tc := range []struct {
		cfg Config
		key string
	}{
		{Config{Header: []string{"rcpt", "type"}}, "ingest.pmta.header"},
		{Config{Header: []string{"type", "rcpt", "rcpt"}}, "ingest.pmta.header"},
		{Config{TimeZone: "Nowhere/Town"}, "ingest.pmta.time_zone"},
		{Config{CampaignColumn: "a,b"}, "ingest.pmta.campaign_column"},
		{Config{TenantColumn: `"x"`}, "ingest.pmta.tenant_column"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.key) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.key)
		}
	}
}

func isReason(err error, reason string) bool {
	var re *raw.Error
	return errors.As(err, &re) && re.Reason == reason
}

// FuzzDecode: the decoder never panics, and a failure is always a
// *raw.Error with a "pmta." reason.
func FuzzDecode(f *testing.F) {
	f.Add(fullHeader, `b,2024-03-01 10:00:05+0100,,a@b.c,u@example.org,,failed,5.1.1 (x),"smtp;550 5.1.1 no",mx (1.2.3.4),bad-mailbox,,,,,,,`)
	f.Add("type,timeLogged,rcpt", `d,1178807903,"u@example.org"`)
	f.Add("type,rcpt", "f,u@x")
	f.Add("type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,dlvSourceIp,dlvDestinationIp,vmta",
		`b,2026-11-20 10:00:05+0000,,a@b.c,U@Example.org,rfc822;u@example.org,failed,5.1.1 (x),"smtp;550-5.1.1 a 550 5.1.1 b",,bad-mailbox,198.51.100.21,192.0.2.27,vmta-a`)
	f.Add("type,timeLogged,orig,dsnStatus", "t,1178807903,a@b.c,4.4.1 (no answer from host)")
	f.Fuzz(func(t *testing.T, header, line string) {
		d := New(Config{})
		for _, l := range []string{header, line, line} {
			atts, skip, err := d.Decode(record(l))
			if err != nil {
				var re *raw.Error
				if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, "pmta.") {
					t.Fatalf("error %T %v is not a *raw.Error with a pmta. reason", err, err)
				}
				continue
			}
			if skip == "" && len(atts) == 0 {
				t.Fatal("neither attempts nor a skip reason")
			}
			for _, a := range atts {
				if !a.Outcome.Valid() || a.Recipient == "" || a.OccurredAt.IsZero() {
					t.Fatalf("bad attempt %+v", a)
				}
			}
		}
	})
}

// BenchmarkDecode decodes a typical bounce record with the default field
// list.
func BenchmarkDecode(b *testing.B) {
	line := []byte(`b,2024-03-01 10:00:05+0100,2024-03-01 10:00:00+0100,,news@s.example,u@example.org,,failed,5.1.1 (bad destination mailbox address),"smtp;550 5.1.1 <u@example.org>: Recipient address rejected: User unknown",mx.example.org (192.0.2.7),bad-mailbox,smtp,src.example (10.0.0.1),smtp,203.0.113.5,192.0.2.7,"PIPELINING,8BITMIME,SIZE,STARTTLS",15570,vmta-a,spring-24,env1`)
	d := New(Config{Header: DefaultFields()})
	rec := record(string(line))
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, _, err := d.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestInvalidUTF8: a kept id column that is not UTF-8 is refused, naming
// the column; the reply text is cleaned instead, so a Latin-1 byte in
// dsnDiag does not cost the attempt.
func TestInvalidUTF8(t *testing.T) {
	const header = "type,timeLogged,orig,rcpt,dsnDiag,vmta,jobId,header_Message-Id"
	for _, tc := range []struct {
		name, line, err, msg string
	}{
		{"clean", "b,1178807903,s@example.net,u@example.org,smtp;550 5.1.1 x,v1,job,<m@x>", "", ""},
		{"orig", "b,1178807903,s\xff@example.net,u@example.org,smtp;550 5.1.1 x,v1,job,<m@x>", ErrUTF8, "column orig"},
		{"vmta", "b,1178807903,s@example.net,u@example.org,smtp;550 5.1.1 x,v\xc3,job,<m@x>", ErrUTF8, "vmta"},
		{"jobId", "b,1178807903,s@example.net,u@example.org,smtp;550 5.1.1 x,v1,j\xed\xa0\x80,<m@x>", ErrUTF8, "column jobId"},
		{"header", "b,1178807903,s@example.net,u@example.org,smtp;550 5.1.1 x,v1,job,<m\xfe@x>", ErrUTF8, "header_message-id"},
		{"diag is cleaned, not refused", "b,1178807903,s@example.net,u@example.org,smtp;550 5.1.1 caf\xe9,v1,job,<m@x>", "", ""},
	} {
		d := New(Config{})
		d.Decode(record(header))
		as, _, err := d.Decode(record(tc.line))
		switch {
		case tc.err == "" && (err != nil || len(as) != 1):
			t.Errorf("%s: %d attempts, err %v; want one attempt", tc.name, len(as), err)
		case tc.err != "" && (!isReason(err, tc.err) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: err %v, want %s naming %q", tc.name, err, tc.err, tc.msg)
		}
	}
}
