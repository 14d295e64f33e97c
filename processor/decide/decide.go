// Package decide is stage 2's decision step: a fold of one batch of
// attempts-topic records into a partition's state, returning everything the
// batch produces. It does no I/O and reads no clock: the engine
// (package processor) moves records in and writes the Outputs, in order.
//
// For every record, in offset order:
//   - an attempt that stage 1 produced again after a crash (its input
//     position is not past the partition's recorded one) is skipped;
//   - an attempt whose outcome is complaint carries a complaint verdict
//     (streak.VerdictOf) whatever its producer said, so its row, the guard
//     and the fold agree it is neither an attempt nor a delivery;
//   - an operator command on one address (lift, suppress), an expire its
//     partition's owner wrote when a suppression's expires_at came, and
//     an attempt are folded into the recipient's state with streak.ApplyControl and
//     streak.Apply, which skip what the state has applied already (replays
//     after a crash, duplicate event ids);
//   - a domain command (hold, release, discard) and every applied attempt
//     go through the partition's incident guard;
//   - what changed becomes output: the attempt row with what it changes in
//     the send counts, the suppression records to publish, the states to
//     write to the changelog, guard commands and alerts, records refused.
//
// The fold changes the partition's state in place. When the engine cannot
// write a batch's outputs it throws the state away (the next owner restores
// it from the changelog and folds the batch again), so a state never holds
// what was not written.
package decide

import (
	"encoding/json"
	"fmt"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// Record is one attempts-topic record as the fold sees it.
type Record struct {
	Offset int64
	Key    []byte
	Value  []byte
	// Control is the topics.HeaderControl header: the op of an operator
	// or domain command, empty for an attempt.
	Control string
	// Source is the topics.HeaderSource header: the input position stage 1
	// made the attempt from, empty when unknown.
	Source string
}

// Row is one attempt as stored, with the attempts-topic position it came
// from (the effectively-once key of the analytics store).
type Row struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempt   *event.Attempt
	// Send is what the attempt changes in the count of ended sends, from
	// the recipient's state: outcomes and their rollups count sends, not
	// attempts.
	Send streak.SendDelta
}

// Change is a suppression record to publish; Record nil is a tombstone.
// Version grows with every change of one address (it is the attempts-topic
// offset that caused it, plus one; an address lives on one partition).
type Change struct {
	Address string
	Record  *event.Suppression
	Version uint64
	// Why says, for a tombstone other than an operator's lift, why the
	// suppression ended ("expired after 90d: mailbox_full").
	Why string
}

// StateChange is a recipient's new absolute state, for the changelog.
type StateChange struct {
	Key   string
	State streak.State
}

// Dead is a record the fold refused: Index is its place in the batch.
type Dead struct {
	Index int
	Err   error
}

// Stats count what the batch did besides its outputs, for metrics.
type Stats struct {
	Duplicates int // attempts already applied (event id seen, or produced again by stage 1)
	Replays    int // records applied before a crash (offset at or below the state's)
	Held       int // suppressions the incident guard turned into held ones
	Holds      int // domains the guard started holding, counted where the guard raises alerts
	// SourceResets counts input partitions found restarted: a source-reset
	// record, or an attempt far behind the partition's position.
	SourceResets int
	Expired      int // suppressions an expire command ended
	Stale        int // expire commands that found their suppression renewed, lifted or held
}

// Outputs is everything one batch produces, in the order the engine must
// make it durable (see processor's flush).
type Outputs struct {
	Rows []Row
	Dead []Dead
	// Commands are holds this partition detected, for every partition of
	// the attempts topic.
	Commands []streak.Control
	Alerts   []event.Alert
	Changes  []Change
	// States are the recipients whose state changed, in the order they
	// first changed.
	States []StateChange
	// Holds, when not nil, is the partition's guard state to write to the
	// changelog.
	Holds *guard.Holds
	// Sources, when not nil, are the partition's input positions to write
	// to the changelog, after the states they cover.
	Sources map[string]topics.SourcePos
	Stats   Stats
}

// Folder folds batches of one attempts partition.
type Folder struct {
	Policy    streak.Policy
	Guard     guard.Config
	Topic     string // the attempts topic
	Partition int
	// ReplayWindow is how far behind the highest position applied from
	// an input partition an attempt's source can be and still be a stage-1
	// replay (stage 1 replays at most what it had not committed: about a
	// batch). Further behind, the input partition restarted (its topic was
	// recreated): the attempt is applied and the position reset. 0: no
	// such check.
	ReplayWindow int64
}

// batch is one fold in progress.
type batch struct {
	f     *Folder
	p     *statestore.Partition
	out   Outputs
	dirty map[string]int // key -> index in out.States
	moved bool           // input positions moved
}

// Fold applies recs, in offset order, to p and returns what they produce.
func (f *Folder) Fold(p *statestore.Partition, recs []Record) Outputs {
	if p.Guard == nil || p.Guard.Holds() != p.Holds {
		p.Guard = guard.New(f.Guard, p.Holds, f.Partition == 0)
	}
	b := &batch{f: f, p: p, dirty: make(map[string]int, len(recs))}
	b.out.Rows = make([]Row, 0, len(recs))
	for i := range recs {
		b.record(i, &recs[i])
	}
	for i := range b.out.States {
		b.out.States[i].State, _ = p.Table.Get(b.out.States[i].Key)
	}
	if p.Guard.Dirty() {
		b.out.Holds = p.Holds
		p.Guard.MarkSaved()
	}
	if b.moved {
		b.out.Sources = p.Sources
	}
	return b.out
}

