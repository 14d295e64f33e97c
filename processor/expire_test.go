package processor

import (
	"context"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/statestore"
	"github.com/bounced-dev/bounced/processor/streak"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func expiring(at time.Time) streak.State {
	return streak.State{LastOff: 1, Mark: &streak.Mark{Status: event.StatusSuppressed, Class: event.ClassSoft, Label: event.MailboxFull,
		Source: event.OriginAuto, Since: t0, ExpiresAt: at}}
}

// TestExpiries: the index holds exactly the enforced suppressions that
// expire, and hands out each due one once, oldest first.
func TestExpiries(t *testing.T) {
	held := expiring(t0.Add(time.Hour))
	held.Mark.Status = event.StatusHeld
	never := expiring(time.Time{})
	type put struct {
		key string
		s   streak.State
	}
	for _, tc := range []struct {
		name  string
		table []put // restored state
		puts  []put // states folds changed since
		now   time.Time
		limit int
		want  []string // addresses due, in order
		left  int      // addresses still indexed
	}{
		{name: "restored: due ones oldest first", now: t0.Add(2 * time.Hour),
			table: []put{{"b@x", expiring(t0.Add(2 * time.Hour))}, {"a@x", expiring(t0.Add(time.Hour))}, {"c@x", expiring(t0.Add(3 * time.Hour))}},
			want:  []string{"a@x", "b@x"}, left: 1},
		{name: "nothing due yet", now: t0, table: []put{{"a@x", expiring(t0.Add(time.Hour))}}, left: 1},
		{name: "held, never expiring, not suppressed: not indexed", now: t0.Add(48 * time.Hour),
			table: []put{{"h@x", held}, {"n@x", never}, {"f@x", streak.New()}}},
		{name: "lifted since: dropped", now: t0.Add(2 * time.Hour),
			table: []put{{"a@x", expiring(t0.Add(time.Hour))}}, puts: []put{{"a@x", streak.State{LastOff: 2}}}},
		{name: "renewed since: due at the new time only", now: t0.Add(2 * time.Hour),
			table: []put{{"a@x", expiring(t0.Add(time.Hour))}}, puts: []put{{"a@x", expiring(t0.Add(5 * time.Hour))}}, left: 1},
		{name: "made by a fold", now: t0.Add(2 * time.Hour), puts: []put{{"a@x", expiring(t0.Add(time.Hour))}}, want: []string{"a@x"}},
		{name: "held by a fold: dropped until released", now: t0.Add(2 * time.Hour),
			table: []put{{"a@x", expiring(t0.Add(time.Hour))}}, puts: []put{{"a@x", held}}},
		{name: "the same state again: one command", now: t0.Add(2 * time.Hour),
			table: []put{{"a@x", expiring(t0.Add(time.Hour))}}, puts: []put{{"a@x", expiring(t0.Add(time.Hour))}}, want: []string{"a@x"}},
		{name: "at most limit per sweep", now: t0.Add(2 * time.Hour), limit: 1,
			table: []put{{"a@x", expiring(t0.Add(time.Hour))}, {"b@x", expiring(t0.Add(time.Hour))}}, want: []string{"a@x"}, left: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := statestore.NewTable(4)
			for _, p := range tc.table {
				tb.Put(p.key, p.s)
			}
			e := newExpiries()
			e.rebuild(tb)
			for _, p := range tc.puts {
				e.set(p.key, p.s)
			}
			limit := tc.limit
			if limit == 0 {
				limit = 100
			}
			cs := e.due(tc.now, limit)
			var got []string
			for _, c := range cs {
				got = append(got, c.Address)
				if c.Op != streak.OpExpire || c.Expires.After(tc.now) || !c.At.Equal(tc.now) {
					t.Errorf("command %+v", c)
				}
			}
			if !reflect.DeepEqual(got, tc.want) || e.len() != tc.left {
				t.Fatalf("due %v with %d left, want %v with %d", got, e.len(), tc.want, tc.left)
			}
			if again := e.due(tc.now, limit); len(again) != 0 && tc.limit == 0 {
				t.Errorf("handed out twice: %+v", again)
			}
			// A command not written comes back.
			e.requeue(cs)
			if back := e.due(tc.now, limit); len(back) != len(cs) {
				t.Errorf("requeued %d, due again %d", len(cs), len(back))
			}
		})
	}
}

// TestExpiriesCompact: a queue full of superseded entries is rebuilt.
func TestExpiriesCompact(t *testing.T) {
	e := newExpiries()
	for i := range 5000 {
		e.set("a@x", expiring(t0.Add(time.Duration(i+1)*time.Minute)))
	}
	if len(e.q) > 1030 || e.len() != 1 {
		t.Fatalf("queue of %d for %d addresses", len(e.q), e.len())
	}
	if cs := e.due(t0.Add(10000*time.Minute), 10); len(cs) != 1 || !cs[0].Expires.Equal(t0.Add(5000*time.Minute)) {
		t.Fatalf("due %+v", cs)
	}
}

// quiet is a partition with no records: FetchMessage blocks until its
// context ends, or returns what is sent on recs.
type quiet struct{ recs chan kafka.Message }

func (q quiet) FetchMessage(ctx context.Context) (kafka.Message, error) {
	select {
	case m := <-q.recs:
		return m, nil
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}
func (quiet) Lag() int64   { return 0 }
func (quiet) Close() error { return nil }

// TestBatcherIdle: with idle set, a quiet partition's next returns an
// empty batch every idle interval, so stage 2's sweep of due expiries runs
// at least that often; a record that comes ends its batch at its window,
// not at the idle interval.
func TestBatcherIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := quiet{recs: make(chan kafka.Message)}
		b := &batcher{r: q, size: 10, bytes: 1 << 20, interval: time.Second, idle: expireIdle}
		start := time.Now()
		for i := 1; i <= 3; i++ {
			msgs, err := b.next(t.Context(), nil)
			if err != nil || len(msgs) != 0 {
				t.Fatalf("idle batch %d: %d records, %v", i, len(msgs), err)
			}
			if got := time.Since(start); got != time.Duration(i)*expireIdle {
				t.Fatalf("idle batch %d after %s, want %s", i, got, time.Duration(i)*expireIdle)
			}
		}
		// A record 59s into the interval: its batch closes at its window
		// (0.5..1.5 s), although the idle interval ends a second later.
		go func() {
			time.Sleep(expireIdle - time.Second)
			q.recs <- kafka.Message{Offset: 7}
		}()
		t1 := time.Now()
		msgs, err := b.next(t.Context(), nil)
		if err != nil || len(msgs) != 1 || msgs[0].Offset != 7 {
			t.Fatalf("batch %v, %v", msgs, err)
		}
		if got := time.Since(t1); got < expireIdle-time.Second/2 || got > expireIdle+time.Second/2 {
			t.Fatalf("batch with a record ended after %s", got)
		}
		// Without idle, next waits for a record however long it takes.
		b.idle = 0
		go func() {
			time.Sleep(10 * expireIdle)
			q.recs <- kafka.Message{Offset: 8}
		}()
		t2 := time.Now()
		if msgs, err := b.next(t.Context(), nil); err != nil || len(msgs) != 1 || time.Since(t2) < 10*expireIdle {
			t.Fatalf("without idle: %v %v after %s", msgs, err, time.Since(t2))
		}
	})
}
