-- Per campaign x send hour counters, fed by a materialized view on attempts.
-- SummingMergeTree collapses rows only eventually: ALWAYS read with sum() + GROUP BY.
-- Never POPULATE (it races with concurrent inserts); backfill with INSERT ... SELECT.
--   bounced = the send ended without delivery (outcome bounced or expired);
--   hard/soft/block split the bounced ones by verdict class; complaints count class
--   'complaint' whatever the outcome. Bounce rate = bounced / (delivered + bounced).
CREATE TABLE IF NOT EXISTS campaign_hourly
(
    hour        DateTime('UTC'),
    tenant      LowCardinality(String),
    campaign_id LowCardinality(String),
    attempts    UInt64,
    delivered   UInt64,
    deferred    UInt64,
    bounced     UInt64,
    dropped     UInt64,
    hard        UInt64,
    soft        UInt64,
    block       UInt64,
    complaints  UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (campaign_id, hour, tenant);

CREATE MATERIALIZED VIEW IF NOT EXISTS campaign_hourly_mv TO campaign_hourly AS
SELECT
    toStartOfHour(sent_at)                                              AS hour,
    tenant,
    campaign_id,
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
GROUP BY hour, tenant, campaign_id;
