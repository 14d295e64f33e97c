package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

func suppressCmd(ctx context.Context, io IO, args []string) error {
	const use = "bounced suppress get ADDRESS | lift ADDRESS [--reason R] | add ADDRESS [--reason R] | release DOMAIN | discard DOMAIN | export [--format jsonl|csv]"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", ErrUsage, use)
	}
	sub := args[0]
	fs := flags("suppress "+sub, io)
	reason := fs.String("reason", "", "why (lift, add)")
	format := fs.String("format", "jsonl", "export format: jsonl or csv")
	e, err := connect(ctx, fs, args[1:], io)
	if err != nil {
		return err
	}
	defer e.close()
	tc := e.cfg.Kafka.Topics.WithDefaults()
	view := suppressions.NewView(e.conn, tc.Suppressions, e.log)
	who := os.Getenv("USER")
	switch sub {
	case "get":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		norm, _, err := ingest.NormaliseAddress(fs.Arg(0))
		if err != nil {
			return err
		}
		if err := view.Load(ctx); err != nil {
			return err
		}
		rec, ok := view.Get(norm)
		if !ok {
			fmt.Fprintf(io.Out, "%s is not suppressed\n", norm)
			return nil
		}
		enc := json.NewEncoder(io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	case "lift", "add":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		op := streak.OpLift
		if sub == "add" {
			op = streak.OpSuppress
		}
		w := e.conn.NewWriter()
		defer w.Close()
		norm, err := sendControl(ctx, w, tc.Attempts, op, fs.Arg(0), *reason, who, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Out, "%s: %s queued; the member that owns the address applies it in order with its events\n", norm, sub)
		return nil
	case "release", "discard":
		// The incident guard's decision: every partition's owner gets
		// the command, in order with its events.
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		// The domain is normalised as recipients' domains are.
		_, domain, err := ingest.NormaliseAddress("postmaster@" + strings.TrimPrefix(fs.Arg(0), "@"))
		if err != nil {
			return fmt.Errorf("domain %q: %w", fs.Arg(0), err)
		}
		op := streak.OpRelease
		if sub == "discard" {
			op = streak.OpDiscard
		}
		n, err := e.conn.Partitions(ctx, tc.Attempts)
		if err != nil {
			return err
		}
		msgs, err := topics.DomainMessages(tc.Attempts, n, streak.Control{Op: op, Domain: domain, Reason: *reason, By: who, At: time.Now().UTC()})
		if err != nil {
			return err
		}
		w := e.conn.NewPartitionWriter()
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("send %s for %s: %w", op, domain, err)
		}
		verb := "become enforced suppressions"
		if op == streak.OpDiscard {
			verb = "are dropped (their recipients start afresh)"
		}
		fmt.Fprintf(io.Out, "%s: %s queued to %d partitions; the held suppressions %s as each owner reaches it\n", domain, sub, len(msgs), verb)
		return nil
	case "export":
		if err := view.Load(ctx); err != nil {
			return err
		}
		return export(io, view, *format)
	}
	return fmt.Errorf("%w: unknown subcommand %q: %s", ErrUsage, sub, use)
}

func export(io IO, view *suppressions.View, format string) error {
	switch format {
	case "jsonl":
		enc := json.NewEncoder(io.Out)
		for _, r := range view.All() {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	case "csv":
		fmt.Fprintln(io.Out, "address,status,class,label,rule,since,reason")
		for _, r := range view.All() {
			fmt.Fprintf(io.Out, "%s,%s,%s,%s,%s,%s,%s\n", csvField(r.Address), r.Status, r.Class, r.Label,
				csvField(r.Rule), r.Since.Format(time.RFC3339), csvField(r.Reason))
		}
	default:
		return fmt.Errorf("%w: --format %q is not jsonl or csv", ErrUsage, format)
	}
	return nil
}

func csvField(s string) string { return strconv.Quote(s) }

func replayCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("replay", io)
	reason := fs.String("reason", "", "only records refused for this reason (e.g. invalid_address)")
	dry := fs.Bool("dry-run", false, "list what would be re-sent")
	e, err := connect(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer e.close()
	tc := e.cfg.Kafka.Topics.WithDefaults()
	n, err := e.conn.Partitions(ctx, tc.DLQ)
	if err != nil {
		return err
	}
	w := e.conn.NewWriter()
	defer w.Close()
	// A dead letter written twice (by a version before the DLQ was read
	// back on replays) is replayed once: by its source position.
	sent, skipped, repeats := 0, 0, 0
	seen := map[string]bool{}
	for p := range n {
		// Scan gives key and value only; read headers with a Reader.
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.conn.Brokers, Dialer: e.conn.Dialer, Topic: tc.DLQ, Partition: p, MaxWait: 500 * time.Millisecond})
		end, err := e.conn.Scan(ctx, tc.DLQ, p, func(int64, []byte, []byte) error { return nil })
		if err != nil {
			r.Close()
			return err
		}
		for r.Offset() < end {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				return err
			}
			h := map[string]string{}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			if (*reason != "" && h[topics.HeaderReason] != *reason) || h[topics.HeaderTruncated] == "true" || h[topics.HeaderTopic] == "" {
				skipped++
				if m.Offset+1 >= end {
					break
				}
				continue
			}
			if pos := h[topics.HeaderTopic] + "/" + h[topics.HeaderPartition] + "/" + h[topics.HeaderOffset]; seen[pos] {
				repeats++
				if m.Offset+1 >= end {
					break
				}
				continue
			} else {
				seen[pos] = true
			}
			if *dry {
				fmt.Fprintf(io.Out, "%s/%s@%s %s: %s\n", h[topics.HeaderTopic], h[topics.HeaderPartition], h[topics.HeaderOffset], h[topics.HeaderReason], h[topics.HeaderError])
			} else if err := w.WriteMessages(ctx, kafka.Message{Topic: h[topics.HeaderTopic], Key: m.Key, Value: m.Value}); err != nil {
				r.Close()
				return err
			}
			sent++
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	fmt.Fprintf(io.Out, "replayed %d records, skipped %d (other reasons or truncated) and %d repeats of a position already replayed\n", sent, skipped, repeats)
	return nil
}

// sendControl writes an operator command on one address to the attempts
// topic, keyed by the normalised address so that it reaches the stage-2
// worker that owns the address, after every event already queued for it.
// It returns the address as normalised.
func sendControl(ctx context.Context, w *kafka.Writer, attempts string, op streak.Op, address, reason, by string, now time.Time) (string, error) {
	norm, _, err := ingest.NormaliseAddress(address)
	if err != nil {
		return "", err
	}
	msg, err := topics.ControlMessage(attempts, streak.Control{Op: op, Address: norm, Reason: reason, By: by, At: now.UTC()})
	if err != nil {
		return "", err
	}
	if err := w.WriteMessages(ctx, msg); err != nil {
		return "", fmt.Errorf("send %s for %s: %w", op, norm, err)
	}
	return norm, nil
}
