package topics

import (
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// KeyLayout is the changelog key of the partition layout record: the
// partition count the changelog was last repartitioned to, and whether that
// move finished. `bounced repartition` writes it to every partition of the
// state topic, first unfinished, then finished; a changelog that was never
// repartitioned has none. Like KeyHolds and KeySources it holds no '@', so
// it is never an address.
const KeyLayout = "\x00layout"

// Layout is the value of a KeyLayout record.
type Layout struct {
	// Partitions is the partition count the states were moved to.
	Partitions int `json:"partitions"`
	// Complete is false while states are being moved: stage 2 refuses to
	// restore a partition whose latest layout is not complete, because some
	// of its recipients may still sit in another partition.
	Complete bool `json:"complete"`
}

// LayoutMessage is the changelog record of l for one partition.
func LayoutMessage(topic string, partition int, l Layout) (kafka.Message, error) {
	v, err := json.Marshal(l)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode layout: %w", err)
	}
	return kafka.Message{Topic: topic, Partition: partition, Key: []byte(KeyLayout), Value: v}, nil
}

// DecodeLayout reads the value of a KeyLayout record. An empty value (a
// tombstone) is the zero Layout: no repartition on record.
func DecodeLayout(b []byte) (Layout, error) {
	var l Layout
	if len(b) == 0 {
		return l, nil
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return Layout{}, fmt.Errorf("decode layout: %w", err)
	}
	if l.Partitions < 1 {
		return Layout{}, fmt.Errorf("decode layout: partitions %d, want at least 1", l.Partitions)
	}
	return l, nil
}

// PartitionOf is the partition of key among n, as stage 1's writer
// (kafka-go's Murmur2Balancer, the Java client's default partitioner)
// places it: murmur2 of the key, its sign bit cleared, modulo n.
func PartitionOf(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	return int(murmur2(key)&0x7fffffff) % n
}

// murmur2 is the Java client's hash (org.apache.kafka.common.utils.Utils.
// murmur2), as kafka-go's Murmur2Balancer computes it; TestPartitionOf pins
// it against the balancer.
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n := length / 4
	for i := range n {
		k := uint32(data[i*4]) | uint32(data[i*4+1])<<8 | uint32(data[i*4+2])<<16 | uint32(data[i*4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
