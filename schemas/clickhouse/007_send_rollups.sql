-- Send-level rollups: the sum of outcomes' send deltas per campaign x send hour and per
-- recipient domain x send hour. Exact because every outcomes row is inserted exactly
-- once (watermark) and carries what it changed; a late bounce moves its send from
-- delivered to bounced in the hour the message was SENT. SummingMergeTree collapses rows
-- only eventually: ALWAYS read with sum() + GROUP BY.
--   bounce rate = sum(bounced) / (sum(delivered) + sum(bounced)); hard, soft, block alike.
-- Signed counters: a -1 delivered can sit in another row than its +1 until merged.
CREATE TABLE IF NOT EXISTS campaign_sends_hourly
(
    sent_hour   DateTime('UTC'),
    tenant      LowCardinality(String),
    campaign_id LowCardinality(String),
    delivered   Int64,
    bounced     Int64,
    hard        Int64,
    soft        Int64,
    block       Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(sent_hour)
ORDER BY (campaign_id, sent_hour, tenant);

CREATE MATERIALIZED VIEW IF NOT EXISTS campaign_sends_hourly_mv TO campaign_sends_hourly AS
SELECT
    toStartOfHour(sent_at) AS sent_hour,
    tenant,
    campaign_id,
    sum(d_delivered)       AS delivered,
    sum(d_bounced)         AS bounced,
    sum(d_hard)            AS hard,
    sum(d_soft)            AS soft,
    sum(d_block)           AS block
FROM outcomes
WHERE d_delivered != 0 OR d_bounced != 0
GROUP BY sent_hour, tenant, campaign_id;

CREATE TABLE IF NOT EXISTS domain_sends_hourly
(
    sent_hour        DateTime('UTC'),
    recipient_domain LowCardinality(String),
    delivered        Int64,
    bounced          Int64,
    hard             Int64,
    soft             Int64,
    block            Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(sent_hour)
ORDER BY (recipient_domain, sent_hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS domain_sends_hourly_mv TO domain_sends_hourly AS
SELECT
    toStartOfHour(sent_at) AS sent_hour,
    recipient_domain,
    sum(d_delivered)       AS delivered,
    sum(d_bounced)         AS bounced,
    sum(d_hard)            AS hard,
    sum(d_soft)            AS soft,
    sum(d_block)           AS block
FROM outcomes
WHERE d_delivered != 0 OR d_bounced != 0
GROUP BY sent_hour, recipient_domain;
