// Package memory is an analytics store in memory with the contract of the
// ClickHouse sink: attempt rows are kept once per attempts-topic position
// (a partition's watermark skips what it holds), suppressions keep the
// newest version per address, alerts are appended. It lets the engine and
// its guarantees be tested, and bounced be tried, without a ClickHouse
// server. It keeps everything it is given: it is not for production.
package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
)

// Store is safe for concurrent use. The zero value is empty and ready.
type Store struct {
	// Fail, when set, is asked before every write with the operation's
	// name ("attempts", "suppressions", "alerts") and the rows it carries;
	// an error it returns fails the write. With landed true the write is
	// made first and then reported failed, as an INSERT whose answer was
	// lost. Tests use it to crash a flush between its steps.
	Fail func(op string, n int) (err error, landed bool)

	mu         sync.Mutex
	watermarks map[partition]int64
	rows       []decide.Row
	supp       map[string]decide.Change
	alerts     []event.Alert
}

type partition struct {
	topic string
	id    int32
}

// ErrInjected is what a write returns when Fail told it to fail without
// saying why.
var ErrInjected = errors.New("memory store: injected failure")

// Assign does nothing: the store's watermarks are always current (a real
// store reads them back here).
func (s *Store) Assign(context.Context, string, int32) error { return nil }

// Revoke does nothing.
func (s *Store) Revoke(string, int32) {}

func (s *Store) fail(op string, n int, write func()) error {
	if s.Fail != nil {
		if err, landed := s.Fail(op, n); err != nil {
			if landed {
				write()
			}
			return err
		}
	}
	write()
	return nil
}

// WriteAttempts keeps the rows past their partition's watermark.
func (s *Store) WriteAttempts(_ context.Context, rows []decide.Row) error {
	return s.fail("attempts", len(rows), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.watermarks == nil {
			s.watermarks = map[partition]int64{}
		}
		for _, r := range rows {
			k := partition{r.Topic, r.Partition}
			if wm, ok := s.watermarks[k]; ok && r.Offset <= wm {
				continue
			}
			s.watermarks[k] = r.Offset
			s.rows = append(s.rows, r)
		}
	})
}

// WriteSuppressions keeps the newest version of each address's record;
// tombstones stay as changes with a nil Record.
func (s *Store) WriteSuppressions(_ context.Context, changes []decide.Change) error {
	return s.fail("suppressions", len(changes), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.supp == nil {
			s.supp = map[string]decide.Change{}
		}
		for _, c := range changes {
			if old, ok := s.supp[c.Address]; ok && old.Version > c.Version {
				continue
			}
			s.supp[c.Address] = c
		}
	})
}

// WriteAlerts appends the alerts.
func (s *Store) WriteAlerts(_ context.Context, as []event.Alert) error {
	return s.fail("alerts", len(as), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.alerts = append(s.alerts, as...)
	})
}

// Rows returns a copy of the attempt rows, in the order they were stored.
func (s *Store) Rows() []decide.Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]decide.Row(nil), s.rows...)
}

// Suppressions returns the current record of every suppressed address
// (lifted ones left out).
func (s *Store) Suppressions() map[string]event.Suppression {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]event.Suppression, len(s.supp))
	for k, c := range s.supp {
		if c.Record != nil {
			out[k] = *c.Record
		}
	}
	return out
}

// Alerts returns a copy of the alerts stored.
func (s *Store) Alerts() []event.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Alert(nil), s.alerts...)
}
