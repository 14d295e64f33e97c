package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
)

// TestRulesReload changes the user's rules file under a running watcher and
// then sends SIGHUP: both swap the rules in use; a broken file keeps them.
func TestRulesReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(label string) {
		t.Helper()
		y := "rules:\n  - id: site.vacation\n    label: " + label + "\n    phrases: [\"gone fishing\"]\n"
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("auto_reply")
	cfg := &config.Config{Classify: config.Classify{RulesFile: path}}
	cls, err := loadClassifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{e: &env{cfg: cfg, log: slog.New(slog.DiscardHandler)}, rules: classify.NewLive(cls), rulesPoll: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.watchRules(ctx); close(done) }()

	a := &event.Attempt{Outcome: event.Bounced, Recipient: "a@example.com", SMTP: event.SMTP{Code: 550, Text: "550 gone fishing"}}
	verdict := func() event.Verdict { return n.rules.Attempt(a) }
	if v := verdict(); v.Rule != "site.vacation" || v.Label != event.LabelAutoReply {
		t.Fatalf("user rule not in use: %+v", v)
	}
	waitFor := func(what string, ok func(event.Verdict) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(verdict()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: verdict still %+v", what, verdict())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(1100 * time.Millisecond) // a new mtime, even on coarse file systems
	write("mailbox_inactive")
	waitFor("file change", func(v event.Verdict) bool { return v.Label == event.MailboxInactive })

	// A broken file is refused; the rules in use stay.
	if err := os.WriteFile(path, []byte("rules:\n  - id: x\n    label: nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if v := verdict(); v.Label != event.MailboxInactive {
		t.Fatalf("a broken file replaced the rules: %+v", v)
	}

	// SIGHUP reloads without any poll: a watcher that would not look at the
	// file for an hour still picks the change up.
	cancel()
	<-done
	n.rulesPoll = time.Hour
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go n.watchRules(ctx)
	time.Sleep(100 * time.Millisecond) // let it register for the signal
	write("policy_violation")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("SIGHUP", func(v event.Verdict) bool { return v.Label == event.PolicyViolation })
}
