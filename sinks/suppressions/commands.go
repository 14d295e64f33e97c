package suppressions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
)

// Send writes an operator command to the attempts topic, keyed by the
// normalised address so that it reaches the stage-2 worker that owns the
// address, after every event already queued for it. It returns the address
// as normalised.
func Send(ctx context.Context, w *kafka.Writer, attemptsTopic string, op streak.Op, address, reason, by string, now time.Time) (string, error) {
	norm, _, err := ingest.NormaliseAddress(address)
	if err != nil {
		return "", err
	}
	c := streak.Control{Op: op, Address: norm, Reason: reason, By: by, At: now.UTC()}
	v, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	msg := kafka.Message{
		Topic: attemptsTopic, Key: []byte(norm), Value: v,
		Headers: []kafka.Header{{Key: processor.ControlHeader, Value: []byte(op)}},
	}
	if err := w.WriteMessages(ctx, msg); err != nil {
		return "", fmt.Errorf("send %s for %s: %w", op, norm, err)
	}
	return norm, nil
}
