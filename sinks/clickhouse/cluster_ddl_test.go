package clickhouse

import (
	"strings"
	"testing"
)

func TestClusterStatement(t *testing.T) {
	const path = "/clickhouse/tables/{shard}"
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{
			name: "merge tree",
			in:   "CREATE TABLE IF NOT EXISTS attempts\n(\n    a String\n)\nENGINE = MergeTree\nPARTITION BY toYYYYMM(sent_at)\nORDER BY a",
			want: "CREATE TABLE IF NOT EXISTS db.attempts ON CLUSTER bounced\n(\n    a String\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/attempts', '{replica}')\nPARTITION BY toYYYYMM(sent_at)\nORDER BY a",
		},
		{
			name: "engine arguments follow the path and replica",
			in:   "CREATE TABLE IF NOT EXISTS outcomes (v UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY v",
			want: "CREATE TABLE IF NOT EXISTS db.outcomes ON CLUSTER bounced (v UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/outcomes', '{replica}', version) ORDER BY v",
		},
		{
			name: "empty parentheses",
			in:   "CREATE TABLE t (v UInt64) ENGINE = SummingMergeTree() ORDER BY v",
			want: "CREATE TABLE db.t ON CLUSTER bounced (v UInt64) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}') ORDER BY v",
		},
		{
			name: "materialized view",
			in:   "CREATE MATERIALIZED VIEW IF NOT EXISTS campaign_hourly_mv TO campaign_hourly AS\nSELECT 1 FROM attempts",
			want: "CREATE MATERIALIZED VIEW IF NOT EXISTS db.campaign_hourly_mv ON CLUSTER bounced TO db.campaign_hourly AS\nSELECT 1 FROM db.attempts",
		},
		{
			name: "alter",
			in:   "ALTER TABLE attempts ADD COLUMN x String DEFAULT '' AFTER rule",
			want: "ALTER TABLE db.attempts ON CLUSTER bounced ADD COLUMN x String DEFAULT '' AFTER rule",
		},
		{name: "already on cluster", in: "ALTER TABLE a ON CLUSTER c ADD COLUMN x String", err: "already says ON CLUSTER"},
		{name: "replicated already", in: "CREATE TABLE a (x String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY x", err: "replicated already"},
		{name: "no merge tree", in: "CREATE TABLE a (x String) ENGINE = Memory", err: "no MergeTree-family engine"},
		{name: "other statement", in: "INSERT INTO a VALUES (1)", err: "only CREATE TABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clusterStatement(tc.in, "bounced", "db", path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q (got %q)", err, tc.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestClusterStatementEveryMigration rewrites every embedded migration and
// schema_migrations: none may be a statement the cluster mode cannot run.
func TestClusterStatementEveryMigration(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{schemaMigrations}
	for _, m := range ms {
		stmts = append(stmts, m.Statements...)
	}
	for _, s := range stmts {
		got, err := clusterStatement(s, "bounced", "bounced", DefaultReplicaPath)
		if err != nil {
			t.Errorf("%v\n%s", err, s)
			continue
		}
		if !strings.Contains(got, "bounced.") || !strings.Contains(got, " ON CLUSTER bounced") {
			t.Errorf("no ON CLUSTER in\n%s", got)
		}
		if strings.Contains(got, "ENGINE") && !strings.Contains(got, "ENGINE = Replicated") {
			t.Errorf("engine not replicated in\n%s", got)
		}
	}
}

func TestDedupToken(t *testing.T) {
	got := dedupToken("attempts", "bounced.attempts", []span{{0, 10, 20}, {3, 5, 9}})
	if want := "attempts/bounced.attempts/0:10-20/3:5-9"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClusterConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{Cluster: "bounced", ReplicaPath: "/clickhouse/tables/{shard}", InsertQuorum: 2}, ""},
		{Config{Cluster: "my-cluster"}, "clickhouse.cluster"},
		{Config{ReplicaPath: "clickhouse/tables"}, "clickhouse.replica_path"},
		{Config{ReplicaPath: "/clickhouse/tables/"}, "clickhouse.replica_path"},
		{Config{ReplicaPath: "/it's"}, "clickhouse.replica_path"},
		{Config{InsertQuorum: -1}, "clickhouse.insert_quorum"},
	} {
		err := tc.cfg.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.err)
		}
	}
}

