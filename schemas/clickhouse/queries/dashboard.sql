-- Dashboard queries, one per panel, over the tables of schemas/clickhouse (SPEC §6).
-- Each runs on ClickHouse 18.16 and on modern servers. Macros, as the Grafana ClickHouse
-- data source (grafana-clickhouse-datasource) expands them:
--   $__fromTime, $__toTime   the dashboard's time range as DateTime
--   '$campaign', '$domain'   template variables (a campaign id, a recipient domain)
-- scripts/chlatency substitutes literals and times each query; sinks/clickhouse's
-- TestDashboardQueries runs them all against the real server.
-- Rules: rollups are SummingMergeTree (always sum() + GROUP BY); aliases never reuse a
-- column name (18.16 and the modern analyzer resolve such clashes differently); rates are
-- over ended SENDS, by send time (sent_hour), never by bounce time:
--   bounce rate = bounced / (delivered + bounced); hard, soft, block likewise.
-- Deferral rate is per attempt, from the attempt rollups.

-- name: campaign_rates_over_send_time
-- Bounce, hard and block rate per send hour of the 10 largest campaigns in the range.
SELECT sent_hour AS t, campaign_id,
       sum(delivered) + sum(bounced) AS n_sends,
       if(n_sends = 0, 0, sum(bounced) / n_sends) AS bounce_rate,
       if(n_sends = 0, 0, sum(hard) / n_sends) AS hard_rate,
       if(n_sends = 0, 0, sum(block) / n_sends) AS block_rate
FROM campaign_sends_hourly
WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
  AND campaign_id IN (
      SELECT campaign_id FROM campaign_sends_hourly
      WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
      GROUP BY campaign_id ORDER BY sum(delivered) + sum(bounced) DESC LIMIT 10)
GROUP BY t, campaign_id
ORDER BY t, campaign_id;

-- name: domain_rates_over_send_time
-- The same per recipient domain (the 10 largest).
SELECT sent_hour AS t, recipient_domain,
       sum(delivered) + sum(bounced) AS n_sends,
       if(n_sends = 0, 0, sum(bounced) / n_sends) AS bounce_rate,
       if(n_sends = 0, 0, sum(hard) / n_sends) AS hard_rate,
       if(n_sends = 0, 0, sum(block) / n_sends) AS block_rate
FROM domain_sends_hourly
WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
  AND recipient_domain IN (
      SELECT recipient_domain FROM domain_sends_hourly
      WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
      GROUP BY recipient_domain ORDER BY sum(delivered) + sum(bounced) DESC LIMIT 10)
GROUP BY t, recipient_domain
ORDER BY t, recipient_domain;

-- name: campaign_rates_table
-- One row per campaign: sends, every rate, deferral rate (attempts) and distinct recipients.
-- (18.16 takes one JOIN per SELECT: hence the nesting.) Every joined subquery has an alias
-- (by_sends, by_attempts, joined, by_recipients; none a table or column name): modern
-- servers refuse a JOIN of unnamed subqueries ("no alias for subquery",
-- joined_subquery_requires_alias); 18.16 accepts the aliases, and USING keeps the column
-- names unqualified on both.
SELECT campaign_id, n_sends, n_delivered, n_bounced, bounce_rate, hard_rate, soft_rate, block_rate,
       n_attempts, deferral_rate, n_recipients
FROM
(
    SELECT *
    FROM
    (
        SELECT campaign_id,
               sum(delivered) AS n_delivered, sum(bounced) AS n_bounced,
               n_delivered + n_bounced AS n_sends,
               if(n_sends = 0, 0, n_bounced / n_sends) AS bounce_rate,
               if(n_sends = 0, 0, sum(hard) / n_sends) AS hard_rate,
               if(n_sends = 0, 0, sum(soft) / n_sends) AS soft_rate,
               if(n_sends = 0, 0, sum(block) / n_sends) AS block_rate
        FROM campaign_sends_hourly
        WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
        GROUP BY campaign_id
    ) AS by_sends
    ANY LEFT JOIN
    (
        SELECT campaign_id, sum(attempts) AS n_attempts,
               if(n_attempts = 0, 0, sum(deferred) / n_attempts) AS deferral_rate
        FROM campaign_hourly
        WHERE hour >= $__fromTime AND hour < $__toTime
        GROUP BY campaign_id
    ) AS by_attempts USING campaign_id
) AS joined
ANY LEFT JOIN
(
    SELECT campaign_id, uniqMerge(recipients) AS n_recipients
    FROM campaign_daily_uniq
    WHERE day >= toDate($__fromTime) AND day <= toDate($__toTime)
    GROUP BY campaign_id
) AS by_recipients USING campaign_id
ORDER BY n_sends DESC
LIMIT 100;

-- name: send_hour_rates_campaign
-- One campaign's rates per send hour (template variable $campaign).
SELECT sent_hour AS t,
       sum(delivered) + sum(bounced) AS n_sends,
       if(n_sends = 0, 0, sum(bounced) / n_sends) AS bounce_rate,
       if(n_sends = 0, 0, sum(hard) / n_sends) AS hard_rate,
       if(n_sends = 0, 0, sum(soft) / n_sends) AS soft_rate,
       if(n_sends = 0, 0, sum(block) / n_sends) AS block_rate
