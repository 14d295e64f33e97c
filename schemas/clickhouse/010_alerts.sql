-- Alert state changes (SPEC §6): one row each time a rule starts or stops firing for a
-- subject, the same records as the bounced.alerts topic (schemas/alert.schema.json).
-- Replays write identical rows; ReplacingMergeTree folds them on the full key.
-- The current state of an alert is its latest row: argMax(state, at) GROUP BY rule, scope, subject.
CREATE TABLE IF NOT EXISTS alerts
(
    at        DateTime('UTC'),
    rule      LowCardinality(String),   -- hard_rate, bounce_rate_warning, bounce_rate_critical, block_spike, incident_guard
    scope     LowCardinality(String),   -- campaign, domain, ip
    subject   String,
    severity  LowCardinality(String),   -- warning, critical
    state     LowCardinality(String),   -- firing, resolved
    value     Float64,
    threshold Float64,
    volume    UInt64,
    period    String,                   -- the window measured (the JSON field "window")
    message   String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (rule, scope, subject, at, state);
