package clickhouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Shards. On a cluster of several shards every row of one Kafka partition
// lives on one shard, shard index = partition mod shards (the order of
// system.clusters' shard_num), so the watermark of a partition is read on
// that shard exactly as on a cluster of one shard: after SYSTEM SYNC
// REPLICA on the replica read. A member writes a partition's rows straight
// into the local tables of a replica of the partition's shard, never
// through the Distributed table: a Distributed INSERT is asynchronous by
// default, and a synchronous one hides which shard failed. The mapping
// holds only while the shard count does; shard_layout (one row per shard,
// written by Migrate) records it, and Open refuses a cluster whose shards
// no longer match it (checkLayout).
//
// Suppressions are spread by a hash of the address (suppressionShard), so
// every version of an address lands on one shard and FINAL collapses them
// there, whichever writer (stage 2, an operator's lift) sends it; alerts
// and schema_migrations live on the first shard.

// replicaInfo is one replica of system.clusters.
type replicaInfo struct {
	shard uint32 // shard_num
	addr  string // host_name:port, as remote_servers names it
	port  uint16
	host  string
	ip    string // host_address
}

// shard is where a Client reads and writes one shard's rows.
type shard struct {
	index int
	// addr is the replica conn reaches.
	addr string
	// conn reaches addr; nil means the client's own pool (c.conn), used
	// when the configured server is a replica of this shard.
	conn driver.Conn
	// others reach the shard's other replicas, only to find INSERTs still
	// running there (awaitInflight): an INSERT is a query on the replica
	// that took it, and system.processes is per server.
	others     []driver.Conn
	otherAddrs []string
	// attempts and outcomes send this shard's rows in shared INSERTs.
	attempts, outcomes *committer
}

// connOf is the pool that reaches s's replica.
func (c *Client) connOf(s *shard) driver.Conn {
	if s.conn == nil {
		return c.conn
	}
	return s.conn
}

// sharded reports whether the cluster has several shards: local tables
// named <table>_local under Distributed tables.
func (c *Client) sharded() bool { return len(c.shards) > 1 }

// local is the name of table's rows on one shard: table itself, or
// <table>_local on a sharded cluster.
func (c *Client) local(table string) string {
	if c.sharded() {
		return table + localSuffix
	}
	return table
}

// shardOf is the shard of a Kafka partition's rows.
func (c *Client) shardOf(partition int32) *shard {
	return c.shards[int(uint32(partition)%uint32(len(c.shards)))]
}

// suppressionShard is the shard of an address's suppression rows: FNV-1a
// of the address, mod shards. Any writer computes it from the address
// alone, and every version of the address meets on one shard for FINAL.
func suppressionShard(address string, shards int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(address))
	return int(h.Sum64() % uint64(shards))
}

// readCluster reads the cluster's replicas from system.clusters, by shard
// in shard_num order, and checks what bounced needs of them.
func readCluster(ctx context.Context, conn driver.Conn, cfg Config) ([][]replicaInfo, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, host_name, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cfg.Cluster)
	if err != nil {
		return nil, explain(cfg, "look up cluster "+cfg.Cluster, err)
	}
	defer rows.Close()
	var shards [][]replicaInfo
	total := 0
	for rows.Next() {
		var r replicaInfo
		if err := rows.Scan(&r.shard, &r.host, &r.ip, &r.port); err != nil {
			return nil, explain(cfg, "look up cluster "+cfg.Cluster, err)
		}
		r.addr = net.JoinHostPort(r.host, strconv.Itoa(int(r.port)))
		if n := len(shards); n == 0 || shards[n-1][0].shard != r.shard {
			shards = append(shards, nil)
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], r)
		total++
	}
	if err := rows.Err(); err != nil {
		return nil, explain(cfg, "look up cluster "+cfg.Cluster, err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("clickhouse.cluster: the server at %s has no cluster %q in its remote_servers configuration (see system.clusters)", cfg.Addr, cfg.Cluster)
	}
	for _, s := range shards {
		if cfg.InsertQuorum > len(s) {
			return nil, fmt.Errorf("clickhouse.insert_quorum: %d is more than the %d replicas of shard %d of cluster %q", cfg.InsertQuorum, len(s), s[0].shard, cfg.Cluster)
		}
	}
	return shards, nil
}

