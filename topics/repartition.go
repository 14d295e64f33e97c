package topics

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/streak"
)

// This file plans the move of a state changelog to more partitions (`bounced
// repartition`). The plan is a pure function of what the changelog holds
// now, so a run stopped half-way is finished by running it again: the
// states already moved are where they belong, and only what is left moves.

// ChangelogPartition is what one partition of the state changelog holds
// once read to its end: the latest record of each key, as compaction would
// leave it.
type ChangelogPartition struct {
	// States maps each recipient to its latest state record (deleted
	// recipients are absent).
	States map[string][]byte
	// Sources are the input positions stage 2 applied on the partition
	// (KeySources); nil when there are none.
	Sources map[string]SourcePos
	// Holds are the incident guard's holds (KeyHolds); nil when none.
	Holds *guard.Holds
	// Layout is the latest KeyLayout record; zero when there is none.
	Layout Layout
}

// Move is one recipient's state leaving a partition it no longer belongs to.
type Move struct {
	Key      string
	From, To int
	// Value is the state record to write at To (MovedState of the old
	// one).
	Value []byte
	// Write is false when To already holds the record (a run stopped
	// between the write and the tombstone): only the tombstone is left.
	Write bool
}

// Plan is the work of moving a changelog to Partitions partitions.
type Plan struct {
	Partitions int
	// States counts the recipients the changelog holds.
	States int
	// Moves lists every state not where murmur2 puts it, by old partition
	// and key.
	Moves []Move
	// Counts counts Moves per old and new partition.
	Counts map[[2]int]int
	// Conflicts counts keys found in more than one partition with
	// different values; the copy in the partition the key belongs to (or
	// else the first one found) wins. Nothing but a pipeline running during
	// a move makes them.
	Conflicts int
	// Sources are the input positions every partition gets.
	Sources map[string]SourcePos
	// Holds are the holds each partition gets, indexed by partition.
	Holds []*guard.Holds
}

// PlanRepartition computes the move of parts (the changelog's partitions as
// they are, len(parts) <= n; missing ones are empty) to n partitions.
//
// States go to PartitionOf(key, n), the partition stage 1 will write the
// recipient's attempts to, rewritten by MovedState.
//
// Input positions: stage 2 keeps, per attempts partition, the highest
// position it applied from each input partition, and skips an attempt at or
// below it (stage 1 wrote it before, then crashed before committing, and
// wrote it again). Every partition gets the highest position any partition
// applied, per input partition. The pipeline is drained before a move
// (stage 1 committed every input record, stage 2 every attempt), so every
// attempt at or below that maximum was already applied somewhere; and every
// attempt stage 1 writes after the move comes from an input offset at or
// past its committed offset, which lies past the maximum, so it is applied.
// Taking the lowest instead would apply nothing twice only because nothing
// is replayed; the highest also holds after a stage-1 crash later, and a new
// partition with no positions at all would be the same as the highest here.
//
// Holds: a hold is a decision about a whole domain that every attempts
// partition applied (domain commands go to all of them), so every
// partition, new ones too, holds every domain any partition held (since the
// earliest Since, with that hold's rule). The recipients whose suppressions
// are held go to the partition their state moves to: a release or discard
// acts on the held recipients of each partition. Each partition keeps its
// own Off, the attempts offset of the last domain command it applied: it
// compares with that partition's offsets only, and a new partition has
// none (-1).
func PlanRepartition(parts []ChangelogPartition, n int) (*Plan, error) {
	if n < 1 || len(parts) > n {
		return nil, fmt.Errorf("plan repartition: %d partitions cannot hold the %d there are", n, len(parts))
	}
	p := &Plan{Partitions: n, Counts: map[[2]int]int{}, Sources: map[string]SourcePos{}}
	moved := map[string][]byte{} // key -> the value written to its partition by this plan
	for from, part := range parts {
		keys := make([]string, 0, len(part.States))
		for k := range part.States {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := part.States[k]
			to := PartitionOf([]byte(k), n)
			if to == from {
				p.States++
				continue
			}
			v, err := MovedState(v)
			if err != nil {
				return nil, fmt.Errorf("plan repartition: the state of %q in partition %d: %w", k, from, err)
			}
			m := Move{Key: k, From: from, To: to, Value: v, Write: true}
			if to < len(parts) {
				if there, ok := parts[to].States[k]; ok {
					// Written before a stop; the partition it belongs to is
					// the recipient's owner from now on.
					m.Write = false
					if !bytes.Equal(there, v) {
						p.Conflicts++
					}
				}
			}
			if m.Write {
				if first, ok := moved[k]; ok {
					m.Write = false
					if !bytes.Equal(first, v) {
						p.Conflicts++
					}
				} else {
					moved[k] = v
					p.States++
				}
			}
			p.Moves = append(p.Moves, m)
			p.Counts[[2]int{from, to}]++
		}
	}
	for _, part := range parts {
		for src, pos := range part.Sources {
			if cur, ok := p.Sources[src]; !ok || pos.After(cur) {
				p.Sources[src] = pos
			}
		}
	}
	p.Holds = planHolds(parts, n)
	return p, nil
}

