// Package chaos holds bounced's crash tests: real OS processes (the
// `bounced broker` embedded Kafka broker, `bounced run` members and, for the
// outage test, a ClickHouse server of its own; TestKill9Cluster and
// TestKill9Sharded use the clusters of scripts/clickhouse-cluster.sh) driven
// through kill -9,
// rebalances, a ClickHouse outage and a broker restart, after which the
// outputs must equal both the generator's ground truth and a clean
// single-member run over the same input (docs/guarantees.md: effectively once).
//
// Everything lives in the tests; this file only documents the package.
//
//	go test ./chaos -v -count=1                      # default size, seconds per test
//	BOUNCED_CHAOS_EVENTS=1000000 go test ./chaos -v  # what scripts/chaos runs
//
// Environment:
//
//	BOUNCED_CHAOS_EVENTS       input records per test (default 60000)
//	BOUNCED_CHAOS_SEED         seed of the kill points and timings (default: random, logged)
//	BOUNCED_CHAOS_STREAM_SEED  seed of the generated input (default 1)
//	BOUNCED_CHAOS_KILLS        kill -9s in TestKill9 (default 5, at least 5)
//	BOUNCED_CHAOS_OUTAGE       ClickHouse downtime in TestOutages (default 30s)
//	BOUNCED_CHAOS_MAX_RSS_MB   memory bound of a member in TestOutages (default 1536)
//	BOUNCED_CHAOS_BIN          a prebuilt bounced binary (default: built by the tests)
//	BOUNCED_CHAOS_LOGS         keep every process log under this directory
//	BOUNCED_CLICKHOUSE_ADDR    the shared ClickHouse (default 127.0.0.1:19000)
//	BOUNCED_CLICKHOUSE_CLUSTER_ADDRS  the two servers of scripts/clickhouse-cluster.sh
//	                           (default 127.0.0.1:19010,127.0.0.1:19011); the cluster tests use
//	                           20,000 events unless BOUNCED_CHAOS_EVENTS is set
//
// The tests are skipped with -short. Without a ClickHouse server they skip,
// except under CI=true, where they fail.
package chaos
