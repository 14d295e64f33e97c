package exim

import (
	"maps"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// State is the part of a Decoder's memory worth keeping across a restart:
// what the arrival lines of messages still in the queue said. Without it,
// deliveries logged after a restart lose their sender, Message-ID, send time
// and attempt number (they are still decoded). It is plain data so the
// caller can store it as JSON next to its offsets.
type State struct {
	Messages []MessageState `json:"messages"`
}

// MessageState is what is known about one Exim message.
type MessageState struct {
	Host      string         `json:"host,omitempty"`
	ID        string         `json:"id"`
	Sender    string         `json:"sender,omitempty"`
	MessageID string         `json:"message_id,omitempty"`
	Arrived   time.Time      `json:"arrived,omitzero"`
	Seen      time.Time      `json:"seen"`
	Bounce    bool           `json:"bounce,omitempty"`
	Defers    map[string]int `json:"defers,omitempty"`
	// Last is each deferred recipient's latest reply (message.last).
	Last map[string]event.SMTP `json:"last,omitempty"`
}

// Snapshot returns a copy of the decoder's state.
func (d *Decoder) Snapshot() State {
	s := State{Messages: make([]MessageState, 0, len(d.msgs))}
	for k, m := range d.msgs {
		ms := MessageState{Host: k.host, ID: k.id, Sender: m.sender, MessageID: m.messageID,
			Arrived: m.arrived, Seen: m.seen, Bounce: m.bounce, Last: maps.Clone(m.last)}
		if len(m.defers) > 0 {
			ms.Defers = make(map[string]int, len(m.defers))
			for r, n := range m.defers {
				ms.Defers[r] = n
			}
		}
		s.Messages = append(s.Messages, ms)
	}
	return s
}

// Restore replaces the decoder's state with s, as taken by Snapshot.
func (d *Decoder) Restore(s State) {
	d.msgs = make(map[msgKey]*message, len(s.Messages))
	d.newest = time.Time{}
	for _, ms := range s.Messages {
		m := &message{sender: ms.Sender, messageID: ms.MessageID, arrived: ms.Arrived, seen: ms.Seen, bounce: ms.Bounce, last: maps.Clone(ms.Last)}
		if len(ms.Defers) > 0 {
			m.defers = make(map[string]int, len(ms.Defers))
			for r, n := range ms.Defers {
				m.defers[r] = n
			}
		}
		d.msgs[msgKey{ms.Host, ms.ID}] = m
		if ms.Seen.After(d.newest) {
			d.newest = ms.Seen
		}
	}
}

// Len is the number of messages remembered, for a gauge.
func (d *Decoder) Len() int { return len(d.msgs) }
