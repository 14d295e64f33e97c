package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// lag is how many records of topics group has not committed yet.
func lag(ctx context.Context, adm *kadm.Client, group string, topics ...string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	if err := ends.Error(); err != nil {
		return 0, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // the group has not committed anything yet
	}
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		at := int64(0)
		if ok && c.Err == nil && c.At >= 0 {
			at = c.At
		}
		if o.Offset > at {
			total += o.Offset - at
		}
	})
	return total, nil
}

// waitDrained blocks until both stages have committed everything in their
// topics: every input record is an attempt or a DLQ record, and every
// attempt is folded, stored and its state written.
func waitDrained(ctx context.Context, e *env, progress func(ingest, decide int64)) error {
	tc := e.cfg.Kafka.Topics.WithDefaults()
	pc := e.cfg.Pipeline.WithDefaults()
	stable := 0
	for {
		li, err := lag(ctx, e.adm, pc.IngestGroup, tc.Input...)
		if err != nil {
			return err
		}
		ld, err := lag(ctx, e.adm, pc.DecideGroup, tc.Attempts)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(li, ld)
		}
		if li == 0 && ld == 0 {
			stable++
			if stable >= 2 {
				return nil
			}
		} else {
			stable = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
