package processor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

// TestEngineExpire: with policy.expire.mailbox_full = 1h, a mailbox_full
// suppression whose events lie days in the past is already due: the
// partition's owner writes its expire command, the fold turns it into a
// tombstone on the suppressions topic (after the record with expires_at),
// the store drops it, and a later soft failure starts a fresh streak
// instead of suppressing again. A hard bounce, whose label has no expiry,
// stays suppressed.
func TestEngineExpire(t *testing.T) {
	r := newRig(t)
	policy := streak.Policy{Expire: map[event.Label]time.Duration{event.MailboxFull: time.Hour}}
	p, err := processor.New(testConfig(), r.tc, policy, processor.Deps{Conn: r.conn, Ingester: r.ing, Store: r.store, StateDir: t.TempDir(),
		TopicID: func(ctx context.Context, topic string) (string, error) { return topics.Incarnation(ctx, r.kgo, topic) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m := &member{p: p, stop: cancel, done: make(chan error, 1)}
	go func() { m.done <- p.Run(ctx) }()
	defer m.halt(t)

	const full, hard = "full@exp.example", "gone@exp.example"
	const fullText = "550 5.2.2 <full@exp.example>... Mailbox Full"
	t0 := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	var recs []demo.Record
	for i := range 3 {
		recs = append(recs, attempt(fmt.Sprintf("f%d", i), full, "bounced", t0.Add(time.Duration(i)*24*time.Hour), 550, "5.2.2", fullText))
	}
	recs = append(recs, attempt("g0", hard, "bounced", t0, 550, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."))
	r.produce(t, recs)

	// The record with expires_at, then its tombstone.
	wantExpires := t0.Add(48*time.Hour + time.Hour)
	var history []*event.Suppression
	deadline := time.Now().Add(time.Minute)
	for {
		history = history[:0]
		r.scan(t, r.tc.Suppressions, func(msg kafka.Message) {
			if string(msg.Key) != full {
				return
			}
			if msg.Value == nil {
				history = append(history, nil)
				return
			}
			var s event.Suppression
			if err := json.Unmarshal(msg.Value, &s); err != nil {
				t.Fatal(err)
			}
			history = append(history, &s)
		})
		if len(history) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(history) != 2 || history[0] == nil || history[1] != nil {
		t.Fatalf("suppressions topic for %s: %v, want a record, then a tombstone", full, history)
	}
	if rec := history[0]; rec.Label != event.MailboxFull || !rec.ExpiresAt.Equal(wantExpires) {
		t.Fatalf("record %+v, want mailbox_full expiring at %v", rec, wantExpires)
	}
	r.drained(t)
	if _, ok := r.store.Suppressions()[full]; ok {
		t.Errorf("the store still holds %s's suppression", full)
	}
	if s, ok := r.store.Suppressions()[hard]; !ok || !s.ExpiresAt.IsZero() {
		t.Errorf("%s: store has %+v (found %v), want suppressed for good", hard, s, ok)
	}

	// A fresh streak: one more failure does not suppress again.
	r.produce(t, []demo.Record{attempt("f9", full, "bounced", t0.Add(5*24*time.Hour), 550, "5.2.2", fullText)})
	r.drained(t)
	view := suppressions.NewView(r.conn, r.tc.Suppressions, nil)
	if err := view.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s, ok := view.Get(full); ok {
		t.Errorf("%s suppressed again by one failure after its expiry: %+v", full, s)
	}
	if _, ok := view.Get(hard); !ok {
		t.Errorf("%s's hard suppression is gone", hard)
	}
}