FROM campaign_sends_hourly
WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime AND campaign_id = '$campaign'
GROUP BY t
ORDER BY t;

-- name: campaign_by_domain_drilldown
-- One campaign split by recipient domain: no rollup has both, so each send's current
-- state is read from outcomes (argMax by version; exact, a scan of the campaign's rows).
SELECT recipient_domain,
       countIf(o = 'delivered') + countIf(o = 'bounced' OR o = 'expired') AS n_sends,
       if(n_sends = 0, 0, countIf(o = 'bounced' OR o = 'expired') / n_sends) AS bounce_rate,
       if(n_sends = 0, 0, countIf((o = 'bounced' OR o = 'expired') AND c = 'hard') / n_sends) AS hard_rate,
       if(n_sends = 0, 0, countIf((o = 'bounced' OR o = 'expired') AND c = 'block') / n_sends) AS block_rate
FROM
(
    SELECT send_key, argMax(recipient_domain, version) AS recipient_domain,
           argMax(outcome, version) AS o, argMax(class, version) AS c
    FROM outcomes
    WHERE campaign_id = '$campaign' AND sent_at >= $__fromTime AND sent_at < $__toTime
    GROUP BY send_key
)
GROUP BY recipient_domain
ORDER BY n_sends DESC
LIMIT 50;

-- name: top_reasons
-- Why mail was not delivered: attempts per verdict (deferrals included), by send day.
SELECT class, label, rule, sum(attempts) AS n_attempts,
       sumIf(attempts, outcome = 'bounced' OR outcome = 'expired') AS n_bounced,
       sumIf(attempts, outcome = 'deferred') AS n_deferred
FROM reasons_daily
WHERE day >= toDate($__fromTime) AND day <= toDate($__toTime) AND class != 'complaint'
GROUP BY class, label, rule
ORDER BY n_attempts DESC
LIMIT 20;

-- name: ip_block_spikes
-- Sending IP x hour (of the attempt) whose block rate is at least 3x the IP's own rate
-- over the range, with at least 20 blocks: reputation trouble, a new blocklist entry.
-- The joined subqueries are named (hourly, overall): modern servers refuse a JOIN of
-- unnamed subqueries ("no alias for subquery"); 18.16 accepts the aliases.
SELECT t, sending_ip, pool, n_block, n_final, block_rate, baseline
FROM
(
    SELECT hour AS t, sending_ip, pool, sum(block) AS n_block,
           sum(delivered) + sum(bounced) AS n_final,
           if(n_final = 0, 0, n_block / n_final) AS block_rate
    FROM ip_hourly
    WHERE hour >= $__fromTime AND hour < $__toTime
    GROUP BY t, sending_ip, pool
) AS hourly
ANY INNER JOIN
(
    SELECT sending_ip, pool, if(sum(delivered) + sum(bounced) = 0, 0, sum(block) / (sum(delivered) + sum(bounced))) AS baseline
    FROM ip_hourly
    WHERE hour >= $__fromTime AND hour < $__toTime
    GROUP BY sending_ip, pool
) AS overall USING sending_ip, pool
WHERE n_block >= 20 AND block_rate >= 3 * baseline
ORDER BY block_rate DESC, t DESC
LIMIT 50;

-- name: ip_block_rate_over_time
-- Block rate per sending IP per hour (the time series behind the spikes).
SELECT hour AS t, sending_ip,
       sum(delivered) + sum(bounced) AS n_final,
       if(n_final = 0, 0, sum(block) / n_final) AS block_rate,
       if(sum(attempts) = 0, 0, sum(deferred) / sum(attempts)) AS deferral_rate
FROM ip_hourly
WHERE hour >= $__fromTime AND hour < $__toTime
GROUP BY t, sending_ip
ORDER BY t, sending_ip;

-- name: recent_suppressions
-- The latest suppression decisions (FINAL: each address's current record; lifted ones
-- are tombstones, deleted = 1).
SELECT address, status, class, label, rule, reason, since, updated_at
FROM suppressions FINAL
WHERE deleted = 0 AND updated_at >= $__fromTime AND updated_at < $__toTime
ORDER BY updated_at DESC
LIMIT 50;

-- name: suppressions_by_label
SELECT class, label, count() AS n
FROM suppressions FINAL
WHERE deleted = 0
GROUP BY class, label
ORDER BY n DESC;

-- name: hard_rate_alerts
-- Campaigns over 1% hard rate and 2% / 5% bounce rate (SPEC §6) with at least 500 sends.
SELECT campaign_id, n_sends, hard_rate, bounce_rate,
       multiIf(bounce_rate >= 0.05, 'critical', bounce_rate >= 0.02 OR hard_rate >= 0.01, 'warning', 'ok') AS severity
FROM
(
    SELECT campaign_id, sum(delivered) + sum(bounced) AS n_sends,
           sum(hard) / n_sends AS hard_rate, sum(bounced) / n_sends AS bounce_rate
    FROM campaign_sends_hourly
    WHERE sent_hour >= $__fromTime AND sent_hour < $__toTime
    GROUP BY campaign_id
    HAVING n_sends >= 500
)
WHERE hard_rate > 0.01 OR bounce_rate > 0.02
ORDER BY bounce_rate DESC;
