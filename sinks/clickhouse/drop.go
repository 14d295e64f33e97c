package clickhouse

import (
	"context"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// DropDatabase drops cfg.Database and everything in it. `bounced demo` and
// `bounced bench` use it to start from an empty database on every run; it
// is never called on the configured production database.
func DropDatabase(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	conn, err := ch.Open(options(cfg, "", nil))
	if err != nil {
		return explain(cfg, "open", err)
	}
	defer conn.Close()
	// ON CLUSTER on a cluster: every replica drops it, with its ZooKeeper paths.
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database+onCluster(cfg)); err != nil {
		return explain(cfg, "drop database "+cfg.Database, err)
	}
	return nil
}
