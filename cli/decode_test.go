package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// postfixSent is a Postfix delivery line that decodes to one event.
const postfixSent = "25F2E5E061: to=<george.desantis@test.example.com>, relay=none, delay=0.05, delays=0.05/0/0/0, dsn=2.0.0, status=sent (test.example.com)"

// TestDecodeTooLarge: a line over ingest.max_record_bytes becomes an error
// object with its line number, size and reason too_large, and the lines
// after it are still decoded; the command then fails unless
// --allow-errors, and its summary goes to stderr, never among the events.
func TestDecodeTooLarge(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	in := postfixSent + "\n" + big + "\r\n" + postfixSent + "\n"
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"default", nil, true},
		{"allow errors", []string{"--allow-errors"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := &bytes.Buffer{}, &bytes.Buffer{}
			err := decodeCmd(context.Background(), IO{In: strings.NewReader(in), Out: out, Err: errs},
				append([]string{"--format", "postfix", "--set", "log.level=error"}, tc.args...))
			if tc.wantErr {
				if err == nil || errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "1 of 3 lines failed") {
					t.Fatalf("err = %v, want 1 of 3 lines failed", err)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			var objs []map[string]any
			for l := range strings.Lines(out.String()) {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("stdout line %.80q: %v", l, err)
				}
				objs = append(objs, m)
			}
			if len(objs) != 3 {
				t.Fatalf("%d objects on stdout, want 3: %.300s", len(objs), out)
			}
			if objs[0]["recipient"] != "george.desantis@test.example.com" || objs[2]["recipient"] != "george.desantis@test.example.com" {
				t.Errorf("events around the long line: %v / %v", objs[0], objs[2])
			}
			e := objs[1]
			if e["line"] != 2.0 || e["reason"] != "too_large" || e["bytes"] != float64(2<<20) || !strings.Contains(e["error"].(string), "ingest.max_record_bytes (1048576)") {
				t.Errorf("error object: %v", e)
			}
			if !strings.Contains(errs.String(), "bounced decode: 3 lines, 2 events, 1 errors") || strings.Contains(out.String(), "bounced decode:") {
				t.Errorf("summary: stderr %q", errs)
			}
		})
	}

	// ingest.max_record_bytes sets the bound.
	out := &bytes.Buffer{}
	long := postfixSent + strings.Repeat(" ", 1024)
	err := decodeCmd(context.Background(), IO{In: strings.NewReader(long + "\n"), Out: out, Err: io.Discard},
		[]string{"--format", "postfix", "--set", "log.level=error", "--set", "ingest.max_record_bytes=1024"})
	if err == nil || !strings.Contains(out.String(), `"reason":"too_large"`) || !strings.Contains(out.String(), `"bytes":`+fmt.Sprint(len(long))) {
		t.Errorf("max_record_bytes=1024: %v %s", err, out)
	}
	// A clean input exits 0.
	if err := decodeCmd(context.Background(), IO{In: strings.NewReader(postfixSent + "\n\n"), Out: io.Discard, Err: io.Discard},
		[]string{"--format", "postfix", "--set", "log.level=error"}); err != nil {
		t.Errorf("clean input: %v", err)
	}
	if err := decodeCmd(context.Background(), IO{Out: io.Discard, Err: io.Discard}, []string{"--attempts", "--allow-errors"}); !errors.Is(err, ErrUsage) {
		t.Errorf("--attempts --allow-errors: %v, want a usage error", err)
	}
}

type readLine struct {
	line string // empty when too large
	size int
}

func (l readLine) String() string { return fmt.Sprintf("%q/%d", l.line, l.size) }

// readAll reads every line of in with a lineReader of the given limit and
// bufio buffer size.
func readAll(t *testing.T, in string, limit, bufSize int) []readLine {
	t.Helper()
	lr := newLineReader(strings.NewReader(in), limit)
	lr.r = bufio.NewReaderSize(strings.NewReader(in), bufSize)
	var got []readLine
	for {
		l, n, err := lr.next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, readLine{string(l), n})
		if len(got) > len(in)+1 {
			t.Fatalf("more lines than bytes in %q", in)
		}
	}
}

func TestLineReader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		limit int
		want  []readLine
	}{
		{"empty", "", 10, nil},
		{"one, no newline", "abc", 10, []readLine{{"abc", 3}}},
		{"lines", "abc\nde\n", 10, []readLine{{"abc", 3}, {"de", 2}}},
		{"crlf", "abc\r\nde\r\n", 10, []readLine{{"abc", 3}, {"de", 2}}},
		{"lone cr kept", "a\rb\n", 10, []readLine{{"a\rb", 3}}},
		{"blank lines", "\n\r\n\n", 10, []readLine{{"", 0}, {"", 0}, {"", 0}}},
		{"at the limit", "0123456789\n", 10, []readLine{{"0123456789", 10}}},
		{"at the limit, crlf", "0123456789\r\n", 10, []readLine{{"0123456789", 10}}},
		{"over by one", "0123456789a\nok\n", 10, []readLine{{"", 11}, {"ok", 2}}},
		{"over, crlf, no newline at the end", "0123456789abcdefghijklmnopqrstuvwxyz\r\nok", 10, []readLine{{"", 36}, {"ok", 2}}},
		{"far over, spanning buffers", strings.Repeat("y", 100) + "\n" + "z\n", 10, []readLine{{"", 100}, {"z", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, bufSize := range []int{16, 64 << 10} { // 16: bufio's smallest; lines span many reads
				got := readAll(t, tc.in, tc.limit, bufSize)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("buffer %d: %v, want %v", bufSize, got, tc.want)
				}
			}
		})
	}
}

// FuzzLineReader: whatever the input and buffer size, the lines read are
// the input split at \n (a trailing \r dropped), and a line over the
// limit comes back empty with its size.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\r\n\r\n", strings.Repeat("q", 40) + "\r\nx\n", "abc\r"} {
		f.Add(s, uint8(8))
	}
	f.Fuzz(func(t *testing.T, in string, limit uint8) {
		var want []readLine
		if in != "" {
			parts := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
			for i, p := range parts {
				if i < len(parts)-1 || strings.HasSuffix(in, "\n") {
					p = strings.TrimSuffix(p, "\r")
				}
				if len(p) > int(limit) {
					want = append(want, readLine{"", len(p)})
				} else {
					want = append(want, readLine{p, len(p)})
				}
			}
		}
		got := readAll(t, in, int(limit), 16)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q limit %d: %v, want %v", in, limit, got, want)
		}
	})
}
