package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bounced-dev/bounced/processor/event"
)

// AttemptRow is one attempt with the Kafka position it was read from. The
// position is stored with the row and is what makes inserts effectively-once.
type AttemptRow struct {
	Topic     string
	Partition int32
	Offset    int64
	Attempt   *event.Attempt
	// SendDelivered and SendBounced are what the attempt changes in the
	// count of ended sends (stage 2 works them out from the recipient's
	// state): +1 delivered for a first delivery, +1 bounced for a send
	// ending in failure, -1 delivered +1 bounced for a late bounce.
	SendDelivered, SendBounced int8
}

// SuppressionRow is one record of the compacted suppressions topic.
type SuppressionRow struct {
	// Address is the record key, the normalised address.
	Address string
	// Record is the suppression; nil is a tombstone (the address was lifted).
	Record *event.Suppression
	// Version orders the writes for one address, highest wins (e.g. the
	// suppressions topic offset). Re-writing the same version is harmless.
	Version uint64
}

// partitionKey names one watermark: a table's highest stored offset of one
// topic-partition. attempts and outcomes each have their own, so a crash
// between their INSERTs loses nothing.
type partitionKey struct {
	table     string
	topic     string
	partition int32
}

// The tables written under an offset watermark.
const (
	tableAttempts = "attempts"
	tableOutcomes = "outcomes"
)

// offsetsTable is where a table's stored offsets are read: attempts holds
// its own; outcomes' are copied by a materialized view into
// outcomes_offsets, because ReplacingMergeTree merges delete outcome rows.
func offsetsTable(table string) string {
	if table == tableOutcomes {
		return "outcomes_offsets"
	}
	return table
}

var suppressionColumns = []string{
	"address", "domain", "status", "class", "label", "reason", "rule", "since", "updated_at",
	"soft_streak", "source", "evidence", "deleted", "version",
}

// Watermark returns the highest attempts offset stored for the
// topic-partition, or -1 when none is. Call it on partition assignment: while
// another member owned the partition the cached watermarks went stale. It
// drops the cached watermarks of attempts and outcomes, so the next
// InsertAttempts reads both back from the server and also fills any gap
// below them (an INSERT that landed in part).
func (c *Client) Watermark(ctx context.Context, topic string, partition int32) (int64, error) {
	c.ForgetWatermark(topic, partition)
	return c.readWatermark(ctx, partitionKey{tableAttempts, topic, partition})
}

func (c *Client) readWatermark(ctx context.Context, k partitionKey) (int64, error) {
	var wm int64
	// count() guards the empty case: max() of no rows is 0 on 18.16, not NULL.
	var n uint64
	// The partition's shard, never the Distributed table: the sync covers
	// only the replica it runs on.
	conn, table := c.connOf(c.shardOf(k.partition)), c.local(offsetsTable(k.table))
	if err := c.syncReplica(ctx, conn, table); err != nil {
		return 0, fmt.Errorf("clickhouse %s watermark %s/%d: %w", k.table, k.topic, k.partition, err)
	}
	err := conn.QueryRow(c.readContext(ctx),
		"SELECT count(), max(src_offset) FROM "+table+" WHERE src_topic = ? AND src_partition = ?",
		k.topic, k.partition).Scan(&n, &wm)
	if err != nil {
		return 0, fmt.Errorf("clickhouse %s watermark %s/%d: %w", k.table, k.topic, k.partition, err)
	}
	if n == 0 {
		return -1, nil
	}
	return wm, nil
}

// storedOffsets returns which offsets in [lo, hi] the partition already has.
func (c *Client) storedOffsets(ctx context.Context, k partitionKey, lo, hi int64) (map[int64]bool, error) {
	rows, err := c.connOf(c.shardOf(k.partition)).Query(c.readContext(ctx),
		"SELECT DISTINCT src_offset FROM "+c.local(offsetsTable(k.table))+" WHERE src_topic = ? AND src_partition = ? AND src_offset >= ? AND src_offset <= ?",
		k.topic, k.partition, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("clickhouse stored offsets %s/%d: %w", k.topic, k.partition, err)
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var o int64
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("clickhouse stored offsets %s/%d: %w", k.topic, k.partition, err)
		}
		have[o] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse stored offsets %s/%d: %w", k.topic, k.partition, err)
	}
	return have, nil
}

