package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A replicated cluster (Config.Cluster).
//
// Layout. On one shard with any number of replicas, every member writes to,
// and reads from, the local Replicated tables of the replica its
// clickhouse.addr names, under their own names; no Distributed table is
// involved. On several shards (shards.go) each Kafka partition's rows live
// on one shard, the tables are <table>_local under Distributed tables of the
// original names, and a member writes each partition's rows to its shard.
// Either way the watermark that makes inserts effectively once is read on
// a replica of the shard that holds every row of the partition.
//
// DDL. The migrations stay single-server SQL; clusterStatement rewrites each
// statement at migration time: ON CLUSTER after the table's name, and a
// MergeTree-family engine becomes its Replicated form with the ZooKeeper
// path <replica_path>/<database>/<table> and the {replica} macro. The names
// are written in literally because 18.16 expands only configured macros
// ({shard}, {replica}), not {database} or {table}. schema_migrations is
// rewritten the same way, so a migration recorded through one replica is
// seen on all of them and `bounced migrate` applies each file once.
//
// Consistency. A member that takes a partition reads its watermark from its
// replica; a previous owner may have written through another one. Before
// every watermark read (and the stored-offset check after it, and the read
// of applied migrations) the member runs SYSTEM SYNC REPLICA on the table
// read: it returns once this replica has fetched every part committed to
// ZooKeeper by the others, and an INSERT commits its part there before it
// returns. The in-flight check that precedes it (awaitInflight) looks at
// system.processes of every replica of the shard, asked one by one (the
// cluster table function asks one replica per shard), since the INSERT of
// a killed member may still run on another replica. Inserts
// wait for no quorum by default: on 18.16 a quorum INSERT fails (code 286)
// while the table's previous quorum write is unconfirmed, and one that
// fails at a materialized view's target after outcomes_offsets took its
// rows loses them from that rollup for good (TestKill9Cluster showed it).
// Config.InsertQuorum adds a quorum for durability where that is not a
// concern; with it, reads also ask select_sequential_consistency. The price
// of the default: a take-over waits while the replica holding a part not
// yet fetched is down, and a part acknowledged by one replica is lost with
// that replica's disk before the others fetch it (seconds).
//
// Deduplication. Replicated tables drop a block whose hash they have seen
// among the last replicated_deduplication_window (100) blocks of the table:
// on 18.16 that catches a retried INSERT only when the rows and their order
// are exactly the same, which group commit (other partitions' rows in the
// same INSERT) and a re-read watermark seldom give; the watermark remains
// what makes inserts effectively once. Servers that know
// insert_deduplication_token (22.2 and later) get one per INSERT, naming the
// table and each partition's first and last offset in it, so a replay of
// the same rows is dropped by the server whatever their block's bytes.

// The Replicated engine family: every engine whose name ends in MergeTree.
var (
	ddlCreateTable = regexp.MustCompile(`(?is)^(\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s)`)
	ddlCreateView  = regexp.MustCompile(`(?is)^(\s*CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s)`)
	ddlAlterTable  = regexp.MustCompile(`(?is)^(\s*ALTER\s+TABLE\s+)([A-Za-z_][A-Za-z0-9_]*)(\s)`)
	ddlEngine      = regexp.MustCompile(`(?is)\bENGINE\s*=\s*([A-Za-z]*MergeTree)\b(?:\s*\(([^)]*)\))?`)
	ddlOnCluster   = regexp.MustCompile(`(?i)\sON\s+CLUSTER\s`)
	// ddlViewTables finds the tables a materialized view names (TO target,
	// FROM source, JOIN other) when they have no database yet.
	ddlViewTables = regexp.MustCompile(`(?i)(\b(?:TO|FROM|JOIN)\s+)([A-Za-z_][A-Za-z0-9_]*)(\s|$)`)
)

