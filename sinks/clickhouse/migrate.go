package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/bounced-dev/bounced/schemas"
)

// Migration is one schemas/clickhouse/NNN_name.sql file.
type Migration struct {
	Version uint32 // NNN
	Name    string // file name without .sql, e.g. "001_attempts"
	// MinMajor is the lowest server major version the file is for: 0 for
	// portable files, 20 or more for those marked `-- bounced:modern [N]`.
	MinMajor   uint64
	Statements []string
}

// modernMarker on a file's first line restricts it to modern servers.
const modernMarker = "-- bounced:modern"

// schemaMigrations records applied files. It is created by Migrate itself, not
// by a file, because Migrate must read it before applying anything. MergeTree
// rather than a replacing engine: two members migrating at once may both record
// a version, and readers take DISTINCT versions.
const schemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY version`

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return loadMigrations(schemas.ClickHouse, "clickhouse")
}

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	files, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	seen := map[uint32]string{}
	var out []Migration
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", f)
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", f, v, prev)
		}
		seen[uint32(v)] = name
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", f, err)
		}
		m := Migration{Version: uint32(v), Name: name}
		first, _, _ := strings.Cut(string(body), "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(first), modernMarker); ok {
			m.MinMajor = modernMajor
			if rest = strings.TrimSpace(rest); rest != "" {
				if m.MinMajor, err = strconv.ParseUint(rest, 10, 64); err != nil || m.MinMajor < modernMajor {
					return nil, fmt.Errorf("migration %s: %q: want a major version >= %d after the marker", f, first, modernMajor)
				}
			}
		}
		m.Statements = splitStatements(string(body))
		if len(m.Statements) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", f)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// splitStatements splits SQL on semicolons outside quotes and comments and
// drops the comments: the native protocol takes one statement per query, and
// 18.16 rejects a trailing comment as an empty query.
func splitStatements(sql string) []string {
	var (
		out  []string
		cur  strings.Builder
		quot byte // the open quote character, 0 outside quotes
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quot != 0:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(sql) {
				i++
				cur.WriteByte(sql[i])
			} else if c == quot {
				quot = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quot = c
			cur.WriteByte(c)
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// Migrate applies, in version order, every embedded migration not yet recorded
// in schema_migrations and meant for this server's version, and returns the
// names it applied. Each statement is idempotent (IF NOT EXISTS; an ADD
// COLUMN whose column exists counts as done, see alreadyAdded), so a run
// interrupted half-way is completed by the next one, and members that start
// together migrate side by side. Modern-only files skipped
// on an old server are applied after an upgrade.
func (c *Client) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	// schema_migrations is a plain (replicated) table on every shard, not a
	// Distributed one: it is read and written on the first shard.
	create := schemaMigrations
	if c.cfg.Cluster != "" {
		if create, err = clusterStatement(schemaMigrations, c.cfg.Cluster, c.cfg.Database, c.cfg.ReplicaPath); err != nil {
			return nil, fmt.Errorf("clickhouse migrate: schema_migrations: %w", err)
		}
	}
	if err := c.conn.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("clickhouse migrate: create schema_migrations: %w", err)
	}
	if c.sharded() {
		if err := c.recordLayout(ctx); err != nil {
			return nil, err
		}
	}
	done, err := c.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if c.version.Major < m.MinMajor {
			c.log.Debug("clickhouse migration skipped: needs a newer server",
				"migration", m.Name, "min_major", m.MinMajor, "server_version", c.version.String())
			continue
		}
		for i, stmt := range m.Statements {
			stmts, err := c.ddl(stmt)
			if err != nil {
				return applied, fmt.Errorf("clickhouse migrate: %s statement %d on cluster %s: %w", m.Name, i+1, c.cfg.Cluster, err)
			}
			for _, stmt := range stmts {
				conns := []driver.Conn{c.conn}
				if c.sharded() && everyReplica(stmt) {
					conns = c.everyReplica()
				}
				for _, conn := range conns {
					if err := conn.Exec(ctx, stmt); err != nil && !alreadyAdded(stmt, err) {
						return applied, fmt.Errorf("clickhouse migrate: %s statement %d: %w", m.Name, i+1, err)
					}
				}
			}
		}
		if err := c.record(ctx, m); err != nil {
			return applied, fmt.Errorf("clickhouse migrate: record %s: %w", m.Name, err)
		}
		c.log.Info("clickhouse migration applied", "migration", m.Name, "database", c.cfg.Database)
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// Pending lists, in order, the migrations this server needs that the
// database has not applied (all of them when it has no schema_migrations
// table). It changes nothing.
func (c *Client) Pending(ctx context.Context) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'").Scan(&n); err != nil {
		return nil, fmt.Errorf("clickhouse: look up schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	if n > 0 {
		if done, err = c.appliedVersions(ctx); err != nil {
			return nil, err
		}
	}
	var pending []string
	for _, m := range ms {
		if !done[m.Version] && c.version.Major >= m.MinMajor {
			pending = append(pending, m.Name)
		}
	}
	return pending, nil
}

// record notes m as applied. A batch, not INSERT ... VALUES through Exec: 18.16
// waits for a data block after such a query and the call never returns.
func (c *Client) record(ctx context.Context, m Migration) (err error) {
	// With the quorum on a cluster, so the next run through another replica
	// reads it (appliedVersions, with sequential consistency).
	batch, err := c.connOf(c.shards[0]).PrepareBatch(c.insertContext(ctx, ""), "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	defer func() {
		if !batch.IsSent() {
			err = errors.Join(err, batch.Abort())
		}
	}()
	if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		return err
	}
	return batch.Send()
}

// AppliedMigrations lists the recorded migration versions, ascending.
func (c *Client) AppliedMigrations(ctx context.Context) ([]uint32, error) {
	done, err := c.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, len(done))
	for v := range done {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func (c *Client) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	conn := c.connOf(c.shards[0])
	if err := c.syncReplica(ctx, conn, "schema_migrations"); err != nil {
		return nil, fmt.Errorf("clickhouse migrate: %w", err)
	}
	rows, err := conn.Query(c.readContext(ctx), "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("clickhouse migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("clickhouse migrate: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse migrate: read schema_migrations: %w", err)
	}
	return done, nil
}

// addColumn matches ALTER TABLE ... ADD COLUMN.
var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s`)

// alreadyAdded reports whether err only says that the column stmt adds is
// there already: 18.16 has no ADD COLUMN IF NOT EXISTS, and another member
// migrating at the same time, or a run cut short after the statement,
// added it.
func alreadyAdded(stmt string, err error) bool {
	var exc *ch.Exception
	return addColumn.MatchString(stmt) && errors.As(err, &exc) && exc.Code == 44 && strings.Contains(exc.Message, "already exists")
}
