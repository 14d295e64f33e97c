package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// Partitions returns the partition count of topic.
func (c *Clients) Partitions(ctx context.Context, topic string) (int, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: 30 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("metadata of %s: topic not found", topic)
}

// EndOffset returns the offset the next record produced to partition will
// get (the high watermark).
func (c *Clients) EndOffset(ctx context.Context, topic string, partition int) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: 30 * time.Second}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(partition)}},
	})
	if err != nil {
		return 0, fmt.Errorf("end offset of %s/%d: %w", topic, partition, err)
	}
	for _, po := range lo.Topics[topic] {
		if po.Partition == partition {
			if po.Error != nil {
				return 0, fmt.Errorf("end offset of %s/%d: %w", topic, partition, po.Error)
			}
			return po.LastOffset, nil
		}
	}
	return 0, fmt.Errorf("end offset of %s/%d: partition missing from the answer", topic, partition)
}

// Bounds returns the first offset partition still holds and its end
// offset (the high watermark).
func (c *Clients) Bounds(ctx context.Context, topic string, partition int) (first, end int64, err error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: 30 * time.Second}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, err)
	}
	for _, po := range lo.Topics[topic] {
		if po.Partition == partition {
			if po.Error != nil {
				return 0, 0, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, po.Error)
			}
			return po.FirstOffset, po.LastOffset, nil
		}
	}
	return 0, 0, fmt.Errorf("list offsets of %s/%d: partition missing from the answer", topic, partition)
}

// Scan reads partition of topic from its first offset up to the end it has
// when Scan starts, calling fn for each record in order (value nil for a
// tombstone). It returns the offset after the last record read. Scans are
// how compacted topics are turned back into tables.
func (c *Clients) Scan(ctx context.Context, topic string, partition int, fn func(offset int64, key, value []byte) error) (int64, error) {
	return c.ScanFrom(ctx, topic, partition, -1, fn)
}

// ErrOutOfRange is returned by ScanFrom when the offset to start from is not
// in the partition: before its first offset or after its end. A cache that
// remembered that offset belongs to another life of the topic.
var ErrOutOfRange = errors.New("offset out of range")

// ScanFrom is Scan from offset from (negative: the first offset).
func (c *Clients) ScanFrom(ctx context.Context, topic string, partition int, from int64, fn func(offset int64, key, value []byte) error) (int64, error) {
	return c.ScanRecords(ctx, topic, partition, from, func(offset int64, key, value []byte, _ []kafka.Header) error {
		return fn(offset, key, value)
	})
}

// OffsetAfter returns the first offset of partition whose record's
// timestamp is at or after t, or the end offset when there is none.
func (c *Clients) OffsetAfter(ctx context.Context, topic string, partition int, t time.Time) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: 30 * time.Second}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.TimeOffsetOf(partition, t)}},
	})
	if err != nil {
		return 0, fmt.Errorf("offset of %s/%d at %s: %w", topic, partition, t.Format(time.RFC3339), err)
	}
	for _, po := range lo.Topics[topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return 0, fmt.Errorf("offset of %s/%d at %s: %w", topic, partition, t.Format(time.RFC3339), po.Error)
		}
		for off := range po.Offsets {
			if off >= 0 {
				return off, nil
			}
		}
		return c.EndOffset(ctx, topic, partition)
	}
	return 0, fmt.Errorf("offset of %s/%d at %s: partition missing from the answer", topic, partition, t.Format(time.RFC3339))
}

// ScanRecords is ScanFrom with each record's headers.
func (c *Clients) ScanRecords(ctx context.Context, topic string, partition int, from int64, fn func(offset int64, key, value []byte, headers []kafka.Header) error) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport, Timeout: 30 * time.Second}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}},
	})
	if err != nil {
		return 0, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, err)
	}
	var first, end int64 = -1, -1
	for _, po := range lo.Topics[topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return 0, fmt.Errorf("list offsets of %s/%d: %w", topic, partition, po.Error)
		}
		first, end = po.FirstOffset, po.LastOffset
	}
	if first < 0 || end < 0 {
		return 0, fmt.Errorf("list offsets of %s/%d: partition missing from the answer", topic, partition)
	}
	off := first
	if from >= 0 {
		if from < first || from > end {
			return 0, fmt.Errorf("scan %s/%d from %d (partition holds %d..%d): %w", topic, partition, from, first, end, ErrOutOfRange)
		}
		off = from
	}
	for off < end {
		fr, err := client.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: off,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond,
		})
		if err != nil {
			return off, fmt.Errorf("fetch %s/%d at %d: %w", topic, partition, off, err)
		}
		if fr.Error != nil {
			return off, fmt.Errorf("fetch %s/%d at %d: %w", topic, partition, off, fr.Error)
		}
		n := 0
		for {
			rec, err := fr.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return off, fmt.Errorf("read %s/%d at %d: %w", topic, partition, off, err)
			}
			if rec.Offset < off {
				continue // a batch can start before the offset asked for
			}
			if rec.Offset >= end {
				break
			}
			key, err := kafka.ReadAll(rec.Key)
			if err != nil {
				return off, fmt.Errorf("read key at %s/%d@%d: %w", topic, partition, rec.Offset, err)
			}
			var val []byte
			if rec.Value != nil {
				if val, err = kafka.ReadAll(rec.Value); err != nil {
					return off, fmt.Errorf("read value at %s/%d@%d: %w", topic, partition, rec.Offset, err)
				}
			}
			if err := fn(rec.Offset, key, val, rec.Headers); err != nil {
				return off, err
			}
			off = rec.Offset + 1
			n++
		}
		if n == 0 {
			// Nothing between off and the end survived compaction.
			break
		}
	}
	return off, nil
}