// MovedState is the state record v as it goes to another partition: the
// same state but for LastOff, the offset of the last attempt applied, which
// counts in the old partition's offsets. Every attempt the recipient gets
// in its new partition comes after the move, so the moved state has
// applied none there (-1); keeping the old offset would make the new
// partition skip every attempt below it as a replay. Rewriting a moved
// record again gives the same bytes, so a second run recognises its own
// writes.
func MovedState(v []byte) ([]byte, error) {
	var st streak.State
	if err := st.UnmarshalBinary(v); err != nil {
		return nil, err
	}
	st.LastOff = -1
	return st.AppendBinary(nil)
}

// planHolds spreads the holds of parts over n partitions (see
// PlanRepartition).
func planHolds(parts []ChangelogPartition, n int) []*guard.Holds {
	type domain struct {
		hold guard.Hold
		held []string
	}
	domains := map[string]*domain{}
	seen := map[string]bool{}
	for _, part := range parts {
		if part.Holds == nil {
			continue
		}
		names := make([]string, 0, len(part.Holds.Domains))
		for d := range part.Holds.Domains {
			names = append(names, d)
		}
		slices.Sort(names)
		for _, name := range names {
			h := part.Holds.Domains[name]
			if h == nil {
				continue
			}
			d := domains[name]
			if d == nil {
				d = &domain{hold: guard.Hold{Since: h.Since, Rule: h.Rule}}
				domains[name] = d
			} else if h.Since.Before(d.hold.Since) {
				d.hold.Since, d.hold.Rule = h.Since, h.Rule
			}
			for _, k := range h.Held {
				if id := name + "\x00" + k; !seen[id] {
					seen[id] = true
					d.held = append(d.held, k)
				}
			}
		}
	}
	out := make([]*guard.Holds, n)
	for i := range out {
		out[i] = guard.NewHolds()
		if i < len(parts) && parts[i].Holds != nil {
			out[i].Off = parts[i].Holds.Off
		}
		for name, d := range domains {
			h := d.hold
			h.Held = nil
			out[i].Domains[name] = &h
		}
	}
	for name, d := range domains {
		for _, k := range d.held {
			h := out[PartitionOf([]byte(k), n)].Domains[name]
			h.Held = append(h.Held, k)
		}
	}
	return out
}

// String summarises the plan: the count of moves from each old partition
// to each new one, one line each.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d recipients, %d to move to %d partitions", p.States, len(p.Moves), p.Partitions)
	keys := make([][2]int, 0, len(p.Counts))
	for k := range p.Counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]int) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %d -> %d: %d", k[0], k[1], p.Counts[k])
	}
	return b.String()
}
