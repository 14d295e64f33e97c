// Package statestore holds stage 2's state for one partition of the
// attempts topic (Partition: the recipients' states in a compact Table, the
// input positions applied, the incident guard's holds) and everything that
// brings it back after a rebalance or a restart: CatchUp reads the
// compacted changelog (bounced.state) into it, Keeper keeps it in memory
// across a generation when the partition stays with the member, and
// Checkpoints writes and loads local checkpoint files of it that let a
// restarted member read only the changelog's tail.
//
// The changelog stays the source of truth; a checkpoint is a cache of it,
// valid up to the changelog offset it records.
package statestore

import (
	"hash/maphash"

	"github.com/bounced-dev/bounced/processor/streak"
)

// A member holds the state of every recipient it has ever seen on its
// partitions, so the table is laid out for memory, not for generality:
//   - entries live in fixed pages, so nothing ever holds twice its size
//     while a slice doubles;
//   - keys are copied into large arena chunks, not one allocation each;
//   - the index is an open-addressing array of 8-byte slots (the key's hash
//     and its entry number), kept between 3/8 and 3/4 full, instead of a
//     map of string headers; the hash in the slot spares a probe the cache
//     misses of reading an entry and its key.
//
// About 148 bytes per recipient for 27-byte addresses and a handful of
// attempts a week (TestMemoryPerRecipient's mix). A recipient with at most
// inlineSeen ids in the duplicate window needs nothing beyond its entry.
const (
	pageSize  = 4096    // entries per page
	chunkSize = 1 << 20 // key bytes per arena chunk
	maxKey    = 1 << 10 // longer keys are refused by Put (addresses are at most 254 bytes)
	// inlineSeen is how many of the duplicate guard's ids an entry holds
	// itself: a recipient mailed a few times within the window needs no
	// allocation of its own; the rest of a longer list goes in more.
	inlineSeen = 4
)

// entry is one recipient's state. The fields every recipient has are
// inline; the rare ones (a soft streak, a suppression, a long list of seen
// ids) hang off one pointer.
type entry struct {
	off       int64
	delivered int64
	sends     [len(streak.State{}.Sends)]uint64
	more      *more
	seen      [inlineSeen]streak.Seen // the oldest of State.Seen
	key       uint32                  // arena position: chunk<<20 | offset
	klen      uint16
	live      bool
	nseen     uint8 // ids in seen
}

type more struct {
	streak []streak.Fail
	mark   *streak.Mark
	seen   []streak.Seen // State.Seen past the inline ones
}

// Table maps normalised recipients to their states. It is not safe for
// concurrent use: one partition worker owns it.
type Table struct {
	seed   maphash.Seed
	slots  []uint64 // hash<<32 | entry number + 1; 0 is an empty slot
	n      int      // live recipients
	pages  [][]entry
	used   uint32   // entries handed out
	free   []uint32 // entries of deleted recipients, reused first
	chunks [][]byte
}

