package cli

import (
	"context"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// clusterConfig is testConfig on replica addr of scripts/clickhouse-cluster.sh's
// cluster, with clickhouse.cluster set.
func clusterConfig(t *testing.T, dir, addr, db string, extra ...string) *config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs)
	err := fs.Parse(append([]string{
		"--data_dir", dir, "--http.addr", "", "--clickhouse.addr", addr, "--clickhouse.database", db,
		"--set", "clickhouse.cluster=" + chtest.ClusterName,
		"--set", "kafka.embedded_addr=127.0.0.1:0", "--set", "kafka.partitions=3",
		"--set", "pipeline.flush_interval=100ms", "--set", "log.level=warn",
	}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestEndToEndCluster is TestEndToEnd on a replicated cluster (one shard,
// two replicas, scripts/clickhouse-cluster.sh): both stages write through
// replica 1, and the ground truth must match exactly when read through
// either replica.
func TestEndToEndCluster(t *testing.T) {
	addrs, db := chtest.ClusterDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := clusterConfig(t, t.TempDir(), addrs[0], db)
	n, stream := runClusterStream(ctx, t, cfg)
	defer n.close()

	// The same answer through the other replica.
	chtest.SyncReplica(ctx, t, addrs[1], db)
	assertTruthThrough(ctx, t, n, stream, cfg, addrs[1], "replica 2")
}

// TestEndToEndSharded is TestEndToEndCluster on the sharded cluster
// (bounced_sharded: two shards of one replica on the same two servers):
// both stages run through shard 1's server and write each partition's rows
// to its shard; the ground truth must match exactly through the Distributed
// tables read on either server, and both shards must hold rows.
func TestEndToEndSharded(t *testing.T) {
	addrs, db := chtest.ShardedDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := clusterConfig(t, t.TempDir(), addrs[0], db)
	cfg.ClickHouse.Cluster = chtest.ShardedClusterName
	cfg.ClickHouse.ReplicaPath = chtest.ShardedReplicaPath
	n, stream := runClusterStream(ctx, t, cfg)
	defer n.close()

	for i, a := range addrs {
		conn, err := ch.Open(&ch.Options{Addr: []string{a}})
		if err != nil {
			t.Fatal(err)
		}
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".attempts_local").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if rows == 0 {
			t.Errorf("shard %d (%s) holds no attempts: every partition went to one shard", i+1, a)
		}
	}

	// The same answer through the other shard's server.
	assertTruthThrough(ctx, t, n, stream, cfg, addrs[1], "shard 2's server")
}

// runClusterStream runs a member on cfg over the tiny demo stream until
// drained and checks the ground truth through the member's own server.
// The caller closes the node.
func runClusterStream(ctx context.Context, t *testing.T, cfg *config.Config) (*node, *demo.Stream) {
	t.Helper()
	stream, err := demo.Generate(demo.Tiny(7))
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	if err := produce(ctx, n, stream.Records); err != nil {
		n.close()
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		n.close()
		t.Fatal(err)
	}
	n.e.embedded.Compact()
	assertTruth(ctx, t, n, stream)
	return n, stream
}

// assertTruthThrough checks the ground truth again, reading ClickHouse
// through the server at addr instead of the member's own.
func assertTruthThrough(ctx context.Context, t *testing.T, n *node, stream *demo.Stream, cfg *config.Config, addr, what string) {
	t.Helper()
	other := cfg.ClickHouse
	other.Addr = addr
	c2, err := clickhouse.OpenReadOnly(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	own := n.e.ch
	n.e.ch = c2
	defer func() { n.e.ch = own }()
	t.Log("verifying through " + what)
	assertTruth(ctx, t, n, stream)
}
