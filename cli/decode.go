package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/schemas"
)

// decodeCmd runs stage 1's decoding on lines of a file or standard input, so
// a user can check what bounced makes of their logs before pointing it at
// them. Correlation (Postfix queue ids) works across the lines it reads.
func decodeCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("decode", io)
	format := fs.String("format", ingest.FormatAuto, "input format: auto, canonical, postfix, exim, pmta, kumomta, ses, sendgrid, mailgun, postmark")
	skips := fs.Bool("skips", false, "also print a line for each record that is not a delivery attempt")
	attempts := fs.Bool("attempts", false, "instead: print the records of the attempts topic (on kafka.brokers, or a running member's embedded broker) as JSON lines")
	var ar attemptsRange
	fs.IntVar(&ar.partition, "partition", -1, "with --attempts: only this partition (default: all)")
	fs.Int64Var(&ar.offset, "offset", -1, "with --attempts: the offset each partition starts at (default: its first)")
	fs.IntVar(&ar.count, "count", 0, "with --attempts: stop after this many records (default: at each partition's end when the command starts)")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if *attempts {
		if fs.NArg() > 0 || fs.Changed("format") || fs.Changed("skips") {
			return fmt.Errorf("%w: bounced decode --attempts [--partition N] [--offset N] [--count N] (no FILE, --format or --skips)", ErrUsage)
		}
		return decodeAttempts(ctx, io, cfg, ar)
	}
	if fs.Changed("partition") || fs.Changed("offset") || fs.Changed("count") {
		return fmt.Errorf("%w: --partition, --offset and --count go with --attempts", ErrUsage)
	}
	in := io.In
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: bounced decode [--format NAME] [FILE]", ErrUsage)
	}
	if fs.NArg() == 1 {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	icfg := cfg.Ingest
	const topic = "decode"
	if *format != ingest.FormatAuto {
		icfg.Formats = map[string]string{topic: *format}
		if err := icfg.Validate(); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
	}
	cls, err := loadClassifier(cfg)
	if err != nil {
		return err
	}
	ing, err := ingest.New(icfg, cls, schemas.Attempt)
	if err != nil {
		return err
	}
	sess := ing.NewSession(topic)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), max(icfg.MaxRecordBytes, ingest.DefaultMaxRecordBytes)+1)
	enc := json.NewEncoder(io.Out)
	enc.SetEscapeHTML(false)
	var lines, events, failed int
	skipped := map[string]int{}
	now := time.Now()
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lines++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		atts, skip, err := sess.Decode(line, now)
		for i := range atts {
			if err := enc.Encode(&atts[i]); err != nil {
				return err
			}
			events++
		}
		if skip != "" {
			skipped[skip]++
			if *skips {
				_ = enc.Encode(map[string]any{"line": lines, "skipped": skip})
			}
		}
		if err != nil {
			failed++
			reason := "invalid"
			var re *raw.Error
			if errors.As(err, &re) {
				reason = re.Reason
			}
			_ = enc.Encode(map[string]any{"line": lines, "error": err.Error(), "reason": reason})
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w (lines longer than ingest.max_record_bytes are refused)", lines+1, err)
	}
	var parts []string
	for r, n := range skipped {
		parts = append(parts, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(io.Err, "bounced decode: %d lines, %d events, %d errors, %d skipped (%s)\n", lines, events, failed, total(skipped), strings.Join(parts, ", "))
	return nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
