package raw

import (
	"testing"
	"time"
)

// msg is the message part of postfix.txt SECTION B's first line.
const msg = "39D9336AFA81: to=<foo@bar.com>, relay=foo.bar.com[1.2.3.4]:25, delay=92780, dsn=4.3.0, status=deferred"

func TestSyslogPrefix(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	recv := utc("2024-04-06T00:00:00Z")
	type want struct {
		payload, host, program string
		pid                    int
		time                   time.Time
		inferred               bool
	}
	for _, c := range []struct {
		name string
		zone string
		recv time.Time
		line string
		want want
	}{
		{"rfc3164", "", recv, "Apr  5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 zero-padded day", "", recv, "Apr 05 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 one-digit day", "", recv, "Apr 5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 with pri", "", recv, "<22>Apr  5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 without pid", "", recv, "Apr  5 16:41:54 kedumba postfix: " + msg,
			want{msg, "kedumba", "postfix", 0, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 without host", "", recv, "Apr  5 16:41:54 postfix/smtp[18733]: " + msg,
			want{msg, "", "postfix/smtp", 18733, utc("2024-04-05T16:41:54Z"), true}},
		{"rfc3164 fraction", "", recv, "Apr  5 16:41:54.250 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T16:41:54.25Z"), true}},
		{"rfc3164 zone", "Australia/Sydney", recv, "Apr  5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T05:41:54Z"), true}},
		{"rfc3164 zone DST", "Europe/Berlin", utc("2024-07-02T00:00:00Z"), "Jul  1 12:00:00 mx postfix/smtp[1]: " + msg,
			want{msg, "mx", "postfix/smtp", 1, utc("2024-07-01T10:00:00Z"), true}},
		{"year rollover: Dec 31 received Jan 1", "", utc("2024-01-01T00:05:00Z"), "Dec 31 23:59:58 mx postfix/smtp[1]: " + msg,
			want{msg, "mx", "postfix/smtp", 1, utc("2023-12-31T23:59:58Z"), true}},
		{"year rollover: Jan 1 received Dec 31 (clock skew)", "", utc("2023-12-31T23:59:00Z"), "Jan  1 00:00:30 mx postfix/smtp[1]: " + msg,
			want{msg, "mx", "postfix/smtp", 1, utc("2024-01-01T00:00:30Z"), true}},
		{"a line from tomorrow is last year's", "", recv, "Apr  8 10:00:00 mx postfix/smtp[1]: " + msg,
			want{msg, "mx", "postfix/smtp", 1, utc("2023-04-08T10:00:00Z"), true}},
		{"Feb 29 takes the latest leap year", "", utc("2023-03-01T00:00:00Z"), "Feb 29 10:00:00 mx postfix/smtp[1]: " + msg,
			want{msg, "mx", "postfix/smtp", 1, utc("2020-02-29T10:00:00Z"), true}},
		{"no received: no year, no time", "", time.Time{}, "Apr  5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, time.Time{}, false}},
		{"rfc5424", "", recv, `<22>1 2024-04-05T16:41:54.123456+02:00 kedumba postfix/smtp 18733 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] ` + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T14:41:54.123456Z"), false}},
		{"rfc5424 nil values, escaped SD", "", recv, `<22>1 - - - - - [a b="x\]\"y"][c d="e"] ` + msg,
			want{msg, "", "", 0, time.Time{}, false}},
		{"rfc5424 non-numeric procid", "", recv, `<22>1 2024-04-05T16:41:54Z mx app worker-3 - - ` + msg,
			want{msg, "mx", "app", 0, utc("2024-04-05T16:41:54Z"), false}},
		{"rsyslog high precision", "", recv, "2024-04-05T16:41:54.123456+02:00 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T14:41:54.123456Z"), false}},
		{"rsyslog without zone", "Europe/Berlin", recv, "2024-04-05T16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{msg, "kedumba", "postfix/smtp", 18733, utc("2024-04-05T14:41:54Z"), true}},
		{"tag only", "", recv, "exim[14706]: 2006-11-21 15:01:39 1Gmary-0002iA-00 Completed",
			want{"2006-11-21 15:01:39 1Gmary-0002iA-00 Completed", "", "exim", 14706, time.Time{}, false}},
		{"exim syslog split part stays as it is", "", recv, `Feb 13 14:39:22 mx exim[1]: [1/2] 2012-02-13 14:39:22 1RookS-000Pg8-VO ** a@b.example R=dnslookup`,
			want{`[1/2] 2012-02-13 14:39:22 1RookS-000Pg8-VO ** a@b.example R=dnslookup`, "mx", "exim", 1, utc("2024-02-13T14:39:22Z"), true}},
		// Malformed or absent prefixes: the line stays whole.
		{"no prefix: postfix message", "", recv, msg, want{msg, "", "", 0, time.Time{}, false}},
		{"no prefix: exim line", "", recv, "2012-02-13 14:39:22 1RookS-000Pg8-VO Completed",
			want{"2012-02-13 14:39:22 1RookS-000Pg8-VO Completed", "", "", 0, time.Time{}, false}},
		{"bad month", "", recv, "Foo  5 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{"Foo  5 16:41:54 kedumba postfix/smtp[18733]: " + msg, "", "", 0, time.Time{}, false}},
		{"bad day", "", recv, "Apr 31 16:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{"Apr 31 16:41:54 kedumba postfix/smtp[18733]: " + msg, "", "", 0, time.Time{}, false}},
		{"bad clock", "", recv, "Apr  5 25:41:54 kedumba postfix/smtp[18733]: " + msg,
			want{"Apr  5 25:41:54 kedumba postfix/smtp[18733]: " + msg, "", "", 0, time.Time{}, false}},
		{"no tag", "", recv, "Apr  5 16:41:54 kedumba just words here",
			want{"Apr  5 16:41:54 kedumba just words here", "", "", 0, time.Time{}, false}},
		{"pid not closed", "", recv, "Apr  5 16:41:54 kedumba postfix/smtp[187: " + msg,
			want{"Apr  5 16:41:54 kedumba postfix/smtp[187: " + msg, "", "", 0, time.Time{}, false}},
		{"pri too large", "", recv, "<192>Apr  5 16:41:54 kedumba postfix/smtp[1]: x",
			want{"<192>Apr  5 16:41:54 kedumba postfix/smtp[1]: x", "", "", 0, time.Time{}, false}},
		{"rfc5424 bad SD", "", recv, `<22>1 2024-04-05T16:41:54Z mx app 1 - [unterminated ` + msg,
			want{`<22>1 2024-04-05T16:41:54Z mx app 1 - [unterminated ` + msg, "", "", 0, time.Time{}, false}},
		{"rfc5424 bad time", "", recv, `<22>1 2024-13-05T16:41:54Z mx app 1 - - ` + msg,
			want{`<22>1 2024-13-05T16:41:54Z mx app 1 - - ` + msg, "", "", 0, time.Time{}, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Zone: c.zone}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			rec, err := Unwrap(cfg.WithDefaults(), []byte(c.line), c.recv)
			if err != nil {
				t.Fatal(err)
			}
			got := want{string(rec.Payload), rec.Host, rec.Program, rec.PID, rec.Time, rec.TimeInferred}
			if !got.time.Equal(c.want.time) || got.time.IsZero() != c.want.time.IsZero() {
				t.Errorf("time = %v, want %v", got.time, c.want.time)
			}
			got.time = c.want.time
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if !rec.Time.IsZero() && (rec.Time.Location() != time.UTC || rec.TimeSource != TimeLine) {
				t.Errorf("time %v source %q: want UTC from the line", rec.Time, rec.TimeSource)
			}
		})
	}
}