// clusterStatement rewrites one migration statement for cluster: ON CLUSTER
// after the object's name, and for CREATE TABLE the Replicated form of a
// MergeTree-family engine, with its ZooKeeper path
// <replicaPath>/<database>/<table>. A statement of any other kind is an
// error: run on one server it would leave the replicas different.
func clusterStatement(stmt, cluster, database, replicaPath string) (string, error) {
	if ddlOnCluster.MatchString(stmt) {
		return "", fmt.Errorf("statement already says ON CLUSTER: write migrations for one server, bounced adds it")
	}
	// Names are qualified: a distributed DDL query runs on each replica in
	// the server's default database, not the client's.
	on := "${1}" + database + ".${2} ON CLUSTER " + cluster + "${3}"
	switch {
	case ddlCreateTable.MatchString(stmt):
		table := ddlCreateTable.FindStringSubmatch(stmt)[2]
		m := ddlEngine.FindStringSubmatchIndex(stmt)
		if m == nil {
			return "", fmt.Errorf("CREATE TABLE %s: no MergeTree-family engine to replicate", table)
		}
		name := stmt[m[2]:m[3]]
		var args string
		if m[4] >= 0 {
			args = strings.TrimSpace(stmt[m[4]:m[5]])
		}
		if strings.HasPrefix(strings.ToLower(name), "replicated") {
			return "", fmt.Errorf("CREATE TABLE %s: engine %s is replicated already: write migrations for one server", table, name)
		}
		engine := "ENGINE = Replicated" + name + "('" + replicaPath + "/" + database + "/" + table + "', '{replica}'"
		if args != "" {
			engine += ", " + args
		}
		engine += ")"
		stmt = stmt[:m[0]] + engine + stmt[m[1]:]
		return ddlCreateTable.ReplaceAllString(stmt, on), nil
	case ddlCreateView.MatchString(stmt):
		stmt = ddlViewTables.ReplaceAllString(stmt, "${1}"+database+".${2}${3}")
		return ddlCreateView.ReplaceAllString(stmt, on), nil
	case ddlAlterTable.MatchString(stmt):
		return ddlAlterTable.ReplaceAllString(stmt, on), nil
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stmt), "\n")
	return "", fmt.Errorf("%q: only CREATE TABLE, CREATE MATERIALIZED VIEW and ALTER TABLE can run ON CLUSTER", first)
}

