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

// Scan reads partition of topic from its first offset up to the end it has
// when Scan starts, calling fn for each record in order (value nil for a
// tombstone). It returns the offset after the last record read. Scans are
// how compacted topics are turned back into tables.
func (c *Clients) Scan(ctx context.Context, topic string, partition int, fn func(offset int64, key, value []byte) error) (int64, error) {
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
			if err := fn(rec.Offset, key, val); err != nil {
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
