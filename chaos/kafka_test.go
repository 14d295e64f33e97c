package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/topics"
)

// Topic and group names: the defaults every process here runs with.
const (
	inputTopic    = "bounced.input"
	attemptsTopic = "bounced.attempts"
	dlqTopic      = "bounced.dlq"
	suppTopic     = "bounced.suppressions"
	ingestGroup   = "bounced-ingest"
	decideGroup   = "bounced-decide"
)

// kafkaClient is the test's own client of a broker process: a producer
// standing in for the shippers, and kadm for lag.
type kafkaClient struct {
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
}

func newKafka(addr string) (*kafkaClient, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("bounced-chaos"),
		kgo.ProducerBatchMaxBytes(16<<20), // the demo's too_large record is 2 MiB
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	return &kafkaClient{addr: addr, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (k *kafkaClient) close() { k.cl.Close() }

// produce writes records to the input topic keyed by MTA host, as a
// shipper does, in order, each chunk acknowledged before the next.
func (k *kafkaClient) produce(ctx context.Context, recs []demo.Record) error {
	const chunk = 5000
	for i := 0; i < len(recs); i += chunk {
		batch := make([]*kgo.Record, 0, chunk)
		for _, r := range recs[i:min(i+chunk, len(recs))] {
			batch = append(batch, &kgo.Record{Topic: inputTopic, Key: []byte(r.Host), Value: r.Value})
		}
		if err := k.cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return fmt.Errorf("produce records %d..%d: %w", i, i+len(batch), err)
		}
	}
	return nil
}

// position is how far both stages have committed.
type position struct {
	InEnd, InDone   int64 // input records, and those stage 1 has committed
	AttEnd, AttDone int64 // attempts records, and those stage 2 has committed
}

func (p position) String() string {
	return fmt.Sprintf("ingest %d/%d, decide %d/%d", p.InDone, p.InEnd, p.AttDone, p.AttEnd)
}

// fraction is the share of the attempts stage 2 has committed: the
// stateful stage, and the slower one, so the share of the run's time
// behind it too. Stage 1 keeps pace with an input that keeps arriving.
func (p position) fraction(attempts int) float64 {
	return float64(min(p.AttDone, int64(attempts))) / float64(attempts)
}

func (k *kafkaClient) position(ctx context.Context) (position, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var p position
	var err error
	if p.InEnd, p.InDone, err = k.committed(ctx, ingestGroup, inputTopic); err != nil {
		return p, err
	}
	if p.AttEnd, p.AttDone, err = k.committed(ctx, decideGroup, attemptsTopic); err != nil {
		return p, err
	}
	return p, nil
}

// committed returns the sum of the topic's end offsets and of the group's
// committed offsets on it (each capped at its partition's end).
func (k *kafkaClient) committed(ctx context.Context, group, topic string) (end, done int64, err error) {
	ends, err := k.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	offs, err := k.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		offs, err = nil, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		end += o.Offset
		if c, ok := offs.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At > 0 {
			done += min(c.At, o.Offset)
		}
	})
	return end, done, nil
}

// dlq is what the dead-letter topic holds: each refused input position
// once (with its reason), and how many records it took.
type dlq struct {
	Positions map[string]string // "topic/partition/offset" → reason
	Records   int
}

// readDLQ reads the whole dead-letter topic.
func (k *kafkaClient) readDLQ(ctx context.Context) (dlq, error) {
	out := dlq{Positions: map[string]string{}}
	ends, err := k.adm.ListEndOffsets(ctx, dlqTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return out, fmt.Errorf("end offsets of %s: %w", dlqTopic, err)
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{dlqTopic: parts}),
		kgo.FetchMaxBytes(32<<20))
	if err != nil {
		return out, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("read %s: %w", dlqTopic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			pos := h[topics.HeaderTopic] + "/" + h[topics.HeaderPartition] + "/" + h[topics.HeaderOffset]
			out.Positions[pos] = h[topics.HeaderReason]
			out.Records++
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}

// describe reports both groups' members with their assignments and the
// lag per partition: what a stalled wait needs to be understood.
func (k *kafkaClient) describe(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var b strings.Builder
	groups, err := k.adm.DescribeGroups(ctx, ingestGroup, decideGroup)
	if err != nil {
		fmt.Fprintf(&b, "describe groups: %v\n", err)
	}
	for _, g := range groups.Sorted() {
		fmt.Fprintf(&b, "group %s: state %s, %d members\n", g.Group, g.State, len(g.Members))
		for _, m := range g.Members {
			var parts []string
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range ca.Topics {
					parts = append(parts, fmt.Sprintf("%s%v", t.Topic, t.Partitions))
				}
			}
			fmt.Fprintf(&b, "  member %s (client %s at %s): %s\n", m.MemberID, m.ClientID, m.ClientHost, strings.Join(parts, " "))
		}
	}
	for _, gt := range [][2]string{{ingestGroup, inputTopic}, {decideGroup, attemptsTopic}} {
		ends, err := k.adm.ListEndOffsets(ctx, gt[1])
		if err != nil {
			fmt.Fprintf(&b, "end offsets of %s: %v\n", gt[1], err)
			continue
		}
		offs, _ := k.adm.FetchOffsets(ctx, gt[0])
		fmt.Fprintf(&b, "%s on %s, committed/end per partition:", gt[0], gt[1])
		var parts []string
		ends.Each(func(o kadm.ListedOffset) {
			c, _ := offs.Lookup(o.Topic, o.Partition)
			parts = append(parts, fmt.Sprintf(" %d:%d/%d", o.Partition, c.At, o.Offset))
		})
		slices.Sort(parts)
		b.WriteString(strings.Join(parts, ""))
		b.WriteString("\n")
	}
	return b.String()
}
