package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// TestDecodeAttempts: an outside reader of the attempts topic gets JSON
// lines from `bounced decode --attempts`, whichever encoding stage 1 wrote
// (binary now, JSON before), with operator commands and undecodable
// records marked as such; --partition, --offset and --count select.
func TestDecodeAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	addr := emb.Addrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "bounced.attempts"); err != nil {
		t.Fatal(err)
	}

	v := event.NewVerdict(event.MailboxUnknown, "code.5.1.1")
	a := &event.Attempt{EventID: "e1", OccurredAt: time.Date(2026, 6, 1, 11, 0, 0, 5, time.FixedZone("", 7200)),
		Recipient: "Jane@Example.org", Outcome: event.Bounced, MessageID: "<m1@sender.example>",
		SMTP:          event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "user unknown & gone"},
		RecipientNorm: "jane@example.org", RecipientDomain: "example.org", Verdict: &v}
	bin, err := topics.AttemptMessage("bounced.attempts", a, "bounced.input/0/41/0", topics.EncodingBinary)
	if err != nil {
		t.Fatal(err)
	}
	old, err := topics.AttemptMessage("bounced.attempts", a, "", topics.EncodingJSON)
	if err != nil {
		t.Fatal(err)
	}
	lift, err := topics.ControlMessage("bounced.attempts", streak.Control{Op: streak.OpLift, Address: "jane@example.org", At: a.OccurredAt.UTC()})
	if err != nil {
		t.Fatal(err)
	}
	junk := bin
	junk.Value = bin.Value[:len(bin.Value)-3]
	msgs := []kafka.Message{old, bin, lift, junk}
	for i := range msgs {
		msgs[i].Topic, msgs[i].Partition = "", 0
	}
	conn, err := broker.Config{}.Connect([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	w := conn.NewPartitionWriter()
	w.Topic = "bounced.attempts"
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	run := func(args ...string) []attemptLine {
		t.Helper()
		out, errs := &bytes.Buffer{}, &bytes.Buffer{}
		args = append([]string{"--attempts", "--kafka.brokers", addr, "--set", "log.level=error"}, args...)
		if err := decodeCmd(ctx, IO{Out: out, Err: errs}, args); err != nil {
			t.Fatalf("decode %v: %v\n%s", args, err, errs)
		}
		var lines []attemptLine
		for l := range strings.Lines(out.String()) {
			var x attemptLine
			if err := json.Unmarshal([]byte(l), &x); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			lines = append(lines, x)
		}
		return lines
	}

	lines := run()
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4: %+v", len(lines), lines)
	}
	want, _ := json.Marshal(a)
	for i, l := range lines[:2] {
		if l.Topic != "bounced.attempts" || l.Partition != 0 || l.Offset != int64(i) || l.Key != "jane@example.org" || l.Attempt == nil {
			t.Fatalf("line %d: %+v", i, l)
		}
		if got, _ := json.Marshal(l.Attempt); !bytes.Equal(got, want) {
			t.Errorf("line %d: attempt\n%s\nwant\n%s", i, got, want)
		}
	}
	if lines[1].Source != "bounced.input/0/41/0" {
		t.Errorf("source header: %q", lines[1].Source)
	}
	var c streak.Control
	if err := json.Unmarshal(lines[2].Control, &c); err != nil || c.Op != streak.OpLift || lines[2].Attempt != nil {
		t.Errorf("command line: %+v (%v)", lines[2], err)
	}
	if l := lines[3]; l.Attempt != nil || !strings.HasPrefix(l.Error, "attempt record: ") {
		t.Errorf("junk line: %+v", l)
	}

	if got := run("--offset", "1", "--count", "2"); len(got) != 2 || got[0].Offset != 1 || got[1].Offset != 2 {
		t.Errorf("--offset 1 --count 2: %+v", got)
	}
	if got := run("--partition", "1"); len(got) != 0 {
		t.Errorf("--partition 1 (empty): %+v", got)
	}
	if got := run("--offset", "9"); len(got) != 0 {
		t.Errorf("--offset past the end: %+v", got)
	}
	for _, bad := range [][]string{{"--partition", "2"}, {"--count", "-1"}, {"--format", "postfix"}, {"file.log"}} {
		err := decodeCmd(ctx, IO{Out: io.Discard, Err: io.Discard}, append([]string{"--attempts", "--kafka.brokers", addr}, bad...))
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	if err := decodeCmd(ctx, IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, []string{"--count", "1"}); !errors.Is(err, ErrUsage) {
		t.Errorf("--count without --attempts: %v", err)
	}
}
