package processor

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/topics"
)

// Dead letters are written once per refused position, whatever crashes
// happen. A flush writes its DLQ records before it commits, so a crash in
// between makes the next owner replay the batch and refuse the same records
// again. Kafka has no transaction kafka-go could use, so the next owner
// reads back what the DLQ already holds of its partition before its first
// DLQ write: every record of one input partition goes to one DLQ partition
// (dlqPartition), and a record refused at or past the committed offset was
// written after that offset's record was produced, so reading the DLQ
// partition from that record's timestamp (less a margin for clocks) finds
// them all.

// dlqClockMargin allows for producers' clocks: a shipper's timestamp on the
// first replayed record may run ahead of the clock that stamped its dead
// letter. A dead letter missed this way is written twice, never lost.
const dlqClockMargin = time.Hour

// dlqScanLimit bounds the records read back; past it the rest may repeat.
const dlqScanLimit = 1_000_000

// dlqPartition is the DLQ partition every dead letter of an input (or
// attempts) partition goes to.
func dlqPartition(topic string, partition, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((h.Sum32() + uint32(partition)) % uint32(max(partitions, 1)))
}

// writeDead writes the dead letters of a batch of o's partition (first is
// the batch's first record) to the DLQ, leaving out those the DLQ already
// holds.
func (b *base) writeDead(ctx context.Context, o *owner, stage string, first *kafka.Message, dead []kafka.Message) error {
	if len(dead) == 0 {
		return nil
	}
	n, err := b.dlqPartitions(ctx)
	if err != nil {
		return err
	}
	dp := dlqPartition(o.topic, o.partition, n)
	if !o.dead.loaded {
		if err := b.loadDead(ctx, o, dp, first); err != nil {
			return err
		}
	}
	keep := dead[:0]
	for _, m := range dead {
		if off, err := strconv.ParseInt(topics.Header(&m, topics.HeaderOffset), 10, 64); err == nil && o.dead.at[off] {
			b.m.DLQRepeats.WithLabelValues(stage).Inc()
			continue
		}
		m.Partition = dp
		keep = append(keep, m)
	}
	return b.write(ctx, o, stage, "dlq", b.parts, keep)
}

// dlqPartitions is the DLQ's partition count.
func (b *base) dlqPartitions(ctx context.Context) (int, error) {
	var n int
	err := retry(ctx, b.log, func() {}, "dlq partitions", func(ctx context.Context) (err error) {
		n, err = b.conn.Partitions(ctx, b.dlqTopic)
		return err
	})
	return n, err
}

// loadDead reads back the DLQ records of o's partition at or past first's
// offset (where the claim started).
func (b *base) loadDead(ctx context.Context, o *owner, dp int, first *kafka.Message) error {
	seen := map[int64]bool{}
	part := strconv.Itoa(o.partition)
	err := retry(ctx, b.log, func() {}, "dlq read-back", func(ctx context.Context) error {
		clear(seen)
		from, err := b.conn.OffsetAfter(ctx, b.dlqTopic, dp, first.Time.Add(-dlqClockMargin))
		if err != nil {
			return err
		}
		read := 0
		_, err = b.conn.ScanRecords(ctx, b.dlqTopic, dp, from, func(_ int64, _, _ []byte, hs []kafka.Header) error {
			if read++; read > dlqScanLimit {
				return errScanLimit
			}
			m := kafka.Message{Headers: hs}
			if topics.Header(&m, topics.HeaderTopic) != o.topic || topics.Header(&m, topics.HeaderPartition) != part {
				return nil
			}
			if off, err := strconv.ParseInt(topics.Header(&m, topics.HeaderOffset), 10, 64); err == nil && off >= first.Offset {
				seen[off] = true
			}
			return nil
		})
		if err == errScanLimit {
			b.log.Warn("DLQ read-back stopped at its limit; records refused again may repeat in the DLQ",
				"topic", o.topic, "partition", o.partition, "limit", dlqScanLimit)
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("read back the DLQ of %s/%d: %w", o.topic, o.partition, err)
	}
	o.dead = deadSeen{loaded: true, at: seen}
	return nil
}

var errScanLimit = fmt.Errorf("scan limit of %d records reached", dlqScanLimit)
