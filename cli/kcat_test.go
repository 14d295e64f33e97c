package cli

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
)

// TestRawFormatsFromKcat has a client no one here wrote, kcat, produce raw
// Postfix syslog lines (keyed by host, as shippers do), an SES
// notification in its SNS envelope, a SendGrid webhook batch and a line of
// junk into the embedded broker. The suppressions and the ClickHouse rows
// that come out are exact.
func TestRawFormatsFromKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is missing in CI: scripts/test installs it (Debian package kafkacat)")
		}
		t.Skip("kcat not installed (apt-get install kafkacat)")
	}
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	out, err := exec.CommandContext(ctx, kcat, "-b", n.e.conn.Brokers[0], "-t", "bounced.input", "-P", "-K", "|",
		"-l", "testdata/kcat_records.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}

	view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]event.Label{
		"alice@example.org": event.MailboxUnknown, // Postfix, virtual mailbox table
		"erin@example.com":  event.MailboxUnknown, // SES permanent bounce
		"grace@example.com": event.LabelComplaint, // SendGrid spam report
	}
	got := map[string]event.Label{}
	for _, s := range view.All() {
		got[s.Address] = s.Label
	}
	if len(got) != len(want) {
		t.Errorf("suppressions %v, want %v", got, want)
	}
	for a, l := range want {
		if got[a] != l {
			t.Errorf("%s: suppressed as %q, want %q", a, got[a], l)
		}
	}
	if s, _ := view.Get("alice@example.org"); s.Evidence == nil || s.Evidence[len(s.Evidence)-1].MessageID != "<a1@sender.example>" || s.Evidence[len(s.Evidence)-1].CampaignID != "nov-news" {
		t.Errorf("alice's evidence lacks the correlated message id or campaign: %+v", s.Evidence)
	}

	c, err := n.e.ch.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Postfix: alice bounced, bob delivered, dave blocked, carol deferred
	// twice; SES: erin bounced; SendGrid: frank dropped upstream, grace's
	// complaint is not an attempt.
	wantTotal := clickhouse.Tally{Attempts: 7, Delivered: 1, Deferred: 2, Bounced: 3, Dropped: 1, Hard: 2, Block: 1, Complaints: 1}
	if c.Total != wantTotal {
		t.Errorf("clickhouse totals %+v, want %+v", c.Total, wantTotal)
	}
	// Campaign ids come from the Postfix X-Campaign-ID header (correlated by
	// queue id), the SES tag and the SendGrid category; carol's message
	// carries none.
	if got, none := c.ByCampaign["nov-news"].Attempts, c.ByCampaign[""].Attempts; got != 5 || none != 2 {
		t.Errorf("campaign nov-news has %d attempts (want 5), none %d (want 2): %+v", got, none, c.ByCampaign)
	}
	if c.Suppressed != 3 {
		t.Errorf("clickhouse suppressions %d, want 3", c.Suppressed)
	}
	dlq := readTopic(ctx, t, n, "bounced.dlq")
	if len(dlq) != 1 || !strings.Contains(string(dlq[0].Value), "not a mail log line") {
		t.Errorf("DLQ holds %d records, want the junk line", len(dlq))
	}
	skipped := counterSum(n, "bounced_skipped_total")
	if skipped < 8 {
		t.Errorf("only %v records counted as skipped; pickup, cleanup, header, qmgr and removed lines are skips", skipped)
	}
}

func counterSum(n *node, name string) float64 {
	mfs, _ := n.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
