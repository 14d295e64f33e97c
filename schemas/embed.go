// Package schemas holds bounced's contracts as files and embeds them into the
// binary, so `bounced migrate` and the schema validator need nothing beside the
// executable.
//
//   - attempt.schema.json, decision.schema.json and alert.schema.json describe
//     the JSON of the attempts topic (what `bounced decode --attempts` prints;
//     the records themselves are binary unless pipeline.attempts_encoding is
//     json), the suppressions topic and the alerts topic (topics/records.go
//     builds those records; stage 1 validates input
//     against Attempt when ingest.validate_schema is set, and a test holds its
//     typed validation to the same verdicts).
//   - clickhouse/NNN_name.sql are the ClickHouse migrations, applied in NNN
//     order by sinks/clickhouse (each file once, recorded in the
//     schema_migrations table). A file whose first line is `-- bounced:modern`
//     (optionally followed by a minimum server major version, default 20) is
//     applied only on servers at least that new; every other file runs on
//     Debian's ClickHouse 18.16 as well as on modern servers.
//   - clickhouse/queries/dashboard.sql holds one reference query per
//     dashboard panel, for users writing their own; a test runs each against
//     ClickHouse. It is not embedded.
package schemas

import "embed"

// ClickHouse is the tree of ClickHouse migrations; files live under "clickhouse/".
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS
