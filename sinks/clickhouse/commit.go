package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Group commit. Stage 2 runs one worker per partition, and each flush calls
// InsertAttempts for its partition. Every INSERT writes a new part into the
// table and into each materialized view fed from it, and creating part files
// is most of what the server spends on our inserts; so the rows of
// concurrent calls are sent together. A committer per table (attempts,
// outcomes) collects the rows the calls have left after their own
// watermark checks, waits up to Config.InsertLinger for the other
// partitions, and sends them in one INSERT (one per BatchSize rows); every
// call gets the result. The watermark logic stays per partition, in the
// caller: a failed shared INSERT fails every call in it, and each drops its
// cached watermarks as before, so each retry reads the server's state.
//
// The INSERT's query id names every partition it carries (queryID), so a
// member about to read a partition's watermark still finds, in
// system.processes, an INSERT that carries that partition's rows among
// others (awaitInflight).

// recentWindow is how long a partition counts as writing: a group is sent
// before its linger ends once every partition of its topic that joined a
// group within this window has joined it.
const recentWindow = 2 * time.Second

// maxFreeBufs bounds the column buffers a committer keeps between INSERTs.
const maxFreeBufs = 2

type topicPartition struct {
	topic     string
	partition int32
}

// committer sends one table's rows for every partition of a Client.
type committer struct {
	c      *Client
	shard  *shard
	table  string
	insert string
	newBuf func() rowBuf
	linger time.Duration

	mu     sync.Mutex
	open   map[string]*group // per topic, the group still taking members
	recent map[topicPartition]time.Time
	free   []rowBuf
}

// newCommitter sends table's rows to shard s, into its local table.
func newCommitter(c *Client, s *shard, table string, newBuf func() rowBuf) *committer {
	return &committer{
		c:      c,
		shard:  s,
		table:  table,
		insert: insertSQL(c.local(table), newBuf()),
		newBuf: newBuf,
		linger: c.cfg.InsertLinger,
		open:   map[string]*group{},
		recent: map[topicPartition]time.Time{},
	}
}

// member is one call's rows in a group.
type member struct {
	ctx       context.Context
	partition int32
	rows      []AttemptRow
	err       error // set when the call's context ended before the group was sent
}

// group is the rows of one topic sent together.
type group struct {
	topic   string
	members []*member
	sealed  bool // no more members; being sent
	timer   *time.Timer
	done    chan struct{}
	err     error // the send's, valid once done is closed
}

// submit writes rows (one partition's, ascending offsets) with those of the
// other calls that arrive within the linger, and returns the result of the
// INSERTs that carried them. A call whose context ends while its group
// still waits leaves the group and returns the context's error. Once the
// group is being sent, the call waits for the send to end, which is
// cancelled when every member's context has ended: returning earlier would
// let the partition's next owner read its watermark before the INSERT that
// carries its rows is visible in system.processes.
func (cm *committer) submit(ctx context.Context, topic string, partition int32, rows []AttemptRow) error {
	m := &member{ctx: ctx, partition: partition, rows: rows}
	now := time.Now()
	cm.mu.Lock()
	cm.recent[topicPartition{topic, partition}] = now
	g := cm.open[topic]
	if g == nil {
		g = &group{topic: topic, done: make(chan struct{})}
		cm.open[topic] = g
		if cm.linger > 0 {
			g.timer = time.AfterFunc(cm.linger, func() {
				cm.mu.Lock()
				cm.seal(g)
				cm.mu.Unlock()
			})
		}
	}
	g.members = append(g.members, m)
	if cm.linger <= 0 || cm.complete(g, now) {
		cm.seal(g)
	}
	cm.mu.Unlock()

	select {
	case <-g.done:
		return m.result(g)
	case <-ctx.Done():
	}
	cm.mu.Lock()
	if !g.sealed {
		g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
		if len(g.members) == 0 {
			cm.seal(g)
		}
		cm.mu.Unlock()
		return ctx.Err()
	}
	cm.mu.Unlock()
	<-g.done
	return m.result(g)
}

func (m *member) result(g *group) error {
	if m.err != nil {
		return m.err
	}
	return g.err
}

// complete reports whether every partition of g's topic that wrote
// recently is in g. Called with cm.mu held; it also forgets partitions
// that stopped writing.
func (cm *committer) complete(g *group, now time.Time) bool {
	all := true
	for tp, t := range cm.recent {
		switch {
		case now.Sub(t) > recentWindow:
			delete(cm.recent, tp)
		case tp.topic == g.topic && all:
			all = slices.ContainsFunc(g.members, func(m *member) bool { return m.partition == tp.partition })
		}
	}
	return all
}

// forget stops waiting for a partition (revoked, or its call failed).
func (cm *committer) forget(topic string, partition int32) {
	cm.mu.Lock()
	delete(cm.recent, topicPartition{topic, partition})
	cm.mu.Unlock()
}

// seal closes g to new members and sends it. Called with cm.mu held.
func (cm *committer) seal(g *group) {
	if g.sealed {
		return
	}
	g.sealed = true
	if g.timer != nil {
		g.timer.Stop()
	}
	if cm.open[g.topic] == g {
		delete(cm.open, g.topic)
	}
	if len(g.members) == 0 {
		close(g.done)
		return
	}
	go cm.run(g)
}

