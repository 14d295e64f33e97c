-- Why mail was not delivered, per send day: every attempt that did not end in a
-- delivery (deferrals included: greylisting and throttling show up there) plus
-- complaints. Read with sum(attempts) + GROUP BY.
CREATE TABLE IF NOT EXISTS reasons_daily
(
    day              Date,
    outcome          Enum8('delivered' = 1, 'deferred' = 2, 'bounced' = 3, 'expired' = 4, 'dropped' = 5),
    class            LowCardinality(String),
    label            LowCardinality(String),
    rule             LowCardinality(String),
    smtp_code        UInt16,
    smtp_enhanced    LowCardinality(String),
    campaign_id      LowCardinality(String),
    recipient_domain LowCardinality(String),
    attempts         UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, class, label, rule, outcome, smtp_code, smtp_enhanced, campaign_id, recipient_domain);

CREATE MATERIALIZED VIEW IF NOT EXISTS reasons_daily_mv TO reasons_daily AS
SELECT
    toDate(sent_at) AS day,
    outcome,
    class,
    label,
    rule,
    smtp_code,
    smtp_enhanced,
    campaign_id,
    recipient_domain,
    count()         AS attempts
FROM attempts
WHERE outcome != 'delivered' OR class = 'complaint'
GROUP BY day, outcome, class, label, rule, smtp_code, smtp_enhanced, campaign_id, recipient_domain;
