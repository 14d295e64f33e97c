package mail

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// mtaExpect is one line of testdata/mta/*/expected.jsonl: a recipient a
// real MTA reported in one bounce mail, and what the remote side (the
// scripted sink) had really answered.
type mtaExpect struct {
	File       string `json:"file"`
	EnvelopeTo string `json:"envelope_to"`
	VERP       string `json:"verp"`
	Recipient  string `json:"recipient"`
	Action     string `json:"action"`
	Status     string `json:"status"`
	Code       int    `json:"code"`
	Enhanced   string `json:"enhanced"`
	Source     string `json:"source"`
}

// TestRealBounces decodes the bounce mails Debian's Postfix and Exim wrote
// and piped through the deploy/mail snippets (scripts/mta-bounces) and
// checks each reported recipient against what the remote side really
// answered: recipient, outcome, reply code and enhanced code (the sink's,
// also when Exim's Status says only 5.0.0), and the verdict's class and
// label by what the sink did to that recipient. Nothing else is reported.
func TestRealBounces(t *testing.T) {
	cls, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	// What the sink does to each local part (internal/smtpsink
	// DefaultScript), as a class/label.
	verdicts := map[string]string{
		"unknown": "hard/mailbox_unknown", "unknown.two": "hard/mailbox_unknown", "multi": "hard/mailbox_unknown",
		"full": "soft/mailbox_full", "full.three": "soft/mailbox_full",
		"blocked": "block/sender_blocked", "spam": "block/spam_content",
		"soft": "soft/", // 450 4.2.1 "mailbox temporarily unavailable": soft, whatever the label
		"user": "hard/domain_unknown",
	}
	d := New(Config{})
	for _, mta := range []string{"postfix", "exim"} {
		dir := filepath.Join("testdata", "mta", mta)
		want := map[string][]mtaExpect{}
		f, err := os.Open(filepath.Join(dir, "expected.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e mtaExpect
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			want[e.File] = append(want[e.File], e)
		}
		f.Close()
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		if len(files) < 9 {
			t.Fatalf("%s: %d mails; want the whole capture", dir, len(files))
		}
		for _, path := range files {
			name := filepath.Base(path)
			t.Run(mta+"/"+name, func(t *testing.T) {
				as, skip, err := d.Decode(raw.Record{Payload: readFile(t, path), Received: received})
				if err != nil || skip != "" {
					t.Fatalf("decode: skip %q, err %v", skip, err)
				}
				exp := want[name]
				if len(as) != len(exp) {
					t.Fatalf("%d attempts, want %d (%v)", len(as), len(exp), exp)
				}
				for _, e := range exp {
					var a *event.Attempt
					for i := range as {
						if strings.EqualFold(as[i].Recipient, e.Recipient) {
							a = &as[i]
						}
					}
					if a == nil {
						t.Errorf("%s: not reported", e.Recipient)
						continue
					}
					switch {
					case e.Action == "delayed" && a.Outcome != event.Deferred,
						e.Action == "failed" && a.Outcome != event.Bounced && a.Outcome != event.Expired:
						t.Errorf("%s: outcome %s for action %s", e.Recipient, a.Outcome, e.Action)
					}
					if mta == "exim" && e.Action == "delayed" && a.SMTP.Code == 0 {
						// An Exim delay warning sent before any try failed
						// names no reply, only Status 4.0.0: nothing more
						// to read (later ones carry the last reply).
						if a.SMTP.Enhanced != "4.0.0" || a.Diagnostic != "" {
							t.Errorf("%s: Exim delay warning read as reply %d %s, diagnostic %q", e.Recipient, a.SMTP.Code, a.SMTP.Enhanced, a.Diagnostic)
						}
					} else if e.Source == "sink" && (a.SMTP.Code != e.Code || a.SMTP.Enhanced != e.Enhanced) {
						t.Errorf("%s: reply %d %s, want the sink's %d %s", e.Recipient, a.SMTP.Code, a.SMTP.Enhanced, e.Code, e.Enhanced)
					}
					local, _, _ := strings.Cut(e.Recipient, "@")
					v := cls.Attempt(a)
					if got := string(v.Class) + "/" + string(v.Label); got != verdicts[local] && !strings.HasSuffix(verdicts[local], "/") || !strings.HasPrefix(got, verdicts[local]) {
						t.Errorf("%s: verdict %s (rule %s), want %s", e.Recipient, got, v.Rule, verdicts[local])
					}
				}
			})
		}
	}
}
