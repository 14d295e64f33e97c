package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	e := setup(t)
	if os.Getenv("BOUNCED_CHAOS_EVENTS") == "" {
		e.events = clusterEvents
		e.stream = generate(t, e.settings)
	}
	addrs, db := chtest.ClusterDatabase(t)
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
	m.args = append(m.args, "--set", "clickhouse.cluster="+chtest.ClusterName)
	onReplica := func(i int) {
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
		t.Logf("kill -9 #%d of the member on replica %d at %s; restarting it on replica %d", i+1, i%2+1, p, (i+1)%2+1)
		if err := <-produced; err != nil {
			t.Fatal(err)
		}
		atStart, _ = k.position(e.ctx)
		onReplica(i + 1)
		c.start(m)
	}
	c.waitDrained(k, e, len(recs))
	took := time.Since(t0)
	for i, a := range addrs {
		chtest.SyncReplica(e.ctx, t, a, db)
		got, err := snapshot(e.ctx, k, a, db)
		if err != nil {
			t.Fatal(err)
		}
		c.verdict(e, fmt.Sprintf("kill9_cluster_replica%d", i+1), base, got, clusterKills, took, "")
	}
	m.stop(30 * time.Second)
}
