package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

// HeaderSource marks each attempt with the input position stage 1 made it
// from: "topic/partition/offset/index" (index counts the attempts one input
// record yielded). Stage 2 keeps, per attempts partition, the highest
// position applied from each input partition, so attempts that stage 1
// produced again after a crash are recognised and skipped.
const HeaderSource = "bounced.src"

// sourcesKey is the changelog key of a partition's source positions; it
// cannot be an address (no '@').
const sourcesKey = "\x00sources"

// srcPos is a position in an input partition.
type srcPos struct {
	Off int64 `json:"o"`
	Idx int   `json:"i"`
}

func (a srcPos) after(b srcPos) bool { return a.Off > b.Off || a.Off == b.Off && a.Idx > b.Idx }

// parseSource splits a HeaderSource value into its input partition and
// position.
func parseSource(v string) (string, srcPos, bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return "", srcPos{}, false
	}
	j := strings.LastIndexByte(v[:i], '/')
	if j < 0 {
		return "", srcPos{}, false
	}
	off, err1 := strconv.ParseInt(v[j+1:i], 10, 64)
	idx, err2 := strconv.Atoi(v[i+1:])
	if err1 != nil || err2 != nil {
		return "", srcPos{}, false
	}
	return v[:j], srcPos{Off: off, Idx: idx}, true
}

func sourceValue(topic string, partition int, offset int64, index int) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10) + "/" + strconv.Itoa(index)
}

// partState is one attempts partition's recipients and input positions,
// complete up to changelog offset next.
type partState struct {
	table   *statestore.Table
	sources map[string]srcPos
	holds   *holds    // the incident guard's decisions (changelog key holdsKey)
	guard   *guard    // the guard's windows; built on assignment around holds
	next    int64     // changelog offset the state is complete up to; -1 before any read
	saved   time.Time // when the last local checkpoint was written
}

func newPartState() *partState {
	return &partState{table: statestore.NewTable(0), sources: map[string]srcPos{}, holds: newHolds(), next: -1}
}

// catchUp reads the changelog partition from ps.next to its end into ps.
// The changelog is compacted and holds absolute states, so the last record
// per key wins and tombstones delete; reading a tail over a checkpoint
// gives the same table as reading the whole partition.
func catchUp(ctx context.Context, conn *broker.Clients, topic string, partition int, ps *partState) (int, error) {
	records := 0
	var st streak.State
	next, err := conn.ScanFrom(ctx, topic, partition, ps.next, func(off int64, key, val []byte) error {
		records++
		if string(key) == holdsKey {
			h := newHolds()
			if val != nil {
				if err := json.Unmarshal(val, h); err != nil {
					return fmt.Errorf("holds %s/%d@%d: %w", topic, partition, off, err)
				}
				if h.Domains == nil {
					h.Domains = map[string]*hold{}
				}
			}
			ps.holds = h
			return nil
		}
		if string(key) == sourcesKey {
			if val == nil {
				clear(ps.sources)
				return nil
			}
			if err := json.Unmarshal(val, &ps.sources); err != nil {
				return fmt.Errorf("source positions %s/%d@%d: %w", topic, partition, off, err)
			}
			return nil
		}
		if val == nil {
			ps.table.Delete(string(key))
			return nil
		}
		if err := st.UnmarshalBinary(val); err != nil {
			// A record we cannot read would silently reset a recipient;
			// refuse instead so that an operator looks.
			return fmt.Errorf("state record %s/%d@%d for %q: %w", topic, partition, off, key, err)
		}
		ps.table.PutBytes(key, st)
		return nil
	})
	if err != nil {
		return records, err
	}
	ps.next = next
	return records, nil
}

// keeper holds the states of the partitions a member owned in its last
// generation. kafka-go's group rebalances eagerly: every member gives up
// every partition and is handed its new set, usually the same. A worker
// that gives a partition up cleanly leaves its state here, and the next
// worker on that partition takes it and reads only the changelog written
// since (nothing, when the partition did not move). Partitions that moved
// away are checkpointed to disk and dropped.
type keeper struct {
	p     *Pipeline
	mu    sync.Mutex
	parts map[int]*partState
}

func (k *keeper) put(partition int, ps *partState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.parts[partition] = ps
}

func (k *keeper) take(partition int) *partState {
	k.mu.Lock()
	defer k.mu.Unlock()
	ps := k.parts[partition]
	delete(k.parts, partition)
	return ps
}

// release drops the kept states of partitions not in the new assignment,
// checkpointing them first (in the background: nothing modifies a kept
// state, and the file is replaced atomically).
func (k *keeper) release(assigned []int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for part, ps := range k.parts {
		if slices.Contains(assigned, part) {
			continue
		}
		delete(k.parts, part)
		go k.p.checkpoint(part, ps)
	}
}

// checkpointPath is where partition's local checkpoint lives; empty when
// the pipeline has no state directory.
func (p *Pipeline) checkpointPath(partition int) string {
	if p.deps.StateDir == "" {
		return ""
	}
	return filepath.Join(p.deps.StateDir, "decide-state", fmt.Sprintf("%s-%d.ckpt", p.topics.State, partition))
}

// checkpoint writes ps to the partition's local checkpoint. ps.next must
// be the changelog's end offset after the state's last write.
func (p *Pipeline) checkpoint(partition int, ps *partState) {
	path := p.checkpointPath(partition)
	if path == "" || ps.next < 0 {
		return
	}
	meta, err := json.Marshal(checkpointMeta{Sources: ps.sources, Holds: ps.holds})
	if err == nil {
		err = statestore.Save(path, ps.table, statestore.Checkpoint{Topic: p.topics.State, Partition: partition, Offset: ps.next, Meta: meta})
	}
	if err != nil {
		p.m.Checkpoints.WithLabelValues("error").Inc()
		p.log.Warn("state checkpoint not written; a restart reads more of the changelog", "partition", partition, "err", err)
		return
	}
	ps.saved = time.Now()
	p.m.Checkpoints.WithLabelValues("ok").Inc()
}

// checkpointMeta is stage 2's part of a checkpoint besides the table.
type checkpointMeta struct {
	Sources map[string]srcPos `json:"sources"`
	Holds   *holds            `json:"holds,omitempty"`
}

// loadCheckpoint reads the partition's local checkpoint, or returns nil.
func (p *Pipeline) loadCheckpoint(partition int) *partState {
	path := p.checkpointPath(partition)
	if path == "" {
		return nil
	}
	t, c, err := statestore.Load(path)
	if errors.Is(err, statestore.ErrNoCheckpoint) {
		return nil
	}
	if err == nil && (c.Topic != p.topics.State || c.Partition != partition) {
		err = fmt.Errorf("it is of %s/%d", c.Topic, c.Partition)
	}
	ps := &partState{table: t, holds: newHolds(), next: c.Offset, saved: time.Now()}
	if err == nil {
		var meta checkpointMeta
		if err = json.Unmarshal(c.Meta, &meta); err == nil {
			ps.sources = meta.Sources
			if meta.Holds != nil && meta.Holds.Domains != nil {
				ps.holds = meta.Holds
			}
		}
		if ps.sources == nil {
			ps.sources = map[string]srcPos{}
		}
	}
	if err != nil {
		p.log.Warn("state checkpoint unusable; restoring from the changelog alone", "file", path, "err", err)
		return nil
	}
	return ps
}
