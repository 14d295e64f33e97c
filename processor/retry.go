package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// retry runs fn until it succeeds or ctx ends, backing off between tries.
// Outputs must be durable before offsets move, so a failing sink stops the
// partition here (backpressure) instead of buffering without bound.
func retry(ctx context.Context, log *slog.Logger, onRetry func(), what string, fn func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var uw *unwritableError
		if errors.Is(err, errFenced) || errors.As(err, &uw) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (gave up: %v)", what, err, ctx.Err())
		}
		onRetry()
		log.Warn("flush step failed; retrying", "step", what, "attempt", attempt, "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %v)", what, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// unwritableError names the records of a write that no retry can get
// written; retry gives up on it at once.
type unwritableError struct {
	bad map[int]error // by index in the write
	err error
}

func (e *unwritableError) Error() string {
	return fmt.Sprintf("%d records can never be written: %v", len(e.bad), e.err)
}

func (e *unwritableError) Unwrap() error { return e.err }

// flushContext is the context a worker flushes under: not the generation's
// (a flush that the revocation cancels half-way would waste the batch), but
// one that outlives it by the drain timeout, and that a hard stop ends.
func flushContext(hard, gctx context.Context, drain time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(hard)
	stop := context.AfterFunc(gctx, func() {
		t := time.AfterFunc(drain, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() { stop(); cancel() }
}