func TestShardedStatements(t *testing.T) {
	const path = "/clickhouse/tables/{sshard}"
	for _, tc := range []struct {
		name string
		in   string
		want []string
		err  string
	}{
		{
			name: "table",
			in:   "CREATE TABLE IF NOT EXISTS outcomes (v UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY v",
			want: []string{
				"CREATE TABLE IF NOT EXISTS db.outcomes_local ON CLUSTER c (v UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{sshard}/db/outcomes_local', '{replica}', version) ORDER BY v",
				"CREATE TABLE IF NOT EXISTS db.outcomes ON CLUSTER c AS db.outcomes_local ENGINE = Distributed(c, db, outcomes_local)",
			},
		},
		{
			name: "view",
			in:   "CREATE MATERIALIZED VIEW IF NOT EXISTS campaign_hourly_mv TO campaign_hourly AS\nSELECT 1 FROM attempts",
			want: []string{"CREATE MATERIALIZED VIEW IF NOT EXISTS db.campaign_hourly_mv ON CLUSTER c TO db.campaign_hourly_local AS\nSELECT 1 FROM db.attempts_local"},
		},
		{
			name: "add column",
			in:   "ALTER TABLE attempts ADD COLUMN x String DEFAULT '' AFTER rule",
			want: []string{
				"ALTER TABLE db.attempts_local ON CLUSTER c ADD COLUMN x String DEFAULT '' AFTER rule",
				"ALTER TABLE db.attempts ADD COLUMN x String DEFAULT '' AFTER rule",
			},
		},
		{
			name: "modify column",
			in:   "ALTER TABLE reasons_daily MODIFY COLUMN outcome Enum8('a' = 1)",
			want: []string{
				"ALTER TABLE db.reasons_daily_local ON CLUSTER c MODIFY COLUMN outcome Enum8('a' = 1)",
				"ALTER TABLE db.reasons_daily MODIFY COLUMN outcome Enum8('a' = 1)",
			},
		},
		{
			name: "storage only",
			in:   "ALTER TABLE attempts MODIFY TTL sent_at + INTERVAL 400 DAY",
			want: []string{"ALTER TABLE db.attempts_local ON CLUSTER c MODIFY TTL sent_at + INTERVAL 400 DAY"},
		},
		{name: "on cluster", in: "ALTER TABLE a ON CLUSTER x DROP COLUMN b", err: "already says ON CLUSTER"},
		{name: "other statement", in: "INSERT INTO a VALUES (1)", err: "only CREATE TABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := shardedStatements(tc.in, "c", "db", path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q (got %q)", err, tc.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n;\n") != strings.Join(tc.want, "\n;\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n;\n"), strings.Join(tc.want, "\n;\n"))
			}
		})
	}
}

func TestSuppressionShard(t *testing.T) {
	// Pinned: a different hash would move every address's suppression rows
	// to another shard, where FINAL no longer folds them with the old ones.
	for _, tc := range []struct {
		addr   string
		shards int
		want   int
	}{
		{"a@example.com", 1, 0},
		{"a@example.com", 2, 1},
		{"b@example.com", 2, 0},
		{"c@example.com", 2, 1},
		{"a@example.com", 3, 0},
		{"c@example.com", 3, 2},
	} {
		if got := suppressionShard(tc.addr, tc.shards); got != tc.want {
			t.Errorf("suppressionShard(%q, %d) = %d, want %d", tc.addr, tc.shards, got, tc.want)
		}
	}
}
