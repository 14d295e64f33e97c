package streak

import (
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Seen is one event id the duplicate guard remembers, packed in 8 bytes:
// the top 44 bits of the id's xxhash, and in the low 20 bits the hour of the
// attempt's occurred_at counted from 1990-01-01 UTC. 2^20 hours reach into
// 2109, past the 1990..2100 that event.Attempt.Check admits. With 44 bits a
// new id matches one in a full list of maxSeen by chance 2 times in 10^12.
type Seen uint64

const (
	seenHourBits = 20
	seenHourMask = 1<<seenHourBits - 1
	seenEpoch    = 631152000 // 1990-01-01T00:00:00Z in Unix seconds
)

// SeenOf is the duplicate guard's entry for the event id of an attempt that
// occurred at at.
func SeenOf(id string, at time.Time) Seen {
	return Seen(xxhash.Sum64String(id)&^seenHourMask | uint64(hourOf(at)))
}

// seenHash is the guard's entry for a bare id hash (states written before
// the guard kept times) at hour h.
func seenHash(h uint64, hour uint32) Seen { return Seen(h&^seenHourMask | uint64(hour)) }

// hourOf counts the hours from seenEpoch to t, clamped to what 20 bits hold.
func hourOf(t time.Time) uint32 {
	sec := t.Unix() - seenEpoch
	switch {
	case sec < 0:
		return 0
	case sec/3600 > seenHourMask:
		return seenHourMask
	}
	return uint32(sec / 3600)
}

func (v Seen) hour() uint32 { return uint32(v & seenHourMask) }

// same reports whether v and w are the same event id, whatever their hours.
func (v Seen) same(w Seen) bool { return (v^w)&^seenHourMask == 0 }

// At returns the start of the hour in which the id's attempt occurred.
func (v Seen) At() time.Time {
	return time.Unix(seenEpoch+int64(v.hour())*3600, 0).UTC()
}

// remember returns list with id added in time order (after the ids of its
// own hour), less the ids whose hour lies more than window hours before the
// newest one's and, beyond maxSeen, the oldest. An id that is itself that
// old is not kept. list is never modified: a State handed out keeps its
// value, so a caller that holds an older state (a replay test, a table that
// shares the slice) never sees it change.
func remember(list []Seen, id Seen, window uint32) []Seen {
	at := id.hour()
	i := len(list)
	for i > 0 && list[i-1].hour() > at {
		i--
	}
	n := len(list) + 1
	get := func(j int) Seen {
		switch {
		case j < i:
			return list[j]
		case j == i:
			return id
		}
		return list[j-1]
	}
	newest := get(n - 1).hour()
	cut := uint32(0)
	if newest > window {
		cut = newest - window
	}
	start := max(0, n-maxSeen)
	for start < n-1 && get(start).hour() < cut {
		start++
	}
	out := make([]Seen, n-start)
	for j := range out {
		out[j] = get(start + j)
	}
	return out
}

// checkSeen says what is wrong with a decoded or hand-built list: Apply
// only ever makes lists of at most maxSeen ids in time order.
func checkSeen(list []Seen) error {
	if len(list) > maxSeen {
		return fmt.Errorf("%d seen ids, more than the %d the duplicate guard keeps", len(list), maxSeen)
	}
	for i := 1; i < len(list); i++ {
		if list[i].hour() < list[i-1].hour() {
			return errors.New("seen ids out of time order")
		}
	}
	return nil
}

// fromRecent turns the bare id hashes of older encodings (newest first, 0
// for an empty slot) into the guard's list. They carry no time: each gets
// the hour of the newest time the state knows, so they stay within the
// window about as long as they would have, and they catch a re-send at
// once, before the next new id's time evicts them.
func fromRecent(s *State, recent []uint64) []Seen {
	var newest int64
	newest = max(newest, s.LastDelivery)
	for _, f := range s.Streak {
		newest = max(newest, f.At)
	}
	if s.Mark != nil && !s.Mark.Since.IsZero() {
		newest = max(newest, s.Mark.Since.UnixNano())
	}
	hour := uint32(0)
	if newest > 0 {
		hour = hourOf(time.Unix(0, newest))
	}
	var out []Seen
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i] != 0 && i < maxSeen {
			out = append(out, seenHash(recent[i], hour))
		}
	}
	return out
}