// isConfigured reports whether r is the server cfg.Addr names: same port,
// and the same host name or address.
func isConfigured(r replicaInfo, cfg Config) bool {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port != strconv.Itoa(int(r.port)) {
		return false
	}
	return host == r.host || host == r.ip
}

// openShards builds c.shards from the cluster's replicas: per shard, the
// configured server when it is one of the shard's replicas (through c.conn),
// else the shard's first replica; and pools to the other replicas for the
// in-flight check. On one shard the configured server is used whatever
// system.clusters says (it may be an address behind a load balancer).
func (c *Client) openShards(ctx context.Context, replicas [][]replicaInfo) error {
	var shards []*shard
	fail := func(err error) error {
		for _, s := range shards {
			s.close()
		}
		return err
	}
	for i, rs := range replicas {
		s := &shard{index: i}
		mine := -1
		for j, r := range rs {
			if isConfigured(r, c.cfg) {
				mine = j
			}
		}
		if mine < 0 && len(replicas) == 1 {
			// One shard: the configured server is a replica of it.
			s.addr = c.cfg.Addr
		}
		for j, r := range rs {
			switch {
			case j == mine:
				s.addr = c.cfg.Addr
			case mine < 0 && s.addr == "":
				conn, err := c.openReplica(ctx, r.addr, c.cfg.MaxConns)
				if err != nil {
					return fail(err)
				}
				s.addr, s.conn = r.addr, conn
			default:
				conn, err := c.openReplica(ctx, r.addr, 2)
				if err != nil {
					return fail(err)
				}
				s.others = append(s.others, conn)
				s.otherAddrs = append(s.otherAddrs, r.addr)
			}
		}
		shards = append(shards, s)
	}
	c.shards = shards
	for _, s := range shards {
		c.newCommitters(s)
	}
	return nil
}

// openReplica opens a pool of at most n connections to c's database on
// the replica at addr, with c's credentials and TLS settings.
func (c *Client) openReplica(ctx context.Context, addr string, n int) (driver.Conn, error) {
	cfg := c.cfg
	cfg.Addr = addr
	cfg.MaxConns = n
	var settings ch.Settings
	if c.version.legacyLowCardinality() {
		settings = ch.Settings{"allow_experimental_low_cardinality_type": 1}
	}
	conn, err := ch.Open(options(cfg, cfg.Database, settings))
	if err != nil {
		return nil, explain(cfg, "open replica of cluster "+cfg.Cluster, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, explain(cfg, "connect to replica of cluster "+cfg.Cluster+" (every replica must be reachable from bounced, at the host and port remote_servers gives)", err)
	}
	return conn, nil
}

// everyReplica is a pool to each replica of every shard.
func (c *Client) everyReplica() []driver.Conn {
	var out []driver.Conn
	for _, s := range c.shards {
		out = append(append(out, c.connOf(s)), s.others...)
	}
	return out
}

// newCommitters gives s its committers, writing s's local tables.
func (c *Client) newCommitters(s *shard) {
	s.attempts = newCommitter(c, s, tableAttempts, func() rowBuf { return new(attemptBuf) })
	s.outcomes = newCommitter(c, s, tableOutcomes, func() rowBuf { return new(outcomeBuf) })
}

// close closes the pools s opened (not the client's own).
func (s *shard) close() error {
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
	}
	for _, o := range s.others {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}

// shardLayout records, per shard, the shard count and the shard's index the
// data was written under.
const shardLayout = `CREATE TABLE IF NOT EXISTS shard_layout
(
    shards      UInt32,
    shard_index UInt32,
    written_at  DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY shards`

// recordLayout creates shard_layout on every shard and writes, where it is
// empty, the current shard count and the shard's index.
func (c *Client) recordLayout(ctx context.Context) error {
	stmt, err := clusterStatement(shardLayout, c.cfg.Cluster, c.cfg.Database, c.cfg.ReplicaPath)
	if err != nil {
		return fmt.Errorf("clickhouse migrate: shard_layout: %w", err)
	}
	if err := c.conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("clickhouse migrate: create shard_layout: %w", err)
	}
	for _, s := range c.shards {
		conn := c.connOf(s)
		got, err := c.readLayout(ctx, s)
		if err != nil {
			return err
		}
		if len(got) > 0 {
			continue
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO shard_layout (shards, shard_index, written_at)")
		if err != nil {
			return fmt.Errorf("clickhouse migrate: record shard layout on %s: %w", s.addr, err)
		}
		if err := batch.Append(uint32(len(c.shards)), uint32(s.index), time.Now().UTC()); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse migrate: record shard layout on %s: %w", s.addr, err)
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("clickhouse migrate: record shard layout on %s: %w", s.addr, err)
		}
	}
	return c.checkLayout(ctx)
}

