package classify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bounced-dev/bounced/processor/event"
)

// MaxLine is the longest input line Stream accepts.
const MaxLine = 1 << 20

// streamError is the output line for an input Stream cannot classify.
type streamError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Stream is `bounced classify`: it reads JSON lines from r, each a canonical
// event or any subset of one with at least one of smtp.code, smtp.enhanced,
// smtp.text or diagnostic (a full event with an outcome also qualifies), and
// writes one JSON line per input to w, in order: the verdict (class, label,
// scope, rule, and local when set). A line that does not parse, lacks all of
// those fields or is longer than MaxLine yields {"line":N,"error":"..."} and
// the run goes on. Blank lines are skipped. It stops at the end of r, on a
// read or write error, or when ctx is done.
func Stream(ctx context.Context, c *Classifier, r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 64*1024)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var buf []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			_ = bw.Flush()
			return fmt.Errorf("classify: stream: %w", err)
		}
		// Flush before a read that may block, so an interactive user sees
		// each answer.
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("classify: stream: write: %w", err)
			}
		}
		line, tooLong, err := readLine(br, buf[:0])
		buf = line
		if err != nil && !errors.Is(err, io.EOF) {
			_ = bw.Flush()
			return fmt.Errorf("classify: stream: read line %d: %w", n, err)
		}
		eof := errors.Is(err, io.EOF)
		if eof && len(line) == 0 && !tooLong {
			break
		}
		var out any
		switch {
		case tooLong:
			out = streamError{Line: n, Error: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		case len(bytes.TrimSpace(line)) == 0:
			out = nil
		default:
			v, perr := classifyLine(c, line)
			if perr != nil {
				out = streamError{Line: n, Error: perr.Error()}
			} else {
				out = v
			}
		}
		if out != nil {
			if err := enc.Encode(out); err != nil {
				return fmt.Errorf("classify: stream: write: %w", err)
			}
		}
		if eof {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("classify: stream: write: %w", err)
	}
	return nil
}

// readLine reads one line without its newline into buf. A line longer than
// MaxLine is consumed and reported as tooLong, so the next line still reads.
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > MaxLine+1 { // +1: the newline
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, tooLong, err
	}
}

// classifyLine decodes one input line and classifies it.
func classifyLine(c *Classifier, line []byte) (event.Verdict, error) {
	var a event.Attempt
	if err := json.Unmarshal(line, &a); err != nil {
		return event.Verdict{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if a.SMTP.Code == 0 && a.SMTP.Enhanced == "" && a.SMTP.Text == "" && a.Diagnostic == "" &&
		a.Outcome == "" && a.SourceClassification == nil {
		return event.Verdict{}, errors.New("nothing to classify: want smtp.code, smtp.enhanced, smtp.text or diagnostic")
	}
	return c.Attempt(&a), nil
}
