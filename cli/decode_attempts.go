package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/topics"
)

// attemptsRange is what `bounced decode --attempts` reads.
type attemptsRange struct {
	partition int   // -1: every partition
	offset    int64 // -1: each partition's first offset
	count     int   // 0: up to each partition's end
}

// attemptLine is one record of the attempts topic as `bounced decode
// --attempts` prints it: where it is, then the attempt (in the JSON of
// schemas/attempt.schema.json, whichever encoding the record holds), the
// operator or domain command (its JSON as written), or why it could not be
// decoded.
type attemptLine struct {
	Topic     string          `json:"topic"`
	Partition int             `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       string          `json:"key"`
	Source    string          `json:"source,omitempty"` // the input position stage 1 made the attempt from
	Attempt   *event.Attempt  `json:"attempt,omitempty"`
	Control   json.RawMessage `json:"control,omitempty"`
	Error     string          `json:"error,omitempty"`
	binary    bool            // the attempt was in the binary encoding
}

// decodeAttempts prints the attempts topic's records as JSON lines, so
// that readers outside bounced (jq, a script, another platform) need not
// know the binary encoding stage 1 writes. It reads each partition up to
// the end it has when the command starts.
func decodeAttempts(ctx context.Context, io IO, cfg *config.Config, ar attemptsRange) error {
	if ar.partition < -1 || ar.offset < -1 || ar.count < 0 {
		return fmt.Errorf("%w: --partition, --offset and --count take a number >= 0", ErrUsage)
	}
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	topic := cfg.Kafka.Topics.WithDefaults().Attempts
	n, err := e.conn.Partitions(ctx, topic)
	if err != nil {
		return err
	}
	parts := make([]int, 0, n)
	for p := range n {
		if ar.partition < 0 || ar.partition == p {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("%w: --partition %d: %s has partitions 0..%d", ErrUsage, ar.partition, topic, n-1)
	}
	client := &kafka.Client{Addr: kafka.TCP(e.conn.Brokers...), Transport: e.conn.Transport, Timeout: 30 * time.Second}
	enc := json.NewEncoder(io.Out)
	enc.SetEscapeHTML(false)
	var t tally
	emit := func(l *attemptLine) error {
		t.add(l)
		return enc.Encode(l)
	}
	for _, p := range parts {
		left := 0
		if ar.count > 0 {
			if left = ar.count - t.records; left <= 0 {
				break
			}
		}
		if err := readAttempts(ctx, client, topic, p, ar.offset, left, emit); err != nil {
			return err
		}
	}
	fmt.Fprintf(io.Err, "bounced decode: %d records of %s: %d attempts (%d JSON, %d binary), %d commands, %d errors\n",
		t.records, topic, t.json+t.binary, t.json, t.binary, t.commands, t.errors)
	return nil
}

// tally counts what decodeAttempts printed.
type tally struct{ records, json, binary, commands, errors int }

func (t *tally) add(l *attemptLine) {
	t.records++
	switch {
	case l.Error != "":
		t.errors++
	case l.Control != nil:
		t.commands++
	case l.binary:
		t.binary++
	default:
		t.json++
	}
}

// readAttempts reads partition p of topic from offset from (-1 or before
// the first offset: the first) up to its end, or count records when count
// is positive, and calls emit for each.
func readAttempts(ctx context.Context, client *kafka.Client, topic string, p int, from int64, count int, emit func(*attemptLine) error) error {
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p)}},
	})
	if err != nil {
		return fmt.Errorf("list offsets of %s/%d: %w", topic, p, err)
	}
	var first, end int64 = -1, -1
	for _, po := range lo.Topics[topic] {
		if po.Partition != p {
			continue
		}
		if po.Error != nil {
			return fmt.Errorf("list offsets of %s/%d: %w", topic, p, po.Error)
		}
		first, end = po.FirstOffset, po.LastOffset
	}
	if first < 0 || end < 0 {
		return fmt.Errorf("list offsets of %s/%d: partition missing from the answer", topic, p)
	}
	off, n := max(from, first), 0
	for off < end {
		fr, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
		if err == nil {
			err = fr.Error
		}
		if err != nil {
			return fmt.Errorf("fetch %s/%d at %d: %w", topic, p, off, err)
		}
		read := 0
		for {
			rec, err := fr.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s/%d at %d: %w", topic, p, off, err)
			}
			if rec.Offset < off {
				continue // a batch can start before the offset asked for
			}
			if rec.Offset >= end {
				break
			}
			l, err := attemptRecord(topic, p, rec)
			if err != nil {
				return err
			}
			if err := emit(l); err != nil {
				return err
			}
			off, read, n = rec.Offset+1, read+1, n+1
			if count > 0 && n >= count {
				return nil
			}
		}
		if read == 0 {
			break // nothing left before the end (records deleted meanwhile)
		}
	}
	return nil
}

// attemptRecord decodes one record; an error is one of reading it from
// the broker, a record it cannot decode is a line with the reason.
func attemptRecord(topic string, p int, rec *kafka.Record) (*attemptLine, error) {
	key, err := kafka.ReadAll(rec.Key)
	if err != nil {
		return nil, fmt.Errorf("read key at %s/%d@%d: %w", topic, p, rec.Offset, err)
	}
	var val []byte
	if rec.Value != nil {
		if val, err = kafka.ReadAll(rec.Value); err != nil {
			return nil, fmt.Errorf("read value at %s/%d@%d: %w", topic, p, rec.Offset, err)
		}
	}
	l := &attemptLine{Topic: topic, Partition: p, Offset: rec.Offset, Key: string(key)}
	control := false
	for _, h := range rec.Headers {
		switch h.Key {
		case topics.HeaderControl:
			control = true
		case topics.HeaderSource:
			l.Source = string(h.Value)
		}
	}
	switch {
	case control && json.Valid(val):
		l.Control = val
	case control:
		l.Error = "command record: not JSON"
	default:
		a := new(event.Attempt)
		if err := topics.DecodeAttempt(val, a); err != nil {
			l.Error = "attempt record: " + err.Error()
		} else {
			l.Attempt, l.binary = a, val[0] == event.AttemptBinaryV1
		}
	}
	return l, nil
}
