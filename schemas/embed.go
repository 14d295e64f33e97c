// Package schemas holds bounced's contracts as files and embeds them into the
// binary, so `bounced migrate` needs nothing beside the executable.
//
// clickhouse/NNN_name.sql are the ClickHouse migrations, applied in NNN order by
// sinks/clickhouse (each file once, recorded in the schema_migrations table). A file
// whose first line is `-- bounced:modern` (optionally followed by a minimum server
// major version, default 20) is applied only on servers at least that new; every
// other file runs on Debian's ClickHouse 18.16 as well as on modern servers.
package schemas

import "embed"

// ClickHouse is the tree of ClickHouse migrations; files live under "clickhouse/".
//
// The JSON Schemas (schemas/*.json) are not embedded yet: go:embed fails the build
// on a pattern that matches no file. Once they exist, add beside this one:
//
//	//go:embed *.json
//	var JSON embed.FS
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS
