package postfix

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// FuzzDecode: Decode never panics, always gives exactly one of attempts, a
// skip or a *raw.Error with a "postfix." reason, and the state survives a
// Snapshot/Restore afterwards. Each input is a small session: the fuzzed
// line is decoded after a queue line and before a status line of the same
// queue id, so correlation paths are exercised too.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	tx, _ := filepath.Glob("testdata/tx/*.log")
	for _, path := range append(files, tx...) {
		for _, l := range readLog(f, path) {
			if !l.restart {
				f.Add(string(l.rec.Payload), l.rec.Program)
			}
		}
	}
	f.Add("0F5383D: to=<\"a>b, c\"@x>, orig_to=<\"q, \\\"r\"@y>, relay=none, delay=1, delays=a, dsn=5, status=bounced (", "")
	f.Add("0F5383D: from=<>, status=expired, returned to sender", "postfix/qmgr")
	f.Add("0F5383D: to=<x@y>, relay=[::1]:10024, delay=1, delays=1, dsn=2.0.0, status=sent (250 queued as 0F5383E)", "postfix/smtp")
	f.Fuzz(func(t *testing.T, line, program string) {
		d := New(Config{MaxEntries: 4})
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		qid := "0F5383D"
		if q, _, ok := splitQID(line); ok {
			qid = q
		}
		seq := []raw.Record{
			{Host: "h", Program: "postfix/qmgr", Time: at, Payload: []byte(qid + ": from=<s@x>, size=1, nrcpt=1 (queue active)")},
			{Host: "h", Program: program, Time: at.Add(time.Second), Payload: []byte(line)},
			{Host: "h", Program: "", Time: time.Time{}, Payload: []byte(line)},
			{Host: "h", Program: "postfix/smtp", Time: at.Add(2 * time.Second), Payload: []byte(qid + ": to=<r@x>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (x)")},
			{Host: "h", Program: "postfix/qmgr", Time: at.Add(3 * time.Second), Payload: []byte(qid + ": from=<s@x>, status=expired, returned to sender")},
		}
		for _, r := range seq {
			as, skip, err := d.Decode(r)
			n := 0
			if len(as) > 0 {
				n++
			}
			if skip != "" {
				n++
				if !strings.HasPrefix(skip, "postfix.") {
					t.Fatalf("skip %q", skip)
				}
			}
			if err != nil {
				n++
				var re *raw.Error
				if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, "postfix.") {
					t.Fatalf("error %v is not a postfix *raw.Error", err)
				}
			}
			if n != 1 {
				t.Fatalf("%q: %d attempts, skip %q, err %v", r.Payload, len(as), skip, err)
			}
			for _, a := range as {
				if a.Recipient == "" || !a.Outcome.Valid() || a.EventID == "" || a.Attempt < 1 {
					t.Fatalf("incomplete attempt %+v", a)
				}
			}
		}
		snap, err := d.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := New(Config{}).Restore(snap); err != nil {
			t.Fatalf("Restore(Snapshot()): %v", err)
		}
	})
}
