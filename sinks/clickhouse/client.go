// Package clickhouse writes bounced's attempts and suppressions to ClickHouse
// and reads the rates back (SPEC §6).
//
// The schema lives in schemas/clickhouse as numbered SQL files, applied by
// Migrate. It runs on Debian's ClickHouse 18.16 and on modern servers; files
// marked modern (TTL, skip indexes, insert dedup window) are applied only where
// the server supports them. The server version is read once in Open and every
// 18.x-versus-modern choice follows from it.
//
// # Effectively-once
//
// Kafka delivers at least once, and MergeTree on 18.16 does not drop a re-sent
// block, so a retried batch would double the raw rows and, through the
// materialized views, every rollup. InsertAttempts therefore takes one
// topic-partition's rows in offset order and skips those already stored: it
// compares against the partition's watermark (the highest src_offset in the
// attempts table), cached after the first read and advanced after each
// successful INSERT. After a failed INSERT nothing is retried here: the cached
// watermark is dropped, because the INSERT may have landed anyway (a timeout),
// and the next call reads the truth back from the server.
//
// The same rows go to outcomes (one row per attempt of a send, collapsing to
// the send's final state) under a watermark of its own, so a crash between
// the two INSERTs neither loses nor repeats outcome rows.
//
// # Few, large parts
//
// Every INSERT makes a part in its table and in each materialized view fed
// from it. Calls of InsertAttempts for different partitions that arrive
// within Config.InsertLinger of each other are sent together (group commit,
// commit.go): one INSERT into attempts and one into outcomes for all of
// them. Each call still does its own watermark checks, and a failure fails
// every call that shared the INSERT, so each re-reads the server's state.
// Rows are sent column by column from reused buffers (columns.go).
//
// Every rollup is a materialized view over attempts or outcomes, so keeping
// the raw rows exact keeps the rollups exact.
package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// modernMajor is the first server major version that gets the modern-only
// migrations; 18.16 is the oldest server bounced supports.
const modernMajor = 20

// Client is a connection pool to one ClickHouse database. It is safe for
// concurrent use, with one rule: calls of InsertAttempts for the same
// topic-partition must not overlap (one writer per partition, as Kafka
// assigns). Concurrent calls for different partitions share their INSERTs
// (see Config.InsertLinger).
type Client struct {
	conn    driver.Conn
	cfg     Config
	log     *slog.Logger
	version Version
	// shards are where each Kafka partition's rows are written and their
	// watermarks read (shards.go): one on one server or a cluster of one
	// shard, with the client's own pool.
	shards []*shard

	mu         sync.Mutex
	watermarks map[partitionKey]int64 // absent = unknown, read from the server on next use

	// beforeOutcomes, when set (tests only, export_test.go), runs between the
	// attempts and the outcomes INSERT; an error stands for a crash there.
	beforeOutcomes func() error
	// beforeSend, when set (tests only), runs in each INSERT of attempts or
	// outcomes between the query and its rows.
	beforeSend func(table string, partitions []int32)
}

// Version is a ClickHouse server version.
type Version struct {
	Major, Minor, Patch uint64
}

// String formats v as ClickHouse does, e.g. "18.16.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Modern reports whether the server gets the modern-only migrations.
func (v Version) Modern() bool { return v.Major >= modernMajor }

// legacyLowCardinality reports whether LowCardinality columns must be enabled
// per connection: 18.x treats them as experimental, and modern servers reject
// the setting's name, so it is sent only to 18.x.
func (v Version) legacyLowCardinality() bool { return v.Major < 19 }

// Open connects over the native protocol, creates cfg.Database when it does not
// exist and reads the server version. It does not migrate; call Migrate.
// logger may be nil to discard the client's logs.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	return open(ctx, cfg, logger, true)
}