// NewTable returns an empty table sized for about n recipients.
func NewTable(n int) *Table {
	size := 1024
	for size*3/4 < n {
		size *= 2
	}
	return &Table{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
}

// Len reports how many recipients the table holds.
func (t *Table) Len() int { return t.n }

func (t *Table) at(i uint32) *entry { return &t.pages[i/pageSize][i%pageSize] }

func (t *Table) keyOf(e *entry) []byte {
	c := t.chunks[e.key>>20]
	o := e.key & (chunkSize - 1)
	return c[o : o+uint32(e.klen)]
}

// find returns the slot of key, or the empty slot where it would go, and
// the key's hash.
func (t *Table) find(key string) (slot int, h uint64, found bool) {
	h = maphash.String(t.seed, key)
	tag := h << 32
	mask := len(t.slots) - 1
	for s := int(h) & mask; ; s = (s + 1) & mask {
		v := t.slots[s]
		if v == 0 {
			return s, h, false
		}
		if v&^0xffffffff != tag {
			continue
		}
		if e := t.at(uint32(v) - 1); int(e.klen) == len(key) && string(t.keyOf(e)) == key {
			return s, h, true
		}
	}
}

// home is the slot a slot value's key hashes to.
func home(v uint64, mask int) int { return int(v>>32) & mask }

// Get returns key's state; ok is false for a recipient never seen.
func (t *Table) Get(key string) (s streak.State, ok bool) {
	slot, _, ok := t.find(key)
	if !ok {
		return streak.State{}, false
	}
	return t.at(uint32(t.slots[slot]) - 1).state(), true
}

// state rebuilds the recipient's State. Its Seen is a fresh slice: the
// table's ids never alias a state handed out.
func (e *entry) state() streak.State {
	s := streak.State{LastOff: e.off, LastDelivery: e.delivered, Sends: e.sends}
	var rest []streak.Seen
	if e.more != nil {
		s.Streak, s.Mark, rest = e.more.streak, e.more.mark, e.more.seen
	}
	if n := int(e.nseen) + len(rest); n > 0 {
		s.Seen = make([]streak.Seen, n)
		copy(s.Seen, e.seen[:e.nseen])
		copy(s.Seen[e.nseen:], rest)
	}
	return s
}

func (e *entry) set(s *streak.State) {
	e.off, e.delivered, e.sends, e.more = s.LastOff, s.LastDelivery, s.Sends, nil
	e.nseen = uint8(copy(e.seen[:], s.Seen))
	var rest []streak.Seen
	if len(s.Seen) > inlineSeen {
		rest = append([]streak.Seen(nil), s.Seen[inlineSeen:]...) // not s.Seen's whole array
	}
	if len(s.Streak) > 0 || s.Mark != nil || rest != nil {
		e.more = &more{streak: s.Streak, mark: s.Mark, seen: rest}
	}
}

// Put stores key's state, replacing what was there. Keys longer than 1 KiB
// are ignored: no address is that long, and ingest refuses them first.
func (t *Table) Put(key string, s streak.State) {
	if len(key) > maxKey {
		return
	}
	slot, h, ok := t.find(key)
	if ok {
		t.at(uint32(t.slots[slot]) - 1).set(&s)
		return
	}
	i := t.alloc(key)
	t.at(i).set(&s)
	t.slots[slot] = h<<32 | uint64(i+1)
	t.n++
	if t.n > len(t.slots)*3/4 {
		t.grow()
	}
}

// PutBytes is Put for a key in a read buffer; it does not retain key.
func (t *Table) PutBytes(key []byte, s streak.State) { t.Put(string(key), s) }

func (t *Table) alloc(key string) uint32 {
	var i uint32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		i = t.used
		t.used++
		if int(i/pageSize) == len(t.pages) {
			t.pages = append(t.pages, make([]entry, pageSize))
		}
	}
	last := len(t.chunks) - 1
	if last < 0 || len(t.chunks[last])+len(key) > chunkSize {
		t.chunks = append(t.chunks, make([]byte, 0, chunkSize))
		last++
	}
	e := t.at(i)
	e.key = uint32(last)<<20 | uint32(len(t.chunks[last]))
	e.klen = uint16(len(key))
	e.live = true
	t.chunks[last] = append(t.chunks[last], key...)
	return i
}

func (t *Table) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	mask := len(t.slots) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		s := home(v, mask)
		for t.slots[s] != 0 {
			s = (s + 1) & mask
		}
		t.slots[s] = v
	}
}

// Delete forgets key. Its key bytes stay in the arena: deletes are rare
// (the changelog's tombstones).
func (t *Table) Delete(key string) {
	slot, _, ok := t.find(key)
	if !ok {
		return
	}
	i := uint32(t.slots[slot]) - 1
	*t.at(i) = entry{}
	t.free = append(t.free, i)
	t.n--
	// Backward-shift deletion keeps every probe sequence unbroken.
	mask := len(t.slots) - 1
	hole := slot
	for s := (slot + 1) & mask; t.slots[s] != 0; s = (s + 1) & mask {
		h := home(t.slots[s], mask)
		// Move s into the hole unless its home lies cyclically in (hole, s].
		if (s-h)&mask >= (s-hole)&mask {
			t.slots[hole] = t.slots[s]
			hole = s
		}
	}
	t.slots[hole] = 0
}

// Range calls fn for every recipient until fn returns false. key is only
// valid during the call. The order is unspecified; fn must not modify the
// table.
func (t *Table) Range(fn func(key []byte, s streak.State) bool) {
	for i := range t.used {
		e := t.at(i)
		if e.live && !fn(t.keyOf(e), e.state()) {
			return
		}
	}
}
