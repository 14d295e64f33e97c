package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

// TestMailEndToEnd pipes bounce mails into `bounced mail` as an MTA's pipe
// would and follows them through both stages: a bounce Debian's Postfix
// wrote (scripts/mta-bounces) suppresses its recipient as unknown, a
// Yahoo ARF report suppresses its recipient as a complaint that
// ClickHouse counts apart from attempts. The exit statuses are the ones
// MTAs act on: 0 when Kafka has the message, 65 for an empty message,
// 75 (retry later) when Kafka is unreachable.
func TestMailEndToEnd(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	broker := n.e.conn.Brokers[0]
	pipe := func(in []byte, args ...string) (int, string) {
		var errb bytes.Buffer
		if len(args) == 0 {
			args = []string{"--kafka.brokers", broker}
		}
		code := Main(ctx, append([]string{"mail", "--set", "log.level=warn"}, args...),
			IO{In: bytes.NewReader(in), Out: &bytes.Buffer{}, Err: &errb, Environ: []string{}})
		return code, errb.String()
	}
	for _, f := range []string{"../processor/ingest/mail/testdata/mta/postfix/001.eml", "../processor/ingest/mail/testdata/arf_yahoo.eml"} {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if code, stderr := pipe(msg); code != 0 {
			t.Fatalf("bounced mail < %s: exit %d: %s", f, code, stderr)
		}
	}
	if code, stderr := pipe([]byte("\n\n")); code != exitDataErr || !strings.Contains(stderr, "empty") {
		t.Errorf("empty message: exit %d (%s), want %d", code, stderr, exitDataErr)
	}
	if code, _ := pipe([]byte("Subject: x\n\nbody\n"), "--kafka.brokers", "127.0.0.1:1", "--timeout", "5s"); code != exitTempFail {
		t.Errorf("no broker: exit %d, want %d so that the MTA keeps the message", code, exitTempFail)
	}

	in := readTopic(ctx, t, n, "bounced.input")
	if len(in) != 2 {
		t.Fatalf("input topic holds %d records, want the 2 mails", len(in))
	}
	for _, m := range in {
		if src := headers(m)[topics.HeaderIntake]; src != "mail" {
			t.Errorf("input record with %s=%q, want mail", topics.HeaderIntake, src)
		}
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
	if err := view.Load(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]event.Label{}
	for _, s := range view.All() {
		got[s.Address] = s.Label
	}
	want := map[string]event.Label{
		"unknown@example.test":                              event.MailboxUnknown,
		"this-local-part-does-not-exist-on-yahoo@yahoo.com": event.LabelComplaint,
	}
	if len(got) != len(want) {
		t.Errorf("suppressions %v, want %v", got, want)
	}
	for a, l := range want {
		if got[a] != l {
			t.Errorf("%s: suppressed as %q, want %q", a, got[a], l)
		}
	}
	c, err := n.e.ch.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total.Attempts != 1 || c.Total.Hard != 1 || c.Total.Complaints != 1 {
		t.Errorf("clickhouse totals %+v: want the bounce as the one attempt and the complaint apart", c.Total)
	}
}

// TestDecodeMailFile: `bounced decode FILE` reads a saved bounce mail as
// one message, with or without --format mail.
func TestDecodeMailFile(t *testing.T) {
	for _, args := range [][]string{
		{"decode", "../processor/ingest/mail/testdata/mta/exim/001.eml"},
		{"decode", "--format", "mail", "../processor/ingest/mail/testdata/mta/exim/001.eml"},
	} {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: []string{}}); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		if !strings.Contains(out.String(), `"recipient":"unknown@example.test"`) || !strings.Contains(out.String(), `"enhanced":"5.1.1"`) ||
			strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%v: got %s", args, out.String())
		}
	}
}
