package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdio "io"
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
	format := fs.String("format", ingest.FormatAuto, "input format: auto, canonical, postfix, exim, pmta, kumomta, ses, sendgrid, mailgun, postmark, postal, mail (one message per input)")
	skips := fs.Bool("skips", false, "also print a line for each record that is not a delivery attempt")
	allowErrors := fs.Bool("allow-errors", false, "exit 0 even when lines fail to decode (each failure is still printed as an error object)")
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
		if fs.NArg() > 0 || fs.Changed("format") || fs.Changed("skips") || fs.Changed("allow-errors") {
			return fmt.Errorf("%w: bounced decode --attempts [--partition N] [--offset N] [--count N] (no FILE, --format, --skips or --allow-errors)", ErrUsage)
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
	limit := icfg.MaxRecordBytes
	if limit <= 0 {
		limit = ingest.DefaultMaxRecordBytes
	}
	enc := json.NewEncoder(io.Out)
	enc.SetEscapeHTML(false)
	br := bufio.NewReaderSize(in, 64<<10)
	if *format == raw.FormatMail || *format == ingest.FormatAuto && isMailInput(br) {
		return decodeMail(br, limit, sess, enc, io, *skips, *allowErrors)
	}
	lr := newLineReader(br, limit)
	var lines, events, failed int
	skipped := map[string]int{}
	now := time.Now()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line, size, err := lr.next()
		if errors.Is(err, stdio.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", lines+1, err)
		}
		lines++
		if size > limit {
			failed++
			if err := enc.Encode(map[string]any{"line": lines, "bytes": size, "reason": ingest.ReasonTooLarge,
				"error": fmt.Sprintf("the line is %d bytes, over ingest.max_record_bytes (%d)", size, limit)}); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
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
	var parts []string
	for r, n := range skipped {
		parts = append(parts, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(io.Err, "bounced decode: %d lines, %d events, %d errors, %d skipped (%s)\n", lines, events, failed, total(skipped), strings.Join(parts, ", "))
	if failed > 0 && !*allowErrors {
		return fmt.Errorf("%d of %d lines failed to decode (the error objects above say why; --allow-errors exits 0)", failed, lines)
	}
	return nil
}

// isMailInput reports whether the input starts like an RFC 5322 message
// (a bounce mail saved to a file): then it is one record, not lines.
func isMailInput(br *bufio.Reader) bool {
	head, _ := br.Peek(64 << 10)
	return raw.IsMail(bytes.TrimLeft(head, " \t\r\n"))
}

// decodeMail decodes the whole input as one message, as stage 1 decodes a
// record `bounced mail` produced.
func decodeMail(in stdio.Reader, limit int, sess *ingest.Session, enc *json.Encoder, io IO, skips, allowErrors bool) error {
	msg, size, err := readMail(in, limit)
	if err != nil {
		return err
	}
	if size > len(msg) {
		fmt.Fprintf(io.Err, "bounced decode: the message is %d bytes; decoding its first %d, as bounced mail would produce it\n", size, len(msg))
	}
	atts, skip, err := sess.Decode(msg, time.Now())
	for i := range atts {
		if err := enc.Encode(&atts[i]); err != nil {
			return err
		}
	}
	if skip != "" && skips {
		_ = enc.Encode(map[string]any{"skipped": skip})
	}
	failed := 0
	if err != nil {
		failed = 1
		reason := "invalid"
		var re *raw.Error
		if errors.As(err, &re) {
			reason = re.Reason
		}
		_ = enc.Encode(map[string]any{"error": err.Error(), "reason": reason})
	}
	skipped := ""
	if skip != "" {
		skipped = " (" + skip + ")"
	}
	fmt.Fprintf(io.Err, "bounced decode: 1 message, %d events, %d errors, skipped: %t%s\n", len(atts), failed, skip != "", skipped)
	if failed > 0 && !allowErrors {
		return errors.New("the message failed to decode (the error object above says why; --allow-errors exits 0)")
	}
	return nil
}

// lineReader reads lines of any length while holding at most limit bytes
// of one: a longer line is read to its end and dropped, and next reports
// its size, so one oversized line costs no memory and does not stop the
// lines after it.
type lineReader struct {
	r     *bufio.Reader
	limit int
	buf   []byte
}

func newLineReader(r stdio.Reader, limit int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// next returns the next line without its line ending (\n or \r\n) and
// its size in bytes; when the size is over the limit the line is not
// returned. The line is valid until the next call. At the end of input it
// returns io.EOF; a last line without a newline is a line.
func (l *lineReader) next() ([]byte, int, error) {
	l.buf = l.buf[:0]
	size := 0
	var tail [2]byte // the line's last two bytes, for its ending
	for {
		chunk, err := l.r.ReadSlice('\n')
		size += len(chunk)
		if size <= l.limit+2 { // room for the line ending
			l.buf = append(l.buf, chunk...)
		}
		switch n := len(chunk); {
		case n >= 2:
			tail = [2]byte{chunk[n-2], chunk[n-1]}
		case n == 1:
			tail = [2]byte{tail[1], chunk[0]}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, stdio.EOF) && size == 0:
			return nil, 0, stdio.EOF
		case err != nil && !errors.Is(err, stdio.EOF):
			return nil, 0, err
		}
		ending := 0
		if tail[1] == '\n' {
			ending = 1
			if size >= 2 && tail[0] == '\r' {
				ending = 2
			}
		}
		size -= ending
		if size > l.limit {
			return nil, size, nil
		}
		return l.buf[:size], size, nil
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
