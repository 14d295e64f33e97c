package statestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// Partition is everything stage 2 knows about one attempts partition: its
// recipients, the input positions it applied, and the incident guard's
// holds and windows. One worker owns it at a time; it is complete up to
// changelog offset Next.
type Partition struct {
	Table *Table
	// Sources holds, per input partition ("topic/partition"), the highest
	// position applied (changelog key topics.KeySources).
	Sources map[string]topics.SourcePos
	// Holds are the incident guard's decisions (changelog key
	// topics.KeyHolds).
	Holds *guard.Holds
	// Guard is the guard's running state (its windows, in memory only),
	// built around Holds by the first fold.
	Guard *guard.Guard
	// Layout is the changelog's partition layout (changelog key
	// topics.KeyLayout) as of Next: the zero Layout for a changelog never
	// repartitioned.
	Layout topics.Layout
	// Next is the changelog offset the state is complete up to; -1 before
	// any read.
	Next int64
	// Saved is when the last local checkpoint was written.
	Saved time.Time
}

// NewPartition returns the state of a partition never seen.
func NewPartition() *Partition {
	return &Partition{Table: NewTable(0), Sources: map[string]topics.SourcePos{}, Holds: guard.NewHolds(), Next: -1}
}

// Scanner reads a topic partition from an offset to its end (broker.Clients
// does, over the real protocol).
type Scanner interface {
	ScanFrom(ctx context.Context, topic string, partition int, from int64, fn func(offset int64, key, value []byte) error) (int64, error)
}

// CatchUp reads the changelog partition from p.Next to its end into p and
// returns how many records it read. The changelog is compacted and holds
// absolute states, so the last record per key wins and tombstones delete:
// reading a tail over a checkpoint gives the same state as reading the
// whole partition. A Next beyond the changelog's end is refused (the state
// belongs to another life of the topic; see broker.ErrOutOfRange).
//
// A repartition (`bounced repartition`) is the exception: it moves
// recipients out of the partition with tombstones, and compaction may have
// dropped those tombstones by the time a member restores from a checkpoint
// taken before the move; that checkpoint would bring back recipients the
// partition no longer owns. So when the tail holds a layout record
// (topics.KeyLayout) with another partition count than the state started
// from, CatchUp drops the state and reads the whole partition instead. A
// partition whose latest layout is not complete (a move under way or
// stopped half-way) is refused with ErrRepartitioning.
func (p *Partition) CatchUp(ctx context.Context, sc Scanner, topic string, partition int) (int, error) {
	records, err := p.catchUp(ctx, sc, topic, partition, p.Next >= 0)
	if errors.Is(err, errLayoutChanged) {
		*p = *NewPartition()
		records, err = p.catchUp(ctx, sc, topic, partition, false)
	}
	if err != nil {
		return records, err
	}
	if p.Layout.Partitions > 0 && !p.Layout.Complete {
		return records, fmt.Errorf("%w: %s/%d is being moved to %d partitions and the move did not finish; run `bounced repartition --partitions %d` again",
			ErrRepartitioning, topic, partition, p.Layout.Partitions, p.Layout.Partitions)
	}
	return records, nil
}

// ErrRepartitioning is returned by CatchUp for a changelog partition whose
// repartition has not finished.
var ErrRepartitioning = errors.New("changelog repartition under way")

// errLayoutChanged stops a tail read that met another layout than the
// state it started from.
var errLayoutChanged = errors.New("changelog layout changed")

// catchUp is CatchUp's read; with tail set, a layout record with another
// partition count than p's ends it with errLayoutChanged.
func (p *Partition) catchUp(ctx context.Context, sc Scanner, topic string, partition int, tail bool) (int, error) {
	records := 0
	var st streak.State
	next, err := sc.ScanFrom(ctx, topic, partition, p.Next, func(off int64, key, val []byte) error {
		records++
		switch string(key) {
		case topics.KeyHolds:
			h, err := guard.DecodeHolds(val)
			if err != nil {
				return fmt.Errorf("holds %s/%d@%d: %w", topic, partition, off, err)
			}
			p.Holds = h
		case topics.KeySources:
			s, err := topics.DecodeSources(val)
			if err != nil {
				return fmt.Errorf("source positions %s/%d@%d: %w", topic, partition, off, err)
			}
			p.Sources = s
		case topics.KeyLayout:
			l, err := topics.DecodeLayout(val)
			if err != nil {
				return fmt.Errorf("layout %s/%d@%d: %w", topic, partition, off, err)
			}
			if tail && l.Partitions != p.Layout.Partitions {
				return errLayoutChanged
			}
			p.Layout = l
		default:
			if val == nil {
				p.Table.Delete(string(key))
				return nil
			}
			if err := st.UnmarshalBinary(val); err != nil {
				// A record we cannot read would silently reset a
				// recipient; refuse instead so that an operator looks.
				return fmt.Errorf("state record %s/%d@%d for %q: %w", topic, partition, off, key, err)
			}
			p.Table.PutBytes(key, st)
		}
		return nil
	})
	if err != nil {
		return records, err
	}
	p.Next = next
	return records, nil
}

