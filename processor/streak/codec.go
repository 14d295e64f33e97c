package streak

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// The first byte of a state tells its encoding. JSON states (the oldest
// changelogs) start with '{'; binary ones with their version. Every version
// here still decodes: changelogs and checkpoints outlive upgrades.
const (
	// binaryV1 held up to three recent id hashes, without times.
	binaryV1 = 0x01
	// binaryV2 holds the duplicate guard's Seen list: a count byte, then
	// each entry as 8 bytes little-endian (id hash and hour, see Seen).
	binaryV2 = 0x02
	// binaryV3 is binaryV2 with the mark's expires_at after its since (a
	// flag byte, then Unix nanoseconds). It is written only for a state
	// whose mark expires, so states stay byte-identical, and readable by
	// members of an older version, while no expiry is configured.
	binaryV3 = 0x03
	// v1Recent is how many id hashes binaryV1 held at most.
	v1Recent = 3
)

// AppendBinary appends the binary encoding of s to dst. It is what the
// changelog and the local checkpoints hold: a restore decodes millions of
// states, and most are a few fixed fields (offset, seen ids, last
// delivery), which this encodes in a few dozen bytes without reflection.
// The rare streak evidence is JSON inside it. A Seen list Apply could not
// have made is refused here, so no state the decoder refuses is ever
// written.
func (s *State) AppendBinary(dst []byte) ([]byte, error) {
	if err := checkSeen(s.Seen); err != nil {
		return dst, fmt.Errorf("encode state: %w", err)
	}
	version := byte(binaryV2)
	if s.Mark != nil && !s.Mark.ExpiresAt.IsZero() {
		version = binaryV3
	}
	dst = append(dst, version)
	dst = binary.AppendVarint(dst, s.LastOff)
	dst = append(dst, byte(len(s.Seen)))
	for _, v := range s.Seen {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	dst = binary.AppendVarint(dst, s.LastDelivery)
	n := 0
	for n < recentSends && s.Sends[n] != 0 {
		n++
	}
	dst = append(dst, byte(n))
	for _, h := range s.Sends[:n] {
		dst = binary.LittleEndian.AppendUint64(dst, h)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Streak)))
	for i := range s.Streak {
		f := &s.Streak[i]
		dst = binary.LittleEndian.AppendUint64(dst, f.Send)
		dst = binary.AppendVarint(dst, f.At)
		ev, err := json.Marshal(&f.Evidence)
		if err != nil {
			return dst, fmt.Errorf("encode streak evidence: %w", err)
		}
		dst = appendBytes(dst, ev)
	}
	if s.Mark == nil {
		return append(dst, 0), nil
	}
	m := s.Mark
	dst = append(dst, 1)
	for _, str := range []string{string(m.Status), string(m.Class), string(m.Label), string(m.Source)} {
		dst = appendBytes(dst, []byte(str))
	}
	if m.Since.IsZero() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, m.Since.UnixNano())
	}
	if version == binaryV3 {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, m.ExpiresAt.UnixNano())
	}
	if m.Held == nil {
		return append(dst, 0), nil
	}
	held, err := json.Marshal(m.Held)
	if err != nil {
		return dst, fmt.Errorf("encode held record: %w", err)
	}
	dst = append(dst, 1)
	return appendBytes(dst, held), nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

var errShort = errors.New("truncated")

// UnmarshalBinary decodes a state written by AppendBinary, by the binary
// encoding before it (v1), or the JSON encoding older changelogs hold.
func (s *State) UnmarshalBinary(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		return s.unmarshalJSON(b)
	}
	if len(b) == 0 || (b[0] != binaryV1 && b[0] != binaryV2 && b[0] != binaryV3) {
		return errors.New("streak: state: unknown encoding")
	}
	version := b[0]
	d := decoder{b: b[1:]}
	*s = State{LastOff: d.varint()}
	var recent [v1Recent]uint64
	n := int(d.byte())
	switch {
	case version == binaryV1 && n > v1Recent:
		return errors.New("streak: state: too many recent ids")
	case version == binaryV1:
		for i := range n {
			recent[i] = d.uint64()
		}
	case n > maxSeen:
		return fmt.Errorf("streak: state: %d seen ids, more than %d", n, maxSeen)
	case n > 0 && d.err == nil:
		if n*8 > len(d.b) {
			return fmt.Errorf("streak: state: %w", errShort)
		}
		s.Seen = make([]Seen, n)
		for i := range s.Seen {
			s.Seen[i] = Seen(d.uint64())
		}
	}
	s.LastDelivery = d.varint()
	if n = int(d.byte()); n > recentSends {
		return errors.New("streak: state: too many recent sends")
	}
	for i := range n {
		s.Sends[i] = d.uint64()
	}
	if k := d.uvarint(); k > 0 {
		if k > uint64(len(d.b)) {
			return fmt.Errorf("streak: state: %w", errShort)
		}
		s.Streak = make([]Fail, k)
		for i := range s.Streak {
			f := &s.Streak[i]
			f.Send, f.At = d.uint64(), d.varint()
			if ev := d.bytes(); d.err == nil {
				if err := json.Unmarshal(ev, &f.Evidence); err != nil {
					return fmt.Errorf("streak: state: evidence: %w", err)
				}
			}
		}
	}
	if d.byte() == 1 {
		m := &Mark{Status: event.Status(d.bytes()), Class: event.Class(d.bytes()), Label: event.Label(d.bytes()), Source: event.Origin(d.bytes())}
		if d.byte() == 1 {
			m.Since = time.Unix(0, d.varint()).UTC()
		}
		if version == binaryV3 && d.byte() == 1 {
			m.ExpiresAt = time.Unix(0, d.varint()).UTC()
		}
		if d.byte() == 1 {
			if held := d.bytes(); d.err == nil {
				m.Held = new(event.Suppression)
				if err := json.Unmarshal(held, m.Held); err != nil {
					return fmt.Errorf("streak: state: held record: %w", err)
				}
			}
		}
		s.Mark = m
	}
	if d.err != nil {
		return fmt.Errorf("streak: state: %w", d.err)
	}
	if len(d.b) != 0 {
		return errors.New("streak: state: trailing bytes")
	}
	if version == binaryV1 {
		s.Seen = fromRecent(s, recent[:])
	}
	if err := checkSeen(s.Seen); err != nil {
		return fmt.Errorf("streak: state: %w", err)
	}
	return nil
}

// unmarshalJSON decodes the JSON encoding. Older changelogs hold the
// guard's ids as "recent", bare hashes newest first (0 for an empty slot);
// newer JSON (json.Marshal of a State) holds "seen".
func (s *State) unmarshalJSON(b []byte) error {
	type plain State // without methods: no recursion
	var v struct {
		plain
		Recent []uint64 `json:"recent"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("streak: state: json: %w", err)
	}
	*s = State(v.plain)
	if len(s.Seen) == 0 && len(v.Recent) > 0 {
		s.Seen = fromRecent(s, v.Recent)
	}
	if err := checkSeen(s.Seen); err != nil {
		return fmt.Errorf("streak: state: json: %w", err)
	}
	return nil
}

// decoder reads the binary encoding; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errShort, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
