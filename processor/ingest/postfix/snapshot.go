package postfix

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bounced-dev/bounced/processor/reply"
)

// snapshotVersion is the version Snapshot writes and Restore accepts.
const snapshotVersion = 1

// The JSON shapes of the snapshot (see the package doc). Keys are short
// because a partition can hold a million entries.
type snapFile struct {
	V       int         `json:"v"`
	Now     int64       `json:"now,omitempty"`
	Entries []snapEntry `json:"e"`
}

type snapEntry struct {
	Host        string      `json:"h,omitempty"`
	QID         string      `json:"q"`
	First       int64       `json:"f,omitempty"`
	Last        int64       `json:"l,omitempty"`
	MessageID   string      `json:"m,omitempty"`
	Sender      string      `json:"s,omitempty"`
	SenderKnown bool        `json:"sk,omitempty"`
	Bounce      bool        `json:"b,omitempty"`
	Headers     [][2]string `json:"hd,omitempty"`
	Rcpts       []snapRcpt  `json:"r,omitempty"`
}

type snapRcpt struct {
	Addr         string `json:"a"`
	Orig         string `json:"o,omitempty"`
	Deferrals    int    `json:"n,omitempty"`
	Final        bool   `json:"x,omitempty"`
	LastDeferral int64  `json:"t,omitempty"`
	Reason       string `json:"re,omitempty"`
	DSN          string `json:"d,omitempty"`
	Local        bool   `json:"lf,omitempty"`
}

// Snapshot encodes the correlation state (format in the package doc) so the
// pipeline can persist it with the offsets it reflects and Restore it after
// a restart or a rebalance.
func (d *Decoder) Snapshot() ([]byte, error) {
	f := snapFile{V: snapshotVersion, Now: d.st.now, Entries: make([]snapEntry, 0, len(d.st.m))}
	for e := d.st.head; e != nil; e = e.next {
		se := snapEntry{
			Host: e.key.host, QID: e.key.qid, First: e.first, Last: e.last,
			MessageID: e.messageID, Sender: e.sender, SenderKnown: e.senderKnown,
			Bounce: e.bounce, Headers: e.headers,
		}
		for _, r := range e.rcpts {
			se.Rcpts = append(se.Rcpts, snapRcpt{
				Addr: r.addr, Orig: r.orig, Deferrals: r.deferrals, Final: r.final,
				LastDeferral: r.lastDeferral, Reason: r.reason, DSN: r.dsn, Local: r.local,
			})
		}
		f.Entries = append(f.Entries, se)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("postfix snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the state with a Snapshot's. On error the state is left
// as it was. A snapshot with more entries than Config.MaxEntries keeps the
// most recently touched ones.
func (d *Decoder) Restore(b []byte) error {
	var f snapFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("postfix restore: %w", err)
	}
	if f.V != snapshotVersion {
		return fmt.Errorf("postfix restore: snapshot version %d, want %d", f.V, snapshotVersion)
	}
	st := newState()
	st.now = f.Now
	entries := f.Entries
	if len(entries) > d.cfg.MaxEntries {
		entries = entries[len(entries)-d.cfg.MaxEntries:]
	}
	for _, se := range entries {
		if se.QID == "" {
			return errors.New("postfix restore: entry without a queue id")
		}
		k := key{se.Host, se.QID}
		if old := st.m[k]; old != nil {
			st.remove(old) // a later duplicate wins, as it was touched later
		}
		e := &entry{
			key: k, first: se.First, last: se.Last, messageID: se.MessageID,
			sender: se.Sender, senderKnown: se.SenderKnown, bounce: se.Bounce,
		}
		for _, h := range se.Headers {
			e.setHeader(h[0], h[1])
		}
		for _, sr := range se.Rcpts {
			if sr.Addr == "" || e.recipient(sr.Addr) != nil {
				continue
			}
			r := e.addRecipient(sr.Addr, sr.Orig)
			if r == nil {
				break
			}
			r.deferrals, r.final, r.lastDeferral = sr.Deferrals, sr.Final, sr.LastDeferral
			r.reason, r.dsn, r.local = reply.Clip(sr.Reason, maxReasonLen), sr.DSN, sr.Local
		}
		st.m[k] = e
		st.pushBack(e)
	}
	d.st = st
	return nil
}