// InsertAttempts writes rows of one topic-partition, given in strictly
// ascending offset order, to attempts and (for the attempts that have one) to
// outcomes, skipping those ClickHouse already has. Each table has its own
// watermark, so a crash between the two INSERTs leaves nothing lost: the
// replay skips the stored attempts and writes the missing outcomes.
//
// With a cached watermark, rows at or below it are skipped. Without one (first
// call for the partition, after Watermark, or after a failed insert) the
// watermark is read back and, when the rows reach below it, the offsets
// actually stored in that range are too: rows are skipped only if present.
// That also repairs an INSERT that landed in part (a block spanning several
// monthly partitions is written part by part), which a bare "offset <= max"
// test would turn into lost rows.
//
// Rows are sent, with those of concurrent calls for other partitions (see
// Config.InsertLinger), in INSERTs of at most BatchSize rows; once all are
// stored the watermark advances. An error is returned as is, never retried
// here: the cached watermark is dropped so the caller's retry re-reads the
// server's state. An error of a shared INSERT fails every call in it.
func (c *Client) InsertAttempts(ctx context.Context, rows []AttemptRow) error {
	if len(rows) == 0 {
		return nil
	}
	k := partitionKey{tableAttempts, rows[0].Topic, rows[0].Partition}
	for i, r := range rows {
		switch {
		case r.Topic != k.topic || r.Partition != k.partition:
			return fmt.Errorf("clickhouse insert attempts: row %d is from %s/%d, row 0 from %s/%d: one topic-partition per call",
				i, r.Topic, r.Partition, k.topic, k.partition)
		case i > 0 && r.Offset <= rows[i-1].Offset:
			return fmt.Errorf("clickhouse insert attempts %s/%d: row %d offset %d after %d: offsets must ascend",
				k.topic, k.partition, i, r.Offset, rows[i-1].Offset)
		case r.Offset < 0:
			return fmt.Errorf("clickhouse insert attempts %s/%d: row %d: negative offset %d", k.topic, k.partition, i, r.Offset)
		case r.Attempt == nil:
			return fmt.Errorf("clickhouse insert attempts %s/%d: offset %d: nil attempt", k.topic, k.partition, r.Offset)
		case !r.Attempt.Outcome.Valid():
			return fmt.Errorf("clickhouse insert attempts %s/%d: offset %d: invalid outcome %q", k.topic, k.partition, r.Offset, r.Attempt.Outcome)
		}
	}
	s := c.shardOf(k.partition)
	err := c.insertGuarded(ctx, k, rows, s.attempts)
	if err == nil && c.beforeOutcomes != nil {
		err = c.beforeOutcomes()
	}
	if err == nil {
		sends := make([]AttemptRow, 0, len(rows))
		for _, r := range rows {
			if hasOutcome(r.Attempt) {
				sends = append(sends, r)
			}
		}
		k.table = tableOutcomes
		err = c.insertGuarded(ctx, k, sends, s.outcomes)
	}
	if err != nil {
		// Whatever failed, the retry re-reads both tables' watermarks.
		c.ForgetWatermark(k.topic, k.partition)
	}
	return err
}

