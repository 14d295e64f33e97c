package broker

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/topics"
)

// NewWriter returns the synchronous, acks=all writer bounced produces keyed
// records with. Keys are partitioned with murmur2, as Java clients do, so
// anyone can compute which attempts partition owns an address.
func (c *Clients) NewWriter() *kafka.Writer { return c.writer(&kafka.Murmur2Balancer{}) }

// NewPartitionWriter returns a writer that sends each record to the
// partition it names (Message.Partition): the changelog is co-partitioned
// with the attempts topic, and domain commands go to every partition.
func (c *Clients) NewPartitionWriter() *kafka.Writer {
	return c.writer(kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }))
}

// NewInputWriter is NewWriter for records bound for input topics, whose
// limits are the shipper's, not kafka.max_message_bytes: the demo, the
// bench and tests produce oversized records on purpose, for the broker or
// stage 1 to refuse.
func (c *Clients) NewInputWriter() *kafka.Writer {
	w := c.writer(&kafka.Murmur2Balancer{})
	w.BatchBytes = 16 << 20
	return w
}

func (c *Clients) writer(b kafka.Balancer) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Transport:    c.Transport,
		Balancer:     b,
		RequiredAcks: kafka.RequireAll,
		// kafka-go allocates every batch at BatchSize messages up front
		// (about 160 bytes each): 10000 cost 1.6 MB per partition per
		// flush, 15% of all bytes allocated in `bounced bench`. A flush
		// larger than this goes as several requests.
		BatchSize:    1000,
		BatchBytes:   int64(topics.BatchBudget(c.MaxMessageBytes)),
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		WriteTimeout: 30 * time.Second,
	}
}
