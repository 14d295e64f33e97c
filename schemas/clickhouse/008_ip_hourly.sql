-- Per sending IP x pool x hour of the ATTEMPT (occurred_at, not sent_at: a block spike is
-- about when the receiver refused us), attempt-level counters for IP and pool health and
-- block spikes. Fed by a materialized view on attempts; read with sum() + GROUP BY.
-- Counters as in campaign_hourly: bounced = outcome bounced or expired, split by class;
-- complaints are not attempts and are left out.
CREATE TABLE IF NOT EXISTS ip_hourly
(
    hour       DateTime('UTC'),
    sending_ip LowCardinality(String),
    pool       LowCardinality(String),
    attempts   UInt64,
    delivered  UInt64,
    deferred   UInt64,
    bounced    UInt64,
    hard       UInt64,
    soft       UInt64,
    block      UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, sending_ip, pool);

CREATE MATERIALIZED VIEW IF NOT EXISTS ip_hourly_mv TO ip_hourly AS
SELECT
    toStartOfHour(occurred_at)                                          AS hour,
    sending_ip,
    pool,
    count()                                                             AS attempts,
    countIf(outcome = 'delivered')                                      AS delivered,
    countIf(outcome = 'deferred')                                       AS deferred,
    countIf(outcome = 'bounced' OR outcome = 'expired')                 AS bounced,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'hard')  AS hard,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'soft')  AS soft,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'block') AS block
FROM attempts
WHERE class != 'complaint'
GROUP BY hour, sending_ip, pool;