// insertGuarded writes the rows (ascending offsets, one topic-partition) to
// k.table through its committer, skipping those at or below the table's
// watermark.
func (c *Client) insertGuarded(ctx context.Context, k partitionKey, rows []AttemptRow, cm *committer) error {
	if len(rows) == 0 {
		return nil
	}
	c.mu.Lock()
	wm, cached := c.watermarks[k]
	c.mu.Unlock()

	var todo []AttemptRow
	if cached {
		todo = afterOffset(rows, wm)
	} else {
		var err error
		if err = c.awaitInflight(ctx, k); err != nil {
			return fmt.Errorf("clickhouse insert %s: %w", k.table, err)
		}
		if wm, err = c.readWatermark(ctx, k); err != nil {
			return fmt.Errorf("clickhouse insert %s: %w", k.table, err)
		}
		todo = rows
		if rows[0].Offset <= wm {
			have, err := c.storedOffsets(ctx, k, rows[0].Offset, min(wm, rows[len(rows)-1].Offset))
			if err != nil {
				return fmt.Errorf("clickhouse insert %s: %w", k.table, err)
			}
			todo = make([]AttemptRow, 0, len(rows))
			for _, r := range rows {
				if !have[r.Offset] {
					todo = append(todo, r)
				}
			}
		}
		c.setWatermark(k, wm)
	}
	if skipped := len(rows) - len(todo); skipped > 0 {
		c.log.Debug("clickhouse rows already stored, skipped", "table", k.table,
			"topic", k.topic, "partition", k.partition, "skipped", skipped, "watermark", wm)
	}
	if len(todo) == 0 {
		return nil
	}
	if err := cm.submit(ctx, k.topic, k.partition, todo); err != nil {
		// The INSERT may have landed (timeout after the server wrote it):
		// forget what we think is stored and let the retry ask the server.
		c.mu.Lock()
		delete(c.watermarks, k)
		c.mu.Unlock()
		return fmt.Errorf("clickhouse insert %s %s/%d offsets %d-%d: %w",
			k.table, k.topic, k.partition, todo[0].Offset, todo[len(todo)-1].Offset, err)
	}
	c.setWatermark(k, todo[len(todo)-1].Offset)
	return nil
}

