package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
)

// partitionWorker processes one owned partition until ctx (the generation)
// ends, then drains and returns. offset is the committed offset or
// kafka.FirstOffset.
type partitionWorker func(ctx context.Context, o *owner, offset int64)

// runGroup joins a consumer group and runs a worker per owned partition for
// every generation until ctx is cancelled. kafka-go waits for every worker to
// return before it rejoins: that is where workers flush before revocation.
func runGroup(ctx context.Context, conn *broker.Clients, id string, topics []string, sessionTimeout time.Duration,
	log *slog.Logger, assigned func(partitions []int), work partitionWorker) error {
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                id,
		Brokers:           conn.Brokers,
		Dialer:            conn.Dialer,
		Topics:            topics,
		SessionTimeout:    sessionTimeout,
		HeartbeatInterval: sessionTimeout / 5,
		RebalanceTimeout:  30 * time.Second,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		Timeout:           10 * time.Second,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { log.Debug("group: " + fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", id, err)
	}
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	defer g.Close()
	for {
		gen, err := g.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			assigned(nil)
			return nil
		case err != nil:
			log.Warn("consumer group: joining failed; retrying", "group", id, "err", err)
			continue
		}
		// One lease per generation: every worker's commits prove the
		// member alive for all of them.
		l := newLease(sessionTimeout)
		var ids []int
		for topic, parts := range gen.Assignments {
			for _, p := range parts {
				ids = append(ids, p.ID)
				o := &owner{gen: gen, lease: l, topic: topic, partition: p.ID, pos: p.Offset}
				gen.Start(func(gctx context.Context) { work(gctx, o, p.Offset) })
			}
		}
		assigned(ids)
		log.Info("consumer group: generation started", "group", id, "generation", gen.ID, "member", gen.MemberID, "partitions", len(ids))
	}
}

// batcher reads one partition in batches bounded by size and time.
type batcher struct {
	r        fetcher
	size     int // most records in a batch
	bytes    int // a batch ends once its records' keys and values reach this many bytes
	interval time.Duration
	// idle, when not 0, makes next return an empty batch after this long
	// without a record, so that the worker's chores between batches (stage
	// 2's expiries) run on a quiet partition too.
	idle time.Duration
}

// fetcher is what batcher needs of a *kafka.Reader.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	Lag() int64
	Close() error
}

func newBatcher(conn *broker.Clients, topic string, partition int, offset int64, cfg Config, skipped func(string)) (*batcher, error) {
	size, readAhead := cfg.BatchSize, cfg.ReadAheadBytes
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   conn.Brokers,
		Dialer:    conn.Dialer,
		Topic:     topic,
		Partition: partition,
		MinBytes:  1,
		// The read-ahead: one fetch of at most readAhead bytes streams
		// into a queue of about as many bytes of records. kafka-go
		// decodes each record into its own buffers, so the queue, not
		// the fetch size, is what holds memory during a backlog.
		MaxBytes:       readAhead,
		MaxWait:        500 * time.Millisecond, // bounds Close() on revocation
		QueueCapacity:  min(max(readAhead/512, 64), size, 10000),
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			if strings.HasPrefix(msg, "the kafka reader is reading before the first offset") {
				skipped(fmt.Sprintf(msg, args...))
			}
		}),
	})
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	if err := r.SetOffset(offset); err != nil {
		r.Close()
		return nil, fmt.Errorf("seek %s/%d to %d: %w", topic, partition, offset, err)
	}
	return &batcher{r: r, size: size, bytes: cfg.BatchBytes, interval: cfg.FlushInterval}, nil
}

// next fills buf with up to size records or bytes, returning when it is
// full, when its window (windowEnd) closes, or when ctx ends; with idle
// set, also empty once idle passes without a record.
// Errors other than ctx's are returned after the records gathered so far.
func (b *batcher) next(ctx context.Context, buf []kafka.Message) ([]kafka.Message, error) {
	clear(buf) // the last batch's records must not outlive it
	buf = buf[:0]
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle *time.Timer
	if b.idle > 0 {
		idle = time.AfterFunc(b.idle, cancel)
		defer idle.Stop()
	}
	n := 0
	for len(buf) < b.size && n < b.bytes {
		m, err := b.r.FetchMessage(wctx)
		if err != nil {
			if wctx.Err() != nil {
				return buf, nil // the window closed or the generation ended
			}
			return buf, err
		}
		if len(buf) == 0 {
			if idle != nil {
				// A record came: the batch's window bounds it now. Should
				// the idle timer have fired already, the batch ends with
				// this record.
				idle.Stop()
			}
			t := time.AfterFunc(windowEnd(time.Now(), b.interval), cancel)
			defer t.Stop()
		}
		buf = append(buf, m)
		n += len(m.Key) + len(m.Value)
	}
	return buf, nil
}

// windowEnd is how long a batch whose first record came at now stays open:
// until the first multiple of interval on the wall clock that is at least
// half an interval away, so between 0.5 and 1.5 intervals. Every worker of
// the process shares these instants, so partitions that are not in a
// backlog flush together and the ClickHouse group commit sends their rows
// in one INSERT per table instead of one per partition: fewer, larger parts.
func windowEnd(now time.Time, interval time.Duration) time.Duration {
	if interval <= 0 {
		return interval
	}
	earliest := now.Add(interval / 2)
	end := earliest.Truncate(interval)
	if end.Before(earliest) {
		end = end.Add(interval)
	}
	return end.Sub(now)
}

func (b *batcher) lag() int64 { return b.r.Lag() }

func (b *batcher) close() error { return b.r.Close() }