// OpenReadOnly connects like Open for commands that only read (report,
// history): it creates nothing and changes no schema. A database that does
// not exist, or migrations not yet applied, are errors that say to run
// bounced migrate.
func OpenReadOnly(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	c, err := open(ctx, cfg, logger, false)
	if err != nil {
		return nil, err
	}
	pending, err := c.Pending(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if len(pending) > 0 {
		c.Close()
		return nil, fmt.Errorf("clickhouse database %s lacks migration(s) %s: run `bounced migrate` (a read-only command changes no schema)",
			c.cfg.Database, strings.Join(pending, ", "))
	}
	return c, nil
}

func open(ctx context.Context, cfg Config, logger *slog.Logger, create bool) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	// Bootstrap on the server's default database: connecting straight to a
	// database that does not exist yet fails the handshake.
	boot, err := ch.Open(options(cfg, "", nil))
	if err != nil {
		return nil, explain(cfg, "open", err)
	}
	defer boot.Close()
	if err := boot.Ping(ctx); err != nil {
		return nil, explain(cfg, "connect", err)
	}
	sv, err := boot.ServerVersion()
	if err != nil {
		return nil, explain(cfg, "read server version", err)
	}
	v := Version{Major: sv.Version.Major, Minor: sv.Version.Minor, Patch: sv.Version.Patch}
	var replicas [][]replicaInfo
	if cfg.Cluster != "" {
		if replicas, err = readCluster(ctx, boot, cfg); err != nil {
			return nil, err
		}
	}
	if create {
		// ON CLUSTER on a cluster: every replica gets the database.
		if err := boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database+onCluster(cfg)); err != nil {
			return nil, explain(cfg, "create database "+cfg.Database, err)
		}
	} else {
		var n uint64
		if err := boot.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", cfg.Database).Scan(&n); err != nil {
			return nil, explain(cfg, "look up database "+cfg.Database, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("clickhouse at %s has no database %s: run `bounced migrate` first (a read-only command creates nothing)", cfg.Addr, cfg.Database)
		}
	}

	c, err := connect(ctx, cfg, v, logger)
	if err != nil {
		return nil, err
	}
	if replicas != nil {
		if err := c.openShards(ctx, replicas); err != nil {
			c.conn.Close()
			return nil, err
		}
		if err := c.checkLayout(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	logger.Info("clickhouse connected", "addr", cfg.Addr, "database", cfg.Database,
		"server_version", v.String(), "modern", v.Modern(), "cluster", cfg.Cluster, "shards", len(c.shards))
	return c, nil
}

// connect opens the pool to cfg.Database of a server of version v.
func connect(ctx context.Context, cfg Config, v Version, logger *slog.Logger) (*Client, error) {
	var settings ch.Settings
	if v.legacyLowCardinality() {
		settings = ch.Settings{"allow_experimental_low_cardinality_type": 1}
	}
	conn, err := ch.Open(options(cfg, cfg.Database, settings))
	if err != nil {
		return nil, explain(cfg, "open", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, explain(cfg, "connect to database "+cfg.Database, err)
	}
	c := &Client{
		conn:       conn,
		cfg:        cfg,
		log:        logger,
		version:    v,
		watermarks: make(map[partitionKey]int64),
	}
	// One shard through this pool until open reads a cluster's.
	c.shards = []*shard{{addr: cfg.Addr}}
	c.newCommitters(c.shards[0])
	return c, nil
}

// ReadPool opens a second, separate pool to c's database of at most
// Config.DashboardMaxConns connections, for reads that must never take the
// connections inserts need (the HTTP dashboard): the pools do not share
// connections, so however slow its queries, stage 2's inserts still get
// c's. The caller closes it; it is meant for queries, not InsertAttempts.
func (c *Client) ReadPool(ctx context.Context) (*Client, error) {
	cfg := c.cfg
	cfg.MaxConns = cfg.DashboardMaxConns
	r, err := connect(ctx, cfg, c.version, c.log)
	if err != nil {
		return nil, fmt.Errorf("dashboard pool: %w", err)
	}
	return r, nil
}

func options(cfg Config, database string, settings ch.Settings) *ch.Options {
	o := &ch.Options{
		Protocol: ch.Native,
		Addr:     []string{cfg.Addr},
		Auth: ch.Auth{
			Database: database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		Settings:     settings,
		DialTimeout:  cfg.DialTimeout,
		MaxOpenConns: cfg.MaxConns,
		MaxIdleConns: cfg.MaxConns,
		Compression:  cfg.compression(),
		ClientInfo: ch.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "bounced", Version: "1"}},
		},
	}
	if tc, err := cfg.tlsConfig(); err != nil {
		// Validate has read the files already; should one have become
		// unreadable since, every handshake fails with the reason rather
		// than the connection going out without what was asked for.
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, VerifyConnection: func(tls.ConnectionState) error { return err }}
	} else {
		o.TLS = tc
	}
	return o
}

// explain turns connection-level failures into messages that say what to do.
func explain(cfg Config, op string, err error) error {
	var exc *ch.Exception
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("clickhouse at %s: %s: connection refused — start one with scripts/clickhouse.sh start or set clickhouse.addr: %w", cfg.Addr, op, err)
	case errors.As(err, &exc) && (exc.Code == 516 || exc.Code == 192 || exc.Code == 193 || exc.Code == 194):
		// 516 AUTHENTICATION_FAILED (modern); 192/193/194 unknown user / wrong or required password (18.x).
		return fmt.Errorf("clickhouse at %s: %s: authentication failed for user %q — check clickhouse.username and clickhouse.password: %w", cfg.Addr, op, cfg.Username, err)
	case errors.As(err, &exc) && exc.Code == 81:
		return fmt.Errorf("clickhouse at %s: %s: database %q does not exist and could not be created — check clickhouse.database and the user's grants: %w", cfg.Addr, op, cfg.Database, err)
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("clickhouse at %s: %s: timed out — is clickhouse.addr the native port (9000/19000, not HTTP's 8123), is clickhouse.tls right, or raise clickhouse.dial_timeout: %w", cfg.Addr, op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("clickhouse at %s: %s: deadline exceeded — is clickhouse.addr the native port (9000/19000, not HTTP's 8123)?: %w", cfg.Addr, op, err)
	}
	return fmt.Errorf("clickhouse at %s: %s: %w", cfg.Addr, op, err)
}

// ServerVersion is the version read in Open.
func (c *Client) ServerVersion() Version { return c.version }

// Database is the database the client writes to.
func (c *Client) Database() string { return c.cfg.Database }

// Ping checks that the server answers, for readiness probes.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return explain(c.cfg, "ping", err)
	}
	return nil
}

// Close releases the connections. Inserts in flight fail.
func (c *Client) Close() error {
	errs := []error{c.conn.Close()}
	for _, s := range c.shards {
		errs = append(errs, s.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clickhouse: close: %w", err)
	}
	return nil
}
