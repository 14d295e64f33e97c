package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var received = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// A restarted member goes on correlating: the Message-ID and sender seen
// before the restart reach the status line read after it.
func TestSessionSnapshotRestore(t *testing.T) {
	in := newIngester(t, Config{})
	before := in.NewSession("mta.logs")
	for _, l := range []string{
		"Nov 20 10:00:00 mx1 postfix/cleanup[101]: 4ABC1234: message-id=<a1@sender.example>",
		"Nov 20 10:00:01 mx1 postfix/qmgr[102]: 4ABC1234: from=<news@sender.example>, size=2048, nrcpt=1 (queue active)",
		"Nov 20 10:00:02 mx1 postfix/cleanup[101]: 4ABC1234: info: header X-Campaign-ID: nov-news from local; from=<news@sender.example> to=<a@example.org>",
	} {
		if atts, skip, err := before.Decode([]byte(l), received); err != nil || skip == "" || len(atts) != 0 {
			t.Fatalf("%s: %v %q %v", l, atts, skip, err)
		}
	}
	snap, err := before.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	after := in.NewSession("mta.logs")
	if err := after.Restore(snap); err != nil {
		t.Fatal(err)
	}
	atts, _, err := after.Decode([]byte("Nov 20 10:00:05 mx1 postfix/smtp[103]: 4ABC1234: to=<a@example.org>, relay=mx.example.org[192.0.2.10]:25, delay=5, delays=0.1/0/0.2/4.7, dsn=2.0.0, status=sent (250 2.0.0 Ok)"), received)
	if err != nil || len(atts) != 1 {
		t.Fatalf("%v %v", atts, err)
	}
	a := atts[0]
	if a.MessageID != "<a1@sender.example>" || a.Sender != "news@sender.example" || a.CampaignID != "nov-news" || a.Verdict == nil {
		t.Errorf("correlation lost across the restart: %+v", a)
	}
	if err := after.Restore([]byte(`{"v":9}`)); err == nil {
		t.Error("a snapshot of an unknown version was accepted")
	}
}

// Every format is found without being pinned, and a record of no known
// format is refused with a reason.
func TestSessionDetects(t *testing.T) {
	in := newIngester(t, Config{})
	s := in.NewSession("mixed")
	for _, tc := range []struct {
		rec  string
		kind string
	}{
		{`{"occurred_at":"2026-11-20T10:00:00Z","recipient":"a@example.org","outcome":"delivered"}`, ""},
		{`2026-11-20 10:00:00 1RookS-000Pg8-VO ** b@example.org R=dnslookup T=remote_smtp H=mx.example.org [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<b@example.org>: 550 5.1.1 User unknown`, "exim"},
		{`{"type":"Bounce","id":"1d8f","sender":"s@example.net","recipient":"c@example.org","queue":"camp:tenant@example.org","site":"","size":10,"response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"user unknown","command":"RCPT TO"},"timestamp":1763632800,"num_attempts":1}`, "kumomta"},
	} {
		atts, _, err := s.Decode([]byte(tc.rec), received)
		if err != nil || len(atts) != 1 || atts[0].Source.Kind != tc.kind {
			t.Errorf("%.60s: %v %v", tc.rec, atts, err)
		}
	}
	_, _, err := s.Decode([]byte("hello world"), received)
	var re *raw.Error
	if !errors.As(err, &re) || re.Reason != "unknown_format" {
		t.Errorf("junk: %v", err)
	}
}
