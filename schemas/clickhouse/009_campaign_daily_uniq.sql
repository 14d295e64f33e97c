-- Distinct recipients per campaign x send day (uniq: HyperLogLog-like, ~1-2% error
-- beyond 100k, exact below 64k values per state), fed from outcomes. Daily, not hourly:
-- merging states costs ~40x summing counters. Read with uniqMerge(recipients) GROUP BY.
CREATE TABLE IF NOT EXISTS campaign_daily_uniq
(
    day         Date,
    tenant      LowCardinality(String),
    campaign_id LowCardinality(String),
    recipients  AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (campaign_id, day, tenant);

CREATE MATERIALIZED VIEW IF NOT EXISTS campaign_daily_uniq_mv TO campaign_daily_uniq AS
SELECT
    toDate(sent_at)        AS day,
    tenant,
    campaign_id,
    uniqState(recipient)   AS recipients
FROM outcomes
GROUP BY day, tenant, campaign_id;