// awaitInflight waits until no INSERT for k's partition is running on the
// server before its watermark is read. An INSERT whose client gave up (a
// timeout, a cancelled context, or a member that lost its partition) can
// still complete on the server after the watermark was read, and its rows
// would then be written a second time. An INSERT shared by several
// partitions (group commit) names them all in its query id and is found for
// each. Inserts still running after a minute are killed (with the other
// partitions' rows they carry: those callers get an error and retry); what
// they wrote in part is found by the stored-offsets check.
func (c *Client) awaitInflight(ctx context.Context, k partitionKey) error {
	where, args := inflightWhere(c.cfg.Database, k)
	s := c.shardOf(k.partition)
	// Every replica of the partition's shard, each asked directly: an
	// INSERT runs on the replica that took it, and the cluster table
	// function asks only one replica of each shard.
	conns := append([]driver.Conn{c.connOf(s)}, s.others...)
	addrs := append([]string{s.addr}, s.otherAddrs...)
	deadline := time.Now().Add(time.Minute)
	for {
		var total uint64
		for i, conn := range conns {
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE "+where, args...).Scan(&n); err != nil {
				return fmt.Errorf("inserts in flight for %s/%d on %s: %w", k.topic, k.partition, addrs[i], err)
			}
			total += n
		}
		if total == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			c.log.Warn("clickhouse: killing inserts still running for the partition", "table", k.table, "topic", k.topic, "partition", k.partition, "count", total)
			for i, conn := range conns {
				if err := conn.Exec(ctx, "KILL QUERY WHERE "+where+" SYNC", args...); err != nil {
					return fmt.Errorf("kill inserts in flight for %s/%d on %s: %w", k.topic, k.partition, addrs[i], err)
				}
			}
			deadline = time.Now().Add(time.Minute)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// setWatermark records wm for k unless a higher one is known.
func (c *Client) setWatermark(k partitionKey, wm int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.watermarks[k]; !ok || wm > cur {
		c.watermarks[k] = wm
	}
}

// ForgetWatermark drops the cached watermarks (attempts and outcomes) of a
// topic-partition. Call it when the partition is revoked: another member may
// write to it before it comes back, and a stale (low) cached watermark would
// let rows be written twice.
func (c *Client) ForgetWatermark(topic string, partition int32) {
	c.mu.Lock()
	delete(c.watermarks, partitionKey{tableAttempts, topic, partition})
	delete(c.watermarks, partitionKey{tableOutcomes, topic, partition})
	c.mu.Unlock()
	s := c.shardOf(partition)
	s.attempts.forget(topic, partition)
	s.outcomes.forget(topic, partition)
}

// afterOffset returns the suffix of ascending rows with offsets above wm.
func afterOffset(rows []AttemptRow, wm int64) []AttemptRow {
	for i, r := range rows {
		if r.Offset > wm {
			return rows[i:]
		}
	}
	return nil
}

// InsertSuppressions writes suppression records and tombstones. The table keeps
// the highest Version per address (read with FINAL), so writing a record twice
// is harmless and no watermark is needed.
func (c *Client) InsertSuppressions(ctx context.Context, recs []SuppressionRow) error {
	if len(c.shards) > 1 {
		// Each address to its shard (suppressionShard), one INSERT per shard.
		by := make([][]SuppressionRow, len(c.shards))
		for _, r := range recs {
			i := suppressionShard(r.Address, len(c.shards))
			by[i] = append(by[i], r)
		}
		for i, rs := range by {
			if err := c.insertSuppressions(ctx, c.shards[i], rs); err != nil {
				return err
			}
		}
		return nil
	}
	return c.insertSuppressions(ctx, c.shards[0], recs)
}

func (c *Client) insertSuppressions(ctx context.Context, s *shard, recs []SuppressionRow) error {
	for start := 0; start < len(recs); start += c.cfg.BatchSize {
		chunk := recs[start:min(start+c.cfg.BatchSize, len(recs))]
		if err := c.sendSuppressions(ctx, s, chunk); err != nil {
			return fmt.Errorf("clickhouse insert suppressions on %s: %w", s.addr, err)
		}
	}
	return nil
}

func (c *Client) sendSuppressions(ctx context.Context, s *shard, recs []SuppressionRow) (err error) {
	batch, err := c.connOf(s).PrepareBatch(ctx, "INSERT INTO "+c.local("suppressions")+" ("+strings.Join(suppressionColumns, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() {
		if !batch.IsSent() {
			err = errors.Join(err, batch.Abort())
		}
	}()
	for _, r := range recs {
		if r.Address == "" {
			return errors.New("empty address")
		}
		s := r.Record
		if s == nil {
			// Tombstone: the times are left at the epoch rather than now, so
			// a replayed tombstone writes the identical row.
			err = batch.Append(r.Address, domainOf(r.Address), "", "", "", "", "", epoch, epoch,
				uint32(0), "", "[]", uint8(1), r.Version)
		} else {
			evidence := []byte("[]")
			if len(s.Evidence) > 0 {
				if evidence, err = json.Marshal(s.Evidence); err != nil {
					return fmt.Errorf("%s: encode evidence: %w", r.Address, err)
				}
			}
			err = batch.Append(r.Address, domainOf(r.Address), string(s.Status), string(s.Class), string(s.Label),
				s.Reason, s.Rule, dateTime(s.Since), dateTime(s.UpdatedAt), uint32(max(0, s.SoftStreak)),
				string(s.Source), string(evidence), uint8(0), r.Version)
		}
		if err != nil {
			return fmt.Errorf("append %s: %w", r.Address, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

var (
	epoch       = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(math.MaxUint32, 0).UTC()
)

// dateTime clamps t into DateTime's range (1970 to 2106): the driver would
// silently wrap an out-of-range value, and an error would wedge the
// partition on one bad event forever. A zero time becomes the epoch.
func dateTime(t time.Time) time.Time {
	switch {
	case t.Before(epoch):
		return epoch
	case t.After(maxDateTime):
		return maxDateTime
	}
	return t.UTC()
}

func clampU16(n int) uint16 {
	return uint16(min(max(n, 0), math.MaxUint16))
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// recipientOf is the normalised recipient and its domain, derived when
// stage 1 did not fill them in.
func recipientOf(a *event.Attempt) (recipient, domain string) {
	recipient = a.RecipientNorm
	if recipient == "" {
		recipient = strings.ToLower(a.Recipient)
	}
	domain = a.RecipientDomain
	if domain == "" {
		domain = domainOf(recipient)
	}
	return recipient, domain
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
