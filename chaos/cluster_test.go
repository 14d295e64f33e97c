package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// clusterEvents and clusterKills size TestKill9Cluster below the
// single-server tests: it proves the cluster's consistency, not volume
// (BOUNCED_CHAOS_EVENTS still overrides the events).
const (
	clusterEvents = 20_000
	clusterKills  = 3
)

// TestKill9Cluster is TestKill9 against a replicated cluster (one shard,
// two replicas, scripts/clickhouse-cluster.sh): the member is killed with
// SIGKILL part-way through its work and restarted each time on the other
// replica, so every new incarnation reads the watermarks its predecessor
// wrote through another server. After the input drains, the outputs, read
// through either replica, equal the ground truth and the clean
// (single-server) run.
func TestKill9Cluster(t *testing.T) {
	addrs, db := chtest.ClusterDatabase(t)
	kill9OnCluster(t, addrs, db, "kill9_cluster_replica", func(ctx context.Context, addr string) string {
		chtest.SyncReplica(ctx, t, addr, db)
		return db
	}, "--set", "clickhouse.cluster="+chtest.ClusterName)
}

// TestKill9Sharded is TestKill9Cluster on the sharded cluster
// (bounced_sharded: two shards of one replica on the same two servers):
// each restart moves the member to the other shard's server, while every
// partition's rows keep going to partition mod 2's shard. After the input
// drains, the outputs read through the Distributed tables on either server
// equal the ground truth and the clean run.
func TestKill9Sharded(t *testing.T) {
	addrs, db := chtest.ShardedDatabase(t)
	kill9OnCluster(t, addrs, db, "kill9_sharded_server", func(ctx context.Context, addr string) string {
		return gatherShards(ctx, t, addr, db)
	}, "--set", "clickhouse.cluster="+chtest.ShardedClusterName,
		"--set", "clickhouse.replica_path="+chtest.ShardedReplicaPath)
}

// kill9OnCluster runs the kill -9 test with the member on addrs[0], moved
// to the other address at each restart, and judges the outputs read through
// each address: readable(addr) returns the database to snapshot there.
func kill9OnCluster(t *testing.T, addrs [2]string, db, verdict string, readable func(context.Context, string) string, args ...string) {
	e := setup(t)
	if os.Getenv("BOUNCED_CHAOS_EVENTS") == "" {
		e.events = clusterEvents
		e.stream = generate(t, e.settings)
	}
	base := baseline(t, e)
	r := rng(e, t.Name())
	c := newCluster(t, e.ctx)
	t0 := time.Now()
	b := c.broker("broker", filepath.Join(c.dir, "broker"), freePort(t))
	c.startBroker(b)
	k := c.kafka(b)
	defer k.close()
	recs := e.stream.Records
	seg := func(i int) []demo.Record {
		return recs[len(recs)*i/(clusterKills+1) : len(recs)*(i+1)/(clusterKills+1)]
	}
	if err := k.produce(e.ctx, seg(0)); err != nil {
		t.Fatal(err)
	}
	sent := len(seg(0))
	m := c.member("member", memberConfig{brokers: k.addr, chAddr: addrs[0], database: db, dataDir: filepath.Join(c.dir, "member")})
	m.args = append(m.args, args...)
	onServer := func(i int) {
		for j := range m.args {
			if m.args[j] == "--clickhouse.addr" {
				m.args[j+1] = addrs[i%2]
			}
		}
	}
	c.start(m)
	perRecord := float64(e.stream.Truth.Attempts) / float64(len(recs))
	var atStart position
	for i := range clusterKills {
		produced := trickle(e.ctx, k, seg(i+1), 5, base.drain/time.Duration(5*(clusterKills+1)))
		sent += len(seg(i + 1))
		u := 0.1 + 0.8*r.Float64()
		target := atStart.AttDone + int64(u*(float64(sent)*perRecord-float64(atStart.AttDone)))
		c.waitProgress(k, e, fmt.Sprintf("kill #%d at %d attempts committed", i+1, target), 0, func(p position) bool {
			return p.AttDone >= target
		})
		time.Sleep(between(r, 0, 400*time.Millisecond))
		p, _ := k.position(e.ctx)
		m.kill9()
		t.Logf("kill -9 #%d of the member on server %d at %s; restarting it on server %d", i+1, i%2+1, p, (i+1)%2+1)
		if err := <-produced; err != nil {
			t.Fatal(err)
		}
		atStart, _ = k.position(e.ctx)
		onServer(i + 1)
		c.start(m)
	}
	c.waitDrained(k, e, len(recs))
	took := time.Since(t0)
	for i, a := range addrs {
		got, err := snapshot(e.ctx, k, a, readable(e.ctx, a))
		if err != nil {
			t.Fatal(err)
		}
		c.verdict(e, fmt.Sprintf("%s%d", verdict, i+1), base, got, clusterKills, took, "")
	}
	m.stop(30 * time.Second)
}

// replicatedEngine is the Replicated engine of a local table's CREATE
// query with its ZooKeeper path and replica name, so gatherShards can
// create a plain copy.
var replicatedEngine = regexp.MustCompile(`ENGINE = Replicated(\w+)\('[^']*', '[^']*'(?:, )?`)

// gatherShards copies every Distributed table of db, read on the server at
// addr (so from every shard), into plain MergeTree-family tables of the
// same names and engines in a database of its own on that server, and
// returns that database: snapshot reads the rollups through system.tables
// and would otherwise see only the server's own shard (<table>_local) and
// skip the Distributed tables.
func gatherShards(ctx context.Context, t *testing.T, addr, db string) string {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	into := db + "_all"
	t.Cleanup(func() {
		c, err := ch.Open(&ch.Options{Addr: []string{addr}})
		if err == nil {
			_ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+into)
			c.Close()
		}
	})
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+into); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT substring(name, 1, length(name) - 6), create_table_query FROM system.tables WHERE database = ? AND name LIKE '%\\_local'", db)
	if err != nil {
		t.Fatal(err)
	}
	type table struct{ name, create string }
	var tables []table
	for rows.Next() {
		var tb table
		if err := rows.Scan(&tb.name, &tb.create); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	rows.Close()
	for _, tb := range tables {
		create := replicatedEngine.ReplaceAllString(tb.create, "ENGINE = $1(")
		create = regexp.MustCompile(`ENGINE = (\w+)\(\)`).ReplaceAllString(create, "ENGINE = $1")
		create = regexp.MustCompile(`CREATE TABLE \S+`).ReplaceAllString(create, "CREATE TABLE "+into+"."+tb.name)
		if err := conn.Exec(ctx, create); err != nil {
			t.Fatalf("copy of %s: %s: %v", tb.name, create, err)
		}
		if err := conn.Exec(ctx, "INSERT INTO "+into+"."+tb.name+" SELECT * FROM "+db+"."+tb.name); err != nil {
			t.Fatalf("copy of %s: %v", tb.name, err)
		}
	}
	return into
}
