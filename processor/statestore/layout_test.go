package statestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/topics"
)

// logRecord is one record of a fake changelog partition.
type logRecord struct {
	off        int64
	key, value string // value "" is a tombstone
}

// fakeLog is a compacted changelog partition in memory: offsets may have
// gaps where compaction removed records.
type fakeLog struct {
	recs []logRecord
	end  int64
}

func (l fakeLog) ScanFrom(_ context.Context, _ string, _ int, from int64, fn func(int64, []byte, []byte) error) (int64, error) {
	for _, r := range l.recs {
		if r.off < from {
			continue
		}
		var v []byte
		if r.value != "" {
			v = []byte(r.value)
		}
		if err := fn(r.off, []byte(r.key), v); err != nil {
			return r.off, err
		}
	}
	return l.end, nil
}

func stateValue(t *testing.T, off int64) string {
	t.Helper()
	st := streak.State{LastOff: off}
	v, err := st.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func layoutValue(t *testing.T, n int, complete bool) string {
	t.Helper()
	m, err := topics.LayoutMessage("bounced.state", 0, topics.Layout{Partitions: n, Complete: complete})
	if err != nil {
		t.Fatal(err)
	}
	return string(m.Value)
}

// A checkpoint taken before a repartition is not trusted: the tombstones
// that moved its recipients away may be compacted by the time a member
// restores from it. CatchUp reads the whole partition instead, and a
// checkpoint taken under the current layout is read on from as before.
func TestCatchUpAfterRepartition(t *testing.T) {
	moved, stays, arrived := "moved@example.org", "stays@example.org", "arrived@example.org"
	// After the move and compaction: moved's state (offset 1) and its
	// tombstone (offset 11) are gone; arrived came at 12.
	log := fakeLog{end: 14, recs: []logRecord{
		{2, stays, stateValue(t, 2)},
		{12, arrived, stateValue(t, 12)},
		{13, topics.KeyLayout, layoutValue(t, 12, true)},
	}}
	before := func() *statestore.Partition {
		p := statestore.NewPartition()
		p.Table.Put(moved, streak.State{LastOff: 1})
		p.Table.Put(stays, streak.State{LastOff: 2})
		p.Next = 10
		return p
	}
	dir := t.TempDir()
	ck := statestore.Checkpoints{Dir: dir, Topic: "bounced.state"}
	if err := ck.Save(0, before()); err != nil {
		t.Fatal(err)
	}
	p, err := ck.Load(0)
	if err != nil || p == nil {
		t.Fatalf("load: %v", err)
	}
	if _, err := p.CatchUp(context.Background(), log, "bounced.state", 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Table.Get(moved); ok {
		t.Error("a recipient moved away came back from a checkpoint older than the move")
	}
	for _, k := range []string{stays, arrived} {
		if _, ok := p.Table.Get(k); !ok {
			t.Errorf("%s is missing", k)
		}
	}
	if p.Next != 14 || p.Layout != (topics.Layout{Partitions: 12, Complete: true}) {
		t.Errorf("next %d layout %+v", p.Next, p.Layout)
	}

	// The checkpoint written now carries the layout: a later restore reads
	// only the tail.
	if err := ck.Save(0, p); err != nil {
		t.Fatal(err)
	}
	log.recs = append(log.recs, logRecord{14, topics.KeyLayout, layoutValue(t, 12, true)}, logRecord{15, stays, ""})
	log.end = 16
	p2, err := ck.Load(0)
	if err != nil || p2 == nil || p2.Layout.Partitions != 12 {
		t.Fatalf("load: %+v, %v", p2, err)
	}
	n, err := p2.CatchUp(context.Background(), log, "bounced.state", 0)
	if err != nil || n != 2 {
		t.Fatalf("tail read %d records (%v), want 2", n, err)
	}
	if _, ok := p2.Table.Get(arrived); !ok || p2.Table.Len() != 1 {
		t.Errorf("after the tail: %d recipients", p2.Table.Len())
	}
}

// A partition whose latest layout is not complete is refused with a
// message that says what to run; its complete layout is accepted.
func TestCatchUpRepartitionUnfinished(t *testing.T) {
	log := fakeLog{end: 2, recs: []logRecord{{0, topics.KeyLayout, layoutValue(t, 12, true)}, {1, topics.KeyLayout, layoutValue(t, 24, false)}}}
	p := statestore.NewPartition()
	_, err := p.CatchUp(context.Background(), log, "bounced.state", 5)
	if !errors.Is(err, statestore.ErrRepartitioning) || !strings.Contains(err.Error(), "bounced repartition --partitions 24") {
		t.Fatalf("got %v, want ErrRepartitioning naming the command", err)
	}
	log.recs = append(log.recs, logRecord{2, topics.KeyLayout, layoutValue(t, 24, true)})
	log.end = 3
	p = statestore.NewPartition()
	if _, err := p.CatchUp(context.Background(), log, "bounced.state", 5); err != nil {
		t.Fatal(err)
	}
	bad := fakeLog{end: 1, recs: []logRecord{{0, topics.KeyLayout, "{"}}}
	if _, err := statestore.NewPartition().CatchUp(context.Background(), bad, "bounced.state", 5); err == nil || !strings.Contains(err.Error(), "layout bounced.state/5@0") {
		t.Errorf("a damaged layout record: %v", err)
	}
}

// A checkpoint written before layouts existed (no layout in its meta)
// loads as one of a changelog never repartitioned.
func TestCheckpointWithoutLayout(t *testing.T) {
	dir := t.TempDir()
	tb := statestore.NewTable(0)
	tb.Put("a@example.org", streak.State{LastOff: 3})
	path := filepath.Join(dir, "decide-state", "bounced.state-0.ckpt")
	if err := statestore.Save(path, tb, statestore.Checkpoint{Topic: "bounced.state", Partition: 0, Offset: 4, Meta: []byte(`{"sources":{"in/0":{"o":9,"i":0}}}`)}); err != nil {
		t.Fatal(err)
	}
	p, err := statestore.Checkpoints{Dir: dir, Topic: "bounced.state"}.Load(0)
	if err != nil || p == nil {
		t.Fatalf("load: %v", err)
	}
	if p.Layout != (topics.Layout{}) || p.Next != 4 || p.Sources["in/0"].Off != 9 {
		t.Errorf("loaded %+v", p)
	}
}
