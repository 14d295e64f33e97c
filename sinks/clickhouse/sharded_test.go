package clickhouse_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// openSharded connects a client to one server of scripts/clickhouse-cluster.sh's
// cluster bounced_sharded (two shards of one replica), and migrates.
func openSharded(tb testing.TB, addr, db string) (*clickhouse.Client, []string) {
	tb.Helper()
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{
		Addr: addr, Database: db, Cluster: chtest.ShardedClusterName, ReplicaPath: chtest.ShardedReplicaPath,
	}, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	applied, err := c.Migrate(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return c, applied
}

// TestShardedMigrateTwice migrates through one shard's server and again
// through the other's: the second run applies nothing; on each server every
// MergeTree table is Replicated and named <table>_local, with a Distributed
// table of the original name over it (schema_migrations and shard_layout
// excepted: they are per shard).
func TestShardedMigrateTwice(t *testing.T) {
	addrs, db := chtest.ShardedDatabase(t)
	_, applied := openSharded(t, addrs[0], db)
	if len(applied) == 0 {
		t.Fatal("the first migrate applied nothing")
	}
	_, again := openSharded(t, addrs[1], db)
	if len(again) != 0 {
		t.Errorf("the second migrate, through the other shard, applied %v", again)
	}
	for _, a := range addrs {
		conn := replicaConn(t, a)
		if n := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND engine LIKE '%MergeTree' AND engine NOT LIKE 'Replicated%'"); n != 0 {
			t.Errorf("%s: %d tables are not Replicated", a, n)
		}
		if n := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND engine LIKE 'Replicated%' AND name NOT LIKE '%\\_local' AND name NOT IN ('schema_migrations', 'shard_layout')"); n != 0 {
			t.Errorf("%s: %d replicated tables not named <table>_local", a, n)
		}
		locals := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name LIKE '%\\_local'")
		dists := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND engine = 'Distributed'")
		if locals == 0 || locals != dists {
			t.Errorf("%s: %d local tables, %d Distributed: want one Distributed per local", a, locals, dists)
		}
		// Every materialized view reads and writes local tables.
		if n := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND engine = 'MaterializedView' AND NOT (create_table_query LIKE '%\\_local %' OR create_table_query LIKE '%\\_local')"); n != 0 {
			t.Errorf("%s: %d materialized views name no local table", a, n)
		}
		if n := countOn(t, conn, "SELECT count() FROM "+db+".shard_layout"); n != 1 {
			t.Errorf("%s: shard_layout has %d rows, want 1", a, n)
		}
		// The Distributed table has the columns later migrations added.
		if n := countOn(t, conn, "SELECT count() FROM system.columns WHERE database = '"+db+"' AND table = 'attempts' AND name = 'source_label'"); n != 1 {
			t.Errorf("%s: the Distributed attempts lacks column source_label", a)
		}
	}
	if n := countOn(t, replicaConn(t, addrs[0]), "SELECT count() FROM "+db+".schema_migrations"); n != uint64(len(applied)) {
		t.Errorf("schema_migrations on shard 1 has %d rows, want %d", n, len(applied))
	}
}

// TestShardedRowsByPartition writes partitions 0 and 1 through the server
// of shard 1: partition 0's rows land on shard 1, partition 1's on shard 2,
// and the Distributed tables read on either server see both. A member on
// the other server then takes partition 0 over: its watermark, read on
// shard 1, sees every row, and its replay of them is skipped.
func TestShardedRowsByPartition(t *testing.T) {
	ctx := context.Background()
	addrs, db := chtest.ShardedDatabase(t)
	c1, _ := openSharded(t, addrs[0], db)
	const topic = "bounced.attempts"
	if err := c1.InsertAttempts(ctx, rows(topic, 0, 0, 300)); err != nil {
		t.Fatal(err)
	}
	if err := c1.InsertAttempts(ctx, rows(topic, 1, 0, 200)); err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		conn := replicaConn(t, a)
		want := map[int]uint64{0: 300, 1: 200}[i]
		if n := countOn(t, conn, "SELECT count() FROM "+db+".attempts_local"); n != want {
			t.Errorf("shard %d (%s): %d local attempt rows, want %d", i+1, a, n, want)
		}
		if n := countOn(t, conn, "SELECT count() FROM "+db+".attempts_local WHERE src_partition != "+[]string{"0", "1"}[i]); n != 0 {
			t.Errorf("shard %d (%s): %d rows of the other partition", i+1, a, n)
		}
		if n := countOn(t, conn, "SELECT count() FROM "+db+".attempts"); n != 500 {
			t.Errorf("%s: the Distributed attempts reads %d rows, want 500", a, n)
		}
		if n := countOn(t, conn, "SELECT toUInt64(sum(attempts) + sum(complaints)) FROM "+db+".campaign_hourly"); n != 500 {
			t.Errorf("%s: the Distributed campaign_hourly counts %d attempts, want 500", a, n)
		}
	}

	c2, _ := openSharded(t, addrs[1], db)
	wm, err := c2.Watermark(ctx, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if wm != 299 {
		t.Fatalf("partition 0's watermark read by a member on shard 2's server = %d, want 299", wm)
	}
	if err := c2.InsertAttempts(ctx, rows(topic, 0, 100, 400)); err != nil {
		t.Fatal(err)
	}
	c1.ForgetWatermark(topic, 0)
	if err := c1.InsertAttempts(ctx, rows(topic, 0, 0, 400)); err != nil {
		t.Fatal(err)
	}
	conn := replicaConn(t, addrs[1])
	if n := countOn(t, conn, "SELECT count() FROM "+db+".attempts WHERE src_partition = 0"); n != 400 {
		t.Errorf("partition 0 has %d rows after the replays, want 400", n)
	}
	if n := countOn(t, conn, "SELECT uniqExact(src_offset) FROM "+db+".attempts WHERE src_partition = 0"); n != 400 {
		t.Errorf("partition 0 has %d distinct offsets, want 400", n)
	}
	if n := countOn(t, replicaConn(t, addrs[1]), "SELECT count() FROM "+db+".attempts_local WHERE src_partition = 0"); n != 0 {
		t.Errorf("shard 2 holds %d rows of partition 0, want none", n)
	}
}

// TestShardedRefusesOtherLayout: a database made for bounced_sharded is
// refused through the one-shard cluster `bounced` on the same servers (its
// tables are Distributed there), with a reason.
func TestShardedRefusesOtherLayout(t *testing.T) {
	addrs, db := chtest.ShardedDatabase(t)
	openSharded(t, addrs[0], db)
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addrs[0], Database: db, Cluster: chtest.ClusterName}, testLogger(t))
	if err == nil {
		c.Close()
		t.Fatal("opened a sharded database through a one-shard cluster")
	}
	if !strings.Contains(err.Error(), "several shards") {
		t.Errorf("err = %v, want one saying the database is for several shards", err)
	}
}
