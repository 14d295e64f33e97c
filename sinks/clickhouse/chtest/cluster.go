package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// ClusterName is the cluster scripts/clickhouse-cluster.sh defines: one
// shard, two replicas.
const ClusterName = "bounced"

// ShardedClusterName is the cluster scripts/clickhouse-cluster.sh defines
// on the same two servers with two shards of one replica each: shard 1 is
// the server at ClusterAddrs()[0], shard 2 the one at [1].
const ShardedClusterName = "bounced_sharded"

// ShardedReplicaPath is the clickhouse.replica_path of ShardedClusterName:
// its shard macro is {sshard} ({shard} is `bounced`'s, 01 on both servers).
const ShardedReplicaPath = "/clickhouse/tables/{sshard}"

// DefaultClusterAddrs are the native ports of the two replicas
// scripts/clickhouse-cluster.sh starts.
var DefaultClusterAddrs = [2]string{"127.0.0.1:19010", "127.0.0.1:19011"}

// ClusterAddrs returns the native-protocol addresses of the two replicas
// of cluster `bounced`, from BOUNCED_CLICKHOUSE_CLUSTER_ADDRS (two
// host:port separated by a comma; default DefaultClusterAddrs), once both
// answer. Without them the test is skipped, except in CI (CI=true), where
// it fails.
func ClusterAddrs(tb testing.TB) [2]string {
	tb.Helper()
	addrs := DefaultClusterAddrs
	if v := os.Getenv("BOUNCED_CLICKHOUSE_CLUSTER_ADDRS"); v != "" {
		a, b, ok := strings.Cut(v, ",")
		if !ok {
			tb.Fatalf("BOUNCED_CLICKHOUSE_CLUSTER_ADDRS=%q: want two host:port separated by a comma", v)
		}
		addrs = [2]string{strings.TrimSpace(a), strings.TrimSpace(b)}
	}
	for _, a := range addrs {
		if err := ping(a); err != nil {
			msg := "no ClickHouse cluster replica at " + a + " (" + err.Error() + "); start the cluster with scripts/clickhouse-cluster.sh start or set BOUNCED_CLICKHOUSE_CLUSTER_ADDRS"
			if ci, _ := os.LookupEnv("CI"); strings.EqualFold(ci, "true") || ci == "1" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
	return addrs
}

// ClusterDatabase returns the replicas' addresses (see ClusterAddrs) and
// the name of a fresh database, not yet created (bounced creates it ON
// CLUSTER), dropped ON CLUSTER when the test ends, ZooKeeper paths and all.
func ClusterDatabase(tb testing.TB) (addrs [2]string, database string) {
	tb.Helper()
	return clusterDatabase(tb, ClusterName)
}

// ShardedDatabase is ClusterDatabase for ShardedClusterName: the two
// servers' addresses (shard 1, shard 2) and a fresh database dropped ON
// CLUSTER bounced_sharded when the test ends.
func ShardedDatabase(tb testing.TB) (addrs [2]string, database string) {
	tb.Helper()
	return clusterDatabase(tb, ShardedClusterName)
}

func clusterDatabase(tb testing.TB, cluster string) (addrs [2]string, database string) {
	tb.Helper()
	addrs = ClusterAddrs(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	database = "bounced_ctest_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		conn, err := ch.Open(&ch.Options{Addr: []string{addrs[0]}, DialTimeout: 5 * time.Second})
		if err != nil {
			tb.Errorf("chtest: open %s: %v", addrs[0], err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database+" ON CLUSTER "+cluster); err != nil {
			tb.Errorf("chtest: drop database %s on cluster %s: %v", database, cluster, err)
		}
	})
	return addrs, database
}

// SyncReplica waits until the replica at addr has fetched every part of
// every replicated table of database, so a test reading through it sees
// what was written through another replica (suppressions and alerts are
// written without a quorum, and bounced syncs only the tables whose
// watermarks it reads).
func SyncReplica(ctx context.Context, tb testing.TB, addr, database string) {
	tb.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT table FROM system.replicas WHERE database = ?", database)
	if err != nil {
		tb.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, s)
	}
	rows.Close()
	for _, t := range tables {
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+database+"."+t); err != nil {
			tb.Fatalf("sync replica %s %s.%s: %v", addr, database, t, err)
		}
	}
}
