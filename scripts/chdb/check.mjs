// check.mjs runs bounced's SQL on a modern ClickHouse engine in process (chdb),
// so CI sees what a modern server would say about it; Debian's 18.16 server,
// which every other test uses, cannot.
//
// Usage: node scripts/chdb/check.mjs PLAN.json
//
// PLAN.json is written by TestModernClickHouse (sinks/clickhouse/modern_test.go):
//   { "database": "...",
//     "migrations": [{ "name": "001_attempts", "version": 1, "statements": ["CREATE ...", ...] }, ...],
//     "fixture": ["INSERT INTO attempts ... SELECT ...", ...],
//     "queries": [{ "name": "dashboard.sql campaign_rates_table", "sql": "SELECT ..." }, ...] }
//
// A fresh session gets every migration in order (the modern-only files too:
// chdb is a modern engine), then the fixture, then each query. It prints one
// JSON object on stdout: { "version": "26.x", "results": [{ "name", "rows": [...] }
// or { "name", "error" }] }, and exits 1 when anything failed, with one line
// per failure on stderr. Statements are the ones sinks/clickhouse's loader
// produced (comments dropped, split on semicolons), so this script parses no SQL.

import { readFileSync, rmSync } from 'node:fs';
import { Session } from 'chdb';

// alreadyAdded mirrors sinks/clickhouse/migrate.go: an ADD COLUMN whose column
// exists counts as done (18.16 has no ADD COLUMN IF NOT EXISTS).
const addColumn = /^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s/is;
function alreadyAdded(stmt, err) {
  const msg = String(err && err.message);
  return addColumn.test(stmt) && /Code: 44\b/.test(msg) && msg.includes('already exists');
}

// oneLine shortens an engine message for stderr: the first line, which holds
// the code and the reason.
function oneLine(err) {
  return String(err && err.message).split('\n')[0];
}

function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node scripts/chdb/check.mjs PLAN.json\n');
    return 2;
  }
  let plan;
  try {
    plan = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`chdb check: read plan ${file}: ${oneLine(err)}\n`);
    return 2;
  }
  if (!/^\w+$/.test(plan.database || '')) {
    process.stderr.write(`chdb check: plan ${file}: database ${JSON.stringify(plan.database)}: want a plain identifier\n`);
    return 2;
  }

  const session = new Session(); // a fresh temporary directory: nothing left from a previous run
  const failures = [];
  const out = { version: '', results: [] };
  try {
    out.version = session.query('SELECT version()', 'TSVRaw').trim();
    // The same database name as on 18.16: queries that read system tables bind it.
    session.query(`CREATE DATABASE ${plan.database}`);
    session.query(`USE ${plan.database}`);

    for (const m of plan.migrations) {
      const before = failures.length;
      m.statements.forEach((stmt, i) => {
        try {
          session.query(stmt);
        } catch (err) {
          if (!alreadyAdded(stmt, err)) {
            failures.push(`migration ${m.name} statement ${i + 1}: ${oneLine(err)}`);
          }
        }
      });
      // Recorded as Migrate records it, so the queries that read
      // schema_migrations see what a migrated modern server holds.
      if (m.version > 0 && failures.length === before) {
        session.query(`INSERT INTO schema_migrations (version, name, applied_at) SELECT ${Number(m.version)}, ` +
          `'${String(m.name).replace(/[\\']/g, '\\$&')}', now()`);
      }
    }
    plan.fixture.forEach((stmt, i) => {
      try {
        session.query(stmt);
      } catch (err) {
        failures.push(`fixture statement ${i + 1}: ${oneLine(err)}\n${stmt}`);
      }
    });
    // Queries only once the schema is whole: a failed migration makes every
    // later failure noise.
    if (failures.length === 0) {
      for (const q of plan.queries) {
        try {
          const res = JSON.parse(session.query(q.sql, 'JSON'));
          out.results.push({ name: q.name, rows: res.data });
        } catch (err) {
          out.results.push({ name: q.name, error: oneLine(err) });
          failures.push(`${q.name}: ${oneLine(err)}\n${q.sql}`);
        }
      }
    }
  } finally {
    const path = session.path;
    session.cleanup();
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // cleanup() removes a temporary session's directory itself; this is a second try.
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  for (const f of failures) {
    process.stderr.write(`chdb ${out.version}: ${f}\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
