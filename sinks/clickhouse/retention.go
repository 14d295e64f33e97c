package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"
)

// retainedTables are the raw tables partitioned by toYYYYMM(sent_at) that
// retention drops from. The rollups are small and kept.
var retainedTables = []string{tableAttempts, tableOutcomes, "outcomes_offsets"}

// DropPartitionsBefore drops every monthly partition of the raw tables
// (attempts, outcomes and its offsets) whose month ended before cutoff: the month of a row's
// send time, so a partition goes only once all of it is older than cutoff.
// It works on every server (18.16 has no TTL) and is idempotent; it returns
// what it dropped as "table/YYYYMM". Rollups fed from the dropped rows keep
// their counts.
func (c *Client) DropPartitionsBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	cutoff = cutoff.UTC()
	keepFrom := uint64(cutoff.Year()*100 + int(cutoff.Month())) // the cutoff's own month stays
	var dropped []string
	// Shard by shard, on the local tables of the replica written to;
	// replication drops the partition on the shard's other replicas.
	for _, s := range c.shards {
		conn := c.connOf(s)
		for _, table := range retainedTables {
			local := c.local(table)
			parts, err := c.partitions(ctx, s, local)
			if err != nil {
				return dropped, err
			}
			for _, p := range parts {
				month, err := strconv.ParseUint(p, 10, 32)
				if err != nil || month >= keepFrom {
					continue // not a YYYYMM partition, or not old enough
				}
				if err := conn.Exec(ctx, "ALTER TABLE "+local+" DROP PARTITION "+strconv.FormatUint(month, 10)); err != nil {
					return dropped, fmt.Errorf("clickhouse retention: drop %s partition %d on %s: %w", local, month, s.addr, err)
				}
				if !slices.Contains(dropped, table+"/"+p) {
					dropped = append(dropped, table+"/"+p)
				}
			}
		}
	}
	return dropped, nil
}

// partitions lists the partition ids with active parts of a table on
// shard s's replica.
func (c *Client) partitions(ctx context.Context, s *shard, table string) ([]string, error) {
	rows, err := c.connOf(s).Query(ctx,
		"SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active",
		c.cfg.Database, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse retention: list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("clickhouse retention: list partitions of %s: %w", table, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse retention: list partitions of %s: %w", table, err)
	}
	slices.Sort(out)
	return out, nil
}

// Retain runs DropPartitionsBefore(now - retention) at once and then every
// day until ctx ends. Failures are logged and retried at the next run:
// retention is housekeeping, never a reason to stop the pipeline. Several
// members may run it at once; dropping is idempotent.
func (c *Client) Retain(ctx context.Context, retention time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	if log == nil {
		log = c.log
	}
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		cutoff := time.Now().Add(-retention)
		dropped, err := c.DropPartitionsBefore(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("clickhouse retention failed; retried tomorrow", "err", err, "dropped", dropped)
		case len(dropped) > 0:
			log.Info("clickhouse retention dropped partitions", "cutoff", cutoff.UTC().Format(time.DateOnly), "partitions", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