// layoutRow is one row of shard_layout.
type layoutRow struct{ shards, index uint32 }

// readLayout reads s's shard_layout rows, after syncing its replica; none
// when the table does not exist there.
func (c *Client) readLayout(ctx context.Context, s *shard) ([]layoutRow, error) {
	conn := c.connOf(s)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'shard_layout'", c.cfg.Database).Scan(&n); err != nil {
		return nil, fmt.Errorf("clickhouse: look up shard_layout on %s: %w", s.addr, err)
	}
	if n == 0 {
		return nil, nil
	}
	if err := c.syncReplica(ctx, conn, "shard_layout"); err != nil {
		return nil, fmt.Errorf("clickhouse: shard layout on %s: %w", s.addr, err)
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT shards, shard_index FROM shard_layout")
	if err != nil {
		return nil, fmt.Errorf("clickhouse: read shard_layout on %s: %w", s.addr, err)
	}
	defer rows.Close()
	var out []layoutRow
	for rows.Next() {
		var r layoutRow
		if err := rows.Scan(&r.shards, &r.index); err != nil {
			return nil, fmt.Errorf("clickhouse: read shard_layout on %s: %w", s.addr, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: read shard_layout on %s: %w", s.addr, err)
	}
	return out, nil
}

// checkLayout refuses a sharded cluster whose shards are not those the
// data was written under: another shard count, or shards in another order
// (a partition's watermark would be read on a shard without its rows, and
// every row written again). Also a database made for one shard (attempts
// not Distributed) used with several, or the reverse. A database without
// bounced's tables yet passes.
func (c *Client) checkLayout(ctx context.Context) error {
	var engine string
	err := c.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", c.cfg.Database, tableAttempts).Scan(&engine)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("clickhouse: look up table attempts: %w", err)
	case c.sharded() && engine != "Distributed":
		return fmt.Errorf("clickhouse.cluster: cluster %q has %d shards, but database %s was created for one (attempts is %s, not Distributed): a sharded cluster needs a new database (see docs/clickhouse.md, Shards)", c.cfg.Cluster, len(c.shards), c.cfg.Database, engine)
	case !c.sharded() && engine == "Distributed":
		return fmt.Errorf("clickhouse.cluster: database %s was created for a cluster of several shards (attempts is Distributed), and cluster %q has one: see docs/clickhouse.md, Shards", c.cfg.Database, c.cfg.Cluster)
	}
	if !c.sharded() {
		return nil
	}
	seen := 0
	for _, s := range c.shards {
		rows, err := c.readLayout(ctx, s)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			seen++
		}
		for _, r := range rows {
			if r.shards != uint32(len(c.shards)) || r.index != uint32(s.index) {
				return fmt.Errorf("clickhouse.cluster: shard %d of cluster %q (%s) holds data written as shard %d of %d, and the cluster now has %d shards: the partition-to-shard mapping (partition mod shards) changed, so watermarks would be read where the rows are not; restore the cluster's shards or move the data as docs/clickhouse.md (Shards) says", s.index+1, c.cfg.Cluster, s.addr, r.index+1, r.shards, len(c.shards))
			}
		}
	}
	if seen > 0 && seen < len(c.shards) {
		return fmt.Errorf("clickhouse.cluster: only %d of the %d shards of cluster %q have bounced's shard_layout: shards were added under existing data (see docs/clickhouse.md, Shards)", seen, len(c.shards), c.cfg.Cluster)
	}
	return nil
}
