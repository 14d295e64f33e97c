-- Per recipient domain x send hour counters (and sending IP, for block spikes per
-- domain and IP), fed by a materialized view on attempts. Same counters and reading
-- rules as campaign_hourly: sum() + GROUP BY, never trust a single row.
CREATE TABLE IF NOT EXISTS domain_hourly
(
    hour             DateTime('UTC'),
    recipient_domain LowCardinality(String),
    sending_ip       LowCardinality(String),
    attempts         UInt64,
    delivered        UInt64,
    deferred         UInt64,
    bounced          UInt64,
    dropped          UInt64,
    hard             UInt64,
    soft             UInt64,
    block            UInt64,
    complaints       UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (recipient_domain, hour, sending_ip);

CREATE MATERIALIZED VIEW IF NOT EXISTS domain_hourly_mv TO domain_hourly AS
SELECT
    toStartOfHour(sent_at)                                              AS hour,
    recipient_domain,
    sending_ip,
    countIf(class != 'complaint')                                       AS attempts,
    countIf(outcome = 'delivered' AND class != 'complaint')             AS delivered,
    countIf(outcome = 'deferred')                                       AS deferred,
    countIf(outcome = 'bounced' OR outcome = 'expired')                 AS bounced,
    countIf(outcome = 'dropped')                                        AS dropped,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'hard')  AS hard,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'soft')  AS soft,
    countIf((outcome = 'bounced' OR outcome = 'expired') AND class = 'block') AS block,
    countIf(class = 'complaint')                                        AS complaints
FROM attempts
GROUP BY hour, recipient_domain, sending_ip;
