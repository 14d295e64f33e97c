package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// TestReadPool: the dashboard's pool is its own, of DashboardMaxConns
// connections, on the same database; closing it leaves the writer's.
func TestReadPool(t *testing.T) {
	addr, database := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Open(ctx, Config{Addr: addr, Database: database, MaxConns: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.ReadPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.conn == c.conn || r.cfg.MaxConns != DefaultDashboardMaxConns || r.Database() != database || r.ServerVersion() != c.ServerVersion() {
		t.Errorf("read pool: max_conns %d, database %q, version %s", r.cfg.MaxConns, r.Database(), r.ServerVersion())
	}
	if got := r.conn.Stats().MaxOpenConns; got != DefaultDashboardMaxConns {
		t.Errorf("read pool: %d connections at most, want %d", got, DefaultDashboardMaxConns)
	}
	var one uint8
	if err := r.conn.QueryRow(ctx, "SELECT toUInt8(1)").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through the read pool: %d %v", one, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("writer's pool after the read pool closed: %v", err)
	}

	c2, err := Open(ctx, Config{Addr: addr, Database: database, DashboardMaxConns: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2, err := c2.ReadPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := r2.conn.Stats().MaxOpenConns; got != 3 {
		t.Errorf("clickhouse.dashboard_max_conns 3: %d connections at most", got)
	}
}
