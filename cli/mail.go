package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdio "io"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/topics"
)

// Exit statuses of `bounced mail`, from sysexits(3): what Postfix's pipe(8),
// Exim's pipe transport and procmail understand. EX_TEMPFAIL makes the MTA
// keep the message and try again later, so a bounce is never lost while
// Kafka is away; EX_DATAERR makes it bounce the message (to the postmaster:
// a bounce of a bounce goes nowhere else).
const (
	exitUsage    = 64 // EX_USAGE
	exitDataErr  = 65 // EX_DATAERR
	exitTempFail = 75 // EX_TEMPFAIL
)

// exitError is an error with the process exit status Main should return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// mailCmd reads one RFC 5322 message (a bounce mail, a complaint report) on
// standard input and produces it, unchanged, to the first input topic with
// the header bounced.intake=mail; stage 1's mail format decodes it. It is
// what an MTA's pipe delivery runs for the bounce address (deploy/mail).
//
// A message larger than the record limit (kafka.max_message_bytes with room
// for headers, and ingest.max_record_bytes) is cut at the last line break
// under it: RFC 3462 puts the human text and the delivery-status part first
// and the returned message last, so the cut costs only the returned
// message's tail; the header bounced.intake.original_size keeps its size.
func mailCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("mail", io)
	timeout := fs.Duration("timeout", 60*time.Second, "give up (exit 75, the MTA retries) when Kafka has not taken the message within this")
	cfg, err := load(fs, args, io)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return err
	case errors.Is(err, ErrUsage):
		return &exitError{exitUsage, err}
	case err != nil:
		// A configuration error is the operator's to fix: the MTA keeps
		// the message until then, rather than bouncing a bounce.
		return &exitError{exitTempFail, err}
	}
	if fs.NArg() > 0 {
		return &exitError{exitUsage, fmt.Errorf("%w: bounced mail takes no arguments; it reads one message on standard input", ErrUsage)}
	}
	tc := cfg.Kafka.Topics.WithDefaults()
	limit := mailLimit(tc.MaxMessageBytes, cfg.Ingest.MaxRecordBytes)
	msg, size, err := readMail(io.In, limit)
	if err != nil {
		return &exitError{exitDataErr, err}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return &exitError{exitTempFail, err}
	}
	defer e.close()
	w := e.conn.NewInputWriter()
	defer w.Close()
	rec := topics.IntakeMessage(tc.Input[0], "mail", msg)
	if size > len(msg) {
		rec.Headers = append(rec.Headers, kafka.Header{Key: topics.HeaderIntakeSize, Value: []byte(strconv.Itoa(size))})
		e.log.Warn("the message was cut to fit the input topic; the returned message's tail is lost, the report before it is kept",
			"bytes", size, "kept", len(msg))
	}
	if err := w.WriteMessages(ctx, rec); err != nil {
		return &exitError{exitTempFail, fmt.Errorf("producing to %s: %w", tc.Input[0], err)}
	}
	e.log.Debug("mail produced", "topic", tc.Input[0], "bytes", len(msg))
	return nil
}

// mailLimit is the largest message `bounced mail` produces: under the
// topic's limit with room for the record's headers, and under what stage 1
// accepts.
func mailLimit(maxMessageBytes, maxRecordBytes int) int {
	limit := topics.BatchBudget(maxMessageBytes)
	if maxRecordBytes <= 0 {
		maxRecordBytes = ingest.DefaultMaxRecordBytes
	}
	return min(limit, maxRecordBytes)
}

// readMail reads the message, at most limit bytes of it (cut at a line
// break), and the size it had.
func readMail(r stdio.Reader, limit int) ([]byte, int, error) {
	buf, err := stdio.ReadAll(stdio.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the message: %w", err)
	}
	size := len(buf)
	if size > limit {
		n, err := stdio.Copy(stdio.Discard, r)
		if err != nil {
			return nil, 0, fmt.Errorf("reading the message: %w", err)
		}
		size += int(n)
		buf = buf[:limit]
		if i := bytes.LastIndexByte(buf, '\n'); i > 0 {
			buf = buf[:i+1]
		}
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return nil, size, errors.New("the message is empty; want one RFC 5322 message on standard input")
	}
	return buf, size, nil
}