// ddlAlterColumn matches the ALTERs that change a table's columns: they
// apply to a Distributed table as well as to its local table (its column
// list must follow). Every other ALTER (TTL, settings, indexes, mutations,
// partitions) concerns storage, which only the local table has.
var ddlAlterColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+(?:ADD|MODIFY|DROP|RENAME|COMMENT)\s+COLUMN\s`)

// localSuffix names a sharded cluster's local tables: <table>_local holds
// the shard's rows, and <table> is the Distributed table over every shard's.
const localSuffix = "_local"

var ddlIfNotExists = regexp.MustCompile(`(?i)IF\s+NOT\s+EXISTS`)

// shardedStatements rewrites one migration statement for a cluster of
// several shards. A table becomes two: <table>_local, with the Replicated
// engine and ZooKeeper path <replicaPath>/<database>/<table>_local (each
// shard's replicas share it through the {shard}-like macro in
// replicaPath), and <table>, Distributed over the cluster's <table>_local,
// which every read query names. It has no sharding key, so an INSERT into
// it fails rather than spreading a partition's rows over shards: bounced
// writes each shard's local tables itself (shards.go). A materialized view
// reads and writes local tables, so it runs on the shard that took the
// rows. An ALTER of columns applies to both tables, local first; any other
// ALTER to the local table only.
func shardedStatements(stmt, cluster, database, replicaPath string) ([]string, error) {
	if ddlOnCluster.MatchString(stmt) {
		return nil, fmt.Errorf("statement already says ON CLUSTER: write migrations for one server, bounced adds it")
	}
	on := func(name string) string {
		return "${1}" + database + "." + name + " ON CLUSTER " + cluster + "${3}"
	}
	switch {
	case ddlCreateTable.MatchString(stmt):
		table := ddlCreateTable.FindStringSubmatch(stmt)[2]
		local, err := clusterStatement(stmt, cluster, database, replicaPath)
		if err != nil {
			return nil, err
		}
		// clusterStatement named the table and its path <table>; both get
		// the suffix.
		local = strings.Replace(local, database+"."+table+" ON CLUSTER", database+"."+table+localSuffix+" ON CLUSTER", 1)
		local = strings.Replace(local, "/"+database+"/"+table+"'", "/"+database+"/"+table+localSuffix+"'", 1)
		ifNotExists := ""
		if ddlIfNotExists.MatchString(ddlCreateTable.FindString(stmt)) {
			ifNotExists = "IF NOT EXISTS "
		}
		dist := "CREATE TABLE " + ifNotExists + database + "." + table + " ON CLUSTER " + cluster +
			" AS " + database + "." + table + localSuffix +
			" ENGINE = Distributed(" + cluster + ", " + database + ", " + table + localSuffix + ")"
		return []string{local, dist}, nil
	case ddlCreateView.MatchString(stmt):
		stmt = ddlViewTables.ReplaceAllString(stmt, "${1}"+database+".${2}"+localSuffix+"${3}")
		return []string{ddlCreateView.ReplaceAllString(stmt, on("${2}"))}, nil
	case ddlAlterTable.MatchString(stmt):
		local := ddlAlterTable.ReplaceAllString(stmt, on("${2}"+localSuffix))
		if !ddlAlterColumn.MatchString(stmt) {
			return []string{local}, nil
		}
		// Without ON CLUSTER: 18.16 refuses a distributed ALTER of a table
		// that is not replicated on shards marked internal_replication (code
		// 371), which every sharded cluster of Replicated tables is. Migrate
		// runs it on every replica itself (everyReplica).
		return []string{local, ddlAlterTable.ReplaceAllString(stmt, "${1}"+database+".${2}${3}")}, nil
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stmt), "\n")
	return nil, fmt.Errorf("%q: only CREATE TABLE, CREATE MATERIALIZED VIEW and ALTER TABLE can run ON CLUSTER", first)
}

// everyReplica reports whether Migrate runs a rewritten statement on every
// replica of the cluster itself: one without ON CLUSTER (the ALTER of a
// Distributed table).
func everyReplica(stmt string) bool { return !ddlOnCluster.MatchString(stmt) }

// ddl returns the statements this client runs for stmt: stmt itself on one
// server, clusterStatement's rewrite on a cluster of one shard,
// shardedStatements' on several.
func (c *Client) ddl(stmt string) ([]string, error) {
	switch {
	case c.cfg.Cluster == "":
		return []string{stmt}, nil
	case c.sharded():
		return shardedStatements(stmt, c.cfg.Cluster, c.cfg.Database, c.cfg.ReplicaPath)
	}
	s, err := clusterStatement(stmt, c.cfg.Cluster, c.cfg.Database, c.cfg.ReplicaPath)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// quorum is the insert_quorum of this client's watermarked inserts: 0 (none)
// on one server and by default on a cluster.
func (c *Client) quorum() int {
	if c.cfg.Cluster == "" || c.cfg.InsertQuorum < 2 {
		return 0
	}
	return c.cfg.InsertQuorum
}

// syncReplica waits until the replica conn reaches has fetched every part
// the other replicas of its shard have committed to table, before a read
// that must see every row (a watermark, the stored offsets, the applied
// migrations). Nothing on one server.
func (c *Client) syncReplica(ctx context.Context, conn driver.Conn, table string) error {
	if c.cfg.Cluster == "" {
		return nil
	}
	if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+c.cfg.Database+"."+table); err != nil {
		return fmt.Errorf("sync replica of %s: %w", table, err)
	}
	return nil
}

// insertContext adds the settings of a watermarked INSERT on a cluster: the
// quorum and, where the server knows it, the deduplication token.
func (c *Client) insertContext(ctx context.Context, token string) context.Context {
	if c.cfg.Cluster == "" {
		return ctx
	}
	s := ch.Settings{}
	if q := c.quorum(); q > 0 {
		s["insert_quorum"] = q
	}
	if token != "" && c.version.dedupToken() {
		s["insert_deduplication_token"] = token
	}
	if len(s) == 0 {
		return ctx
	}
	return ch.Context(ctx, ch.WithSettings(s))
}

// readContext adds select_sequential_consistency to a read that must see
// every quorum-written row (watermarks, stored offsets, applied migrations)
// on a cluster.
func (c *Client) readContext(ctx context.Context) context.Context {
	if c.quorum() == 0 {
		return ctx
	}
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"select_sequential_consistency": 1}))
}

// onCluster is the ON CLUSTER clause of database DDL and KILL QUERY on a
// cluster, empty on one server.
func onCluster(cfg Config) string {
	if cfg.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + cfg.Cluster
}

// dedupToken reports whether the server takes insert_deduplication_token
// (ClickHouse 22.2).
func (v Version) dedupToken() bool { return v.Major > 22 || v.Major == 22 && v.Minor >= 2 }

// dedupToken is an INSERT's deduplication token: the table, the topic and
// each partition's first and last offset in it, e.g.
// "attempts/bounced.attempts/0:10-20/3:5-9".
func dedupToken(table, topic string, spans []span) string {
	b := make([]byte, 0, 32+len(topic)+24*len(spans))
	b = append(append(append(b, table...), '/'), topic...)
	for _, s := range spans {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(s.partition), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, s.first, 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, s.last, 10)
	}
	return string(b)
}

// span is one partition's offsets in an INSERT.
type span struct {
	partition   int32
	first, last int64
}