// run sends a sealed group. The send has a context of its own, cancelled
// once every member's has ended: one member giving up (its partition
// revoked) must not fail the others' rows. Members whose context ended
// before the send are left out of it.
func (cm *committer) run(g *group) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		if err := m.ctx.Err(); err != nil {
			m.err = err
			continue
		}
		live = append(live, m)
	}
	var left atomic.Int64
	left.Store(int64(len(live)))
	for _, m := range live {
		stop := context.AfterFunc(m.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	g.err = cm.send(ctx, g.topic, live)
	close(g.done)
}

// send writes the members' rows, in order, in INSERTs of at most BatchSize
// rows.
func (cm *committer) send(ctx context.Context, topic string, ms []*member) error {
	total := 0
	for _, m := range ms {
		total += len(m.rows)
	}
	if total == 0 {
		return nil
	}
	buf := cm.getBuf()
	defer cm.putBuf(buf)
	limit := cm.c.cfg.BatchSize
	var (
		parts []int32
		spans []span
	)
	mi, ri := 0, 0 // the next row: member mi, its row ri
	for sent := 0; sent < total; {
		n := min(limit, total-sent)
		buf.grow(n)
		parts, spans = parts[:0], spans[:0]
		for taken := 0; taken < n; {
			m := ms[mi]
			take := min(len(m.rows)-ri, n-taken)
			for i := ri; i < ri+take; i++ {
				buf.add(&m.rows[i])
			}
			if take > 0 {
				parts = append(parts, m.partition)
				spans = append(spans, span{m.partition, m.rows[ri].Offset, m.rows[ri+take-1].Offset})
			}
			taken, ri = taken+take, ri+take
			if ri == len(m.rows) {
				mi, ri = mi+1, 0
			}
		}
		buf.finish()
		err := cm.sendChunk(ctx, buf, topic, parts, spans)
		buf.reset()
		if err != nil {
			return err
		}
		sent += n
	}
	return nil
}

func (cm *committer) sendChunk(ctx context.Context, buf rowBuf, topic string, parts []int32, spans []span) (err error) {
	var token string
	if cm.c.cfg.Cluster != "" && cm.c.version.dedupToken() {
		token = dedupToken(cm.table, topic, spans)
	}
	qctx := ch.Context(cm.c.insertContext(ctx, token), ch.WithQueryID(queryID(cm.c.cfg.Database, cm.table, topic, parts)))
	batch, err := cm.c.connOf(cm.shard).PrepareBatch(qctx, cm.insert)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() {
		if !batch.IsSent() {
			err = errors.Join(err, batch.Abort())
		}
	}()
	for i, c := range buf.columns() {
		if err := c.col.appendTo(batch.Column(i)); err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	if f := cm.c.beforeSend; f != nil {
		f(cm.table, parts)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func (cm *committer) getBuf() rowBuf {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if n := len(cm.free); n > 0 {
		b := cm.free[n-1]
		cm.free = cm.free[:n-1]
		return b
	}
	return cm.newBuf()
}

func (cm *committer) putBuf(b rowBuf) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if len(cm.free) < maxFreeBufs {
		cm.free = append(cm.free, b)
	}
}

// queryID is the query id of an INSERT into table of rows from the topic's
// partitions: "bounced-<database>-<table>-<topic>-.<p>.<p>.-<random>", the
// partitions ascending between dots, so that inflightWhere finds partition
// p by ".p." after the prefix. The database keeps two deployments on one
// server apart.
func queryID(database, table, topic string, parts []int32) string {
	parts = slices.Clone(parts)
	slices.Sort(parts)
	parts = slices.Compact(parts)
	b := make([]byte, 0, 64+len(topic)+len(database)+6*len(parts))
	b = append(append(b, inflightPrefix(database, table, topic)...), '.')
	for _, p := range parts {
		b = append(strconv.AppendInt(b, int64(p), 10), '.')
	}
	b = append(b, '-')
	b = strconv.AppendUint(b, rand.Uint64(), 36)
	return string(b)
}

// inflightPrefix starts the query id of every INSERT into the database's
// table of rows from topic, whichever member sends it; the partition list
// follows, starting with a dot.
func inflightPrefix(database, table, topic string) string {
	return "bounced-" + database + "-" + table + "-" + topic + "-"
}

// inflightWhere is the condition on system.processes (for SELECT and KILL
// QUERY) that finds the INSERTs carrying rows of k's partition: ".<p>." in
// the partition list after the prefix. The second term finds the query ids
// of releases before group commit ("bounced-<table>-<topic>-<p>-<offset>-<random>",
// without the database), still running while members are upgraded one by
// one; at worst it makes a member wait for another deployment's INSERT.
func inflightWhere(database string, k partitionKey) (string, []any) {
	prefix := inflightPrefix(database, k.table, k.topic) + "."
	p := strconv.Itoa(int(k.partition))
	legacy := "bounced-" + k.table + "-" + k.topic + "-" + p + "-"
	return "(substring(query_id, 1, length(?)) = ? AND position(substring(query_id, length(?)), ?) > 0)" +
			" OR substring(query_id, 1, length(?)) = ?",
		[]any{prefix, prefix, prefix, "." + p + ".", legacy, legacy}
}
