package clickhouse_test

import (
	"context"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// openReplica connects a client with cluster mode on to one replica of
// scripts/clickhouse-cluster.sh's cluster, and migrates.
func openReplica(tb testing.TB, addr, db string) (*clickhouse.Client, []string) {
	tb.Helper()
	c, err := clickhouse.Open(context.Background(), clickhouse.Config{Addr: addr, Database: db, Cluster: chtest.ClusterName}, testLogger(tb))
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

// replicaConn is a plain connection to one replica, for checks of what it holds.
func replicaConn(tb testing.TB, addr string) ch.Conn {
	tb.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func countOn(tb testing.TB, conn ch.Conn, query string) uint64 {
	tb.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestClusterMigrateTwice migrates through one replica and again through
// the other: the second run applies nothing, every table on both replicas
// is Replicated, and each migration is recorded once.
func TestClusterMigrateTwice(t *testing.T) {
	addrs, db := chtest.ClusterDatabase(t)
	_, applied := openReplica(t, addrs[0], db)
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("the first migrate applied nothing")
	}
	_, again := openReplica(t, addrs[1], db)
	if len(again) != 0 {
		t.Errorf("the second migrate, through the other replica, applied %v", again)
	}
	for _, a := range addrs {
		conn := replicaConn(t, a)
		if n := countOn(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND engine LIKE '%MergeTree' AND engine NOT LIKE 'Replicated%'"); n != 0 {
			t.Errorf("%s: %d tables are not Replicated", a, n)
		}
		if n := countOn(t, conn, "SELECT count() FROM system.replicas WHERE database = '"+db+"'"); n == 0 {
			t.Errorf("%s: no replicated tables", a)
		}
		if err := conn.Exec(context.Background(), "SYSTEM SYNC REPLICA "+db+".schema_migrations"); err != nil {
			t.Fatal(err)
		}
		if n := countOn(t, conn, "SELECT count() FROM "+db+".schema_migrations"); n != uint64(len(applied)) {
			t.Errorf("%s: schema_migrations has %d rows, want %d (one per applied migration)", a, n, len(applied))
		}
	}
	var portable int
	for _, m := range ms {
		if m.MinMajor == 0 {
			portable++
		}
	}
	if len(applied) < portable {
		t.Errorf("applied %d migrations, want at least the %d portable ones", len(applied), portable)
	}
}

// TestClusterWatermarkAcrossReplicas inserts through one replica and takes
// the partition over through the other: the new owner's watermark sees
// every row at once (quorum inserts, sequentially consistent reads), and a
// replayed batch, through either replica, is stored and counted once.
func TestClusterWatermarkAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	addrs, db := chtest.ClusterDatabase(t)
	c1, _ := openReplica(t, addrs[0], db)
	c2, _ := openReplica(t, addrs[1], db)
	const topic = "bounced.attempts"
	if err := c1.InsertAttempts(ctx, rows(topic, 0, 0, 500)); err != nil {
		t.Fatal(err)
	}
	wm, err := c2.Watermark(ctx, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if wm != 499 {
		t.Fatalf("watermark through the other replica = %d, want 499", wm)
	}
	// The new owner replays the old owner's last batch with new rows after it.
	if err := c2.InsertAttempts(ctx, rows(topic, 0, 300, 800)); err != nil {
		t.Fatal(err)
	}
	// And the old owner, not knowing, replays its own once more.
	c1.ForgetWatermark(topic, 0)
	if err := c1.InsertAttempts(ctx, rows(topic, 0, 0, 800)); err != nil {
		t.Fatal(err)
	}
	want := rows(topic, 0, 0, 800)
	var sends uint64
	for _, r := range want {
		if r.SendDelivered != 0 || r.SendBounced != 0 {
			sends++
		}
	}
	for _, a := range addrs {
		conn := replicaConn(t, a)
		for _, table := range []string{"attempts", "outcomes_offsets", "campaign_hourly", "campaign_sends_hourly"} {
			if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+table); err != nil {
				t.Fatal(err)
			}
		}
		if n := countOn(t, conn, "SELECT count() FROM "+db+".attempts"); n != uint64(len(want)) {
			t.Errorf("%s: %d attempt rows, want %d", a, n, len(want))
		}
		if n := countOn(t, conn, "SELECT uniqExact(src_offset) FROM "+db+".attempts"); n != uint64(len(want)) {
			t.Errorf("%s: %d distinct offsets, want %d", a, n, len(want))
		}
		// The rollups, fed on the replica written to and replicated as
		// parts, count each attempt once.
		if n := countOn(t, conn, "SELECT toUInt64(sum(attempts) + sum(complaints)) FROM "+db+".campaign_hourly"); n != uint64(len(want)) {
			t.Errorf("%s: campaign_hourly counts %d attempts, want %d", a, n, len(want))
		}
		if n := countOn(t, conn, "SELECT toUInt64(sum(delivered) + sum(bounced) - 0) FROM "+db+".campaign_sends_hourly"); n > sends {
			t.Errorf("%s: campaign_sends_hourly counts %d ended sends, more than the %d rows that end one", a, n, sends)
		}
	}
}