// Checkpoints are the local checkpoint files of one changelog topic's
// partitions under a directory; the zero value (no Dir) keeps none.
type Checkpoints struct {
	Dir   string // data_dir; checkpoints live in Dir/decide-state
	Topic string // the changelog topic
}

func (c Checkpoints) path(partition int) string {
	if c.Dir == "" {
		return ""
	}
	return filepath.Join(c.Dir, "decide-state", fmt.Sprintf("%s-%d.ckpt", c.Topic, partition))
}

// meta is stage 2's part of a checkpoint besides the table.
type meta struct {
	Sources map[string]topics.SourcePos `json:"sources"`
	Holds   *guard.Holds                `json:"holds,omitempty"`
	// Layout is the changelog layout the table was built under; absent in
	// checkpoints written before repartitioning existed, which are then
	// of a changelog never repartitioned (CatchUp tells if it was since).
	Layout *topics.Layout `json:"layout,omitempty"`
}

// Save writes p as the partition's checkpoint; p.Next must be the
// changelog's end offset after p's last write. Without a directory, or
// before p was ever read from the changelog, it does nothing.
func (c Checkpoints) Save(partition int, p *Partition) error {
	path := c.path(partition)
	if path == "" || p.Next < 0 {
		return nil
	}
	md := meta{Sources: p.Sources, Holds: p.Holds}
	if p.Layout.Partitions > 0 {
		md.Layout = &p.Layout
	}
	m, err := json.Marshal(md)
	if err != nil {
		return err
	}
	if err := Save(path, p.Table, Checkpoint{Topic: c.Topic, Partition: partition, Offset: p.Next, Meta: m}); err != nil {
		return err
	}
	p.Saved = time.Now()
	return nil
}

// Load reads the partition's checkpoint; (nil, nil) when there is none.
// A checkpoint of another topic or partition, or a damaged one, is an
// error: the caller restores from the changelog alone.
func (c Checkpoints) Load(partition int) (*Partition, error) {
	path := c.path(partition)
	if path == "" {
		return nil, nil
	}
	t, ck, err := Load(path)
	if errors.Is(err, ErrNoCheckpoint) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if ck.Topic != c.Topic || ck.Partition != partition {
		return nil, fmt.Errorf("checkpoint %s is of %s/%d", path, ck.Topic, ck.Partition)
	}
	var m meta
	if err := json.Unmarshal(ck.Meta, &m); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	p := &Partition{Table: t, Sources: m.Sources, Holds: guard.NewHolds(), Next: ck.Offset, Saved: time.Now()}
	if m.Holds != nil && m.Holds.Domains != nil {
		p.Holds = m.Holds
	}
	if p.Sources == nil {
		p.Sources = map[string]topics.SourcePos{}
	}
	if m.Layout != nil {
		p.Layout = *m.Layout
	}
	return p, nil
}

// Keeper holds the states of the partitions a member owned in its last
// generation. kafka-go's group rebalances eagerly: every member gives up
// every partition and is handed its new set, usually the same. A worker
// that gives a partition up cleanly leaves its state here, and the next
// worker on that partition takes it and reads only the changelog written
// since (nothing, when the partition did not move).
type Keeper struct {
	mu    sync.Mutex
	parts map[int]*Partition
}

// Put keeps p for the next worker on partition.
func (k *Keeper) Put(partition int, p *Partition) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.parts == nil {
		k.parts = map[int]*Partition{}
	}
	k.parts[partition] = p
}

// Take returns the kept state of partition, or nil, and forgets it.
func (k *Keeper) Take(partition int) *Partition {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.parts[partition]
	delete(k.parts, partition)
	return p
}

// Release forgets the kept states of partitions not in assigned and hands
// each to drop (which checkpoints it: nothing modifies a kept state).
func (k *Keeper) Release(assigned []int, drop func(partition int, p *Partition)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for part, p := range k.parts {
		if slices.Contains(assigned, part) {
			continue
		}
		delete(k.parts, part)
		drop(part, p)
	}
}