func (b *batch) record(i int, r *Record) {
	if b.seenSource(r.Source) {
		b.out.Stats.Duplicates++
		return
	}
	if r.Control == topics.ControlSourceReset {
		// Attempts after this one come from the restarted partition.
		if _, ok := b.p.Sources[string(r.Key)]; ok {
			delete(b.p.Sources, string(r.Key))
			b.moved = true
		}
		b.out.Stats.SourceResets++
		return
	}
	if r.Control != "" {
		var c streak.Control
		if err := json.Unmarshal(r.Value, &c); err != nil {
			b.dead(i, fmt.Errorf("control record: %w", err))
			return
		}
		if c.Domain != "" {
			switch c.Op {
			case streak.OpHold, streak.OpRelease, streak.OpDiscard:
			default:
				b.dead(i, fmt.Errorf("control %s names a domain; it applies to one address only", c.Op))
				return
			}
			b.effects(b.p.Guard.Command(b.p.Table, c, r.Offset), r.Offset, nil)
			return
		}
		b.control(i, r, c)
		return
	}
	a := new(event.Attempt)
	if err := topics.DecodeAttempt(r.Value, a); err != nil {
		b.dead(i, fmt.Errorf("attempt record: %w", err))
		return
	}
	if err := a.Check(); err != nil {
		b.dead(i, fmt.Errorf("attempt record: %w", err))
		return
	}
	key := string(r.Key)
	if a.RecipientNorm != key {
		b.dead(i, fmt.Errorf("attempt for %q filed under key %q", a.RecipientNorm, key))
		return
	}
	if a.Outcome == event.Complaint {
		// The stored row, the guard and the fold must agree that a spam
		// report is a complaint, whatever verdict its producer gave it.
		v, _ := streak.VerdictOf(a)
		a.Verdict = &v
	}
	b.attempt(a, key, r.Offset)
}

// seenSource reports whether stage 1 produced the attempt at source before
// (after its own crash), and records the position otherwise.
func (b *batch) seenSource(source string) bool {
	src, pos, ok := topics.ParseSource(source)
	if !ok {
		return false
	}
	if last, seen := b.p.Sources[src]; seen && !pos.After(last) {
		if w := b.f.ReplayWindow; w <= 0 || last.Off-pos.Off <= w {
			return true
		}
		b.out.Stats.SourceResets++
	}
	b.p.Sources[src] = pos
	b.moved = true
	return false
}

func (b *batch) control(i int, r *Record, c streak.Control) {
	switch c.Op {
	case streak.OpHold, streak.OpRelease, streak.OpDiscard:
		// On the wire these are domain commands; the guard alone applies
		// them to addresses.
		b.dead(i, fmt.Errorf("control %s names no domain", c.Op))
		return
	}
	key := string(r.Key)
	st, ok := b.p.Table.Get(key)
	if !ok {
		st = streak.New()
	}
	st, res, err := streak.ApplyControl(st, c, r.Offset)
	if err != nil {
		b.dead(i, err)
		return
	}
	if res.Replay {
		b.out.Stats.Replays++
		return
	}
	if c.Op == streak.OpExpire {
		if !res.Publish {
			// Stale: the state is unchanged, and an address never seen
			// must not get one.
			b.out.Stats.Stale++
			return
		}
		b.out.Stats.Expired++
	}
	b.put(key, st)
	if res.Publish {
		b.publish(key, res.Record, r.Offset)
		b.out.Changes[len(b.out.Changes)-1].Why = res.Why
	}
}

func (b *batch) attempt(a *event.Attempt, key string, off int64) {
	st, ok := b.p.Table.Get(key)
	if !ok {
		st = streak.New()
	}
	st, res := streak.Apply(b.f.Policy, st, a, off)
	switch {
	case res.Replay:
		b.out.Stats.Replays++
		return
	case res.Duplicate:
		b.out.Stats.Duplicates++
	default:
		b.out.Rows = append(b.out.Rows, Row{Topic: b.f.Topic, Partition: int32(b.f.Partition), Offset: off, Attempt: a, Send: res.Send})
	}
	b.put(key, st)
	eff := b.p.Guard.Attempt(b.p.Table, a, key, res, off)
	b.effects(eff, off, &key)
	if res.Publish {
		rec := res.Record
		if eff.Record != nil {
			rec = eff.Record
		}
		b.publish(key, rec, off)
	}
}

// effects takes in what the guard did at offset off. key, when not nil, is
// the recipient whose attempt the guard saw (its own record is published by
// the caller).
func (b *batch) effects(eff guard.Effects, off int64, key *string) {
	if eff.Replay {
		b.out.Stats.Replays++
	}
	b.out.Stats.Held += eff.Held
	for _, c := range eff.Changes {
		b.touch(c.Key)
		b.publish(c.Key, c.Record, off)
	}
	if eff.Command != nil {
		b.out.Commands = append(b.out.Commands, *eff.Command)
	}
	if eff.Alert != nil {
		if eff.Alert.State == event.AlertFiring {
			b.out.Stats.Holds++
		}
		b.out.Alerts = append(b.out.Alerts, *eff.Alert)
	}
	if key != nil && eff.Record != nil {
		b.touch(*key)
	}
}

func (b *batch) put(key string, st streak.State) {
	b.p.Table.Put(key, st)
	b.touch(key)
}

// touch marks key's state for the changelog; its value is read from the
// table when the batch ends.
func (b *batch) touch(key string) {
	if _, ok := b.dirty[key]; !ok {
		b.dirty[key] = len(b.out.States)
		b.out.States = append(b.out.States, StateChange{Key: key})
	}
}

func (b *batch) publish(key string, rec *event.Suppression, off int64) {
	b.out.Changes = append(b.out.Changes, Change{Address: key, Record: rec, Version: uint64(off) + 1})
}

func (b *batch) dead(i int, err error) {
	b.out.Dead = append(b.out.Dead, Dead{Index: i, Err: err})
}
