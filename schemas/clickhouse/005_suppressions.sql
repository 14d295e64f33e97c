-- Suppression records (SPEC §5) for dashboards. ReplacingMergeTree keeps the row with
-- the highest version per address, but only after a merge and only within one
-- partition: hence no PARTITION BY, and reads use FINAL (or argMax).
-- A lifted address is a tombstone row: deleted = 1 (18.16 has no is_deleted engine
-- parameter; filter with WHERE deleted = 0 after FINAL).
CREATE TABLE IF NOT EXISTS suppressions
(
    address     String,
    domain      LowCardinality(String),
    status      LowCardinality(String),     -- suppressed | held
    class       LowCardinality(String),
    label       LowCardinality(String),
    reason      String,                     -- one human sentence
    rule        LowCardinality(String),
    since       DateTime('UTC'),
    updated_at  DateTime('UTC'),
    soft_streak UInt32,
    source      LowCardinality(String),     -- auto | operator
    evidence    String,                     -- JSON array of the last few events
    deleted     UInt8,                      -- 1 = lifted (tombstone)
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY address;
