-- One row per send (message x recipient) and attempt, collapsing to the send's final
-- state: rates count sends, not attempts (SPEC §6). Written by sinks/clickhouse from the
-- same batches as attempts, with its own per-partition offset watermark.
--
-- Rows: every attempt whose outcome is deferred, delivered, bounced or expired (not
-- dropped: it never left our MTA; not complaints or auto-replies: they are about a
-- delivered message, not an attempt of it).
--   send_key   recipient + '|' + the send key ('m:' message id, else 'q:' host:queue id,
--              else 'e:' event id)
--   version    precedence, then time: deferred < delivered < bounced = expired, and
--              among equals the later attempt. A late (asynchronous) bounce replaces
--              the delivery, a delivery replaces the deferrals, and a delivery arriving
--              after a bounce changes nothing (as in stage 2).
--   d_*        what this attempt changed in the count of ended sends, worked out by
--              stage 2 from the recipient's state: +1 delivered for a first delivery,
--              +1 bounced for a send ending bounced/expired, -1 delivered +1 bounced for
--              a late bounce, 0 for deferrals and repeats; d_hard/d_soft/d_block split
--              d_bounced by the attempt's verdict class. The send rollups (007) sum them
--              at insert time, which is exact; never sum d_* over this table itself:
--              merges keep only the winning row of each send.
--
-- Current state of a send: SELECT ... FROM outcomes FINAL, or argMax(col, version)
-- GROUP BY send_key (also exact across monthly partitions, which FINAL never merges:
-- attempts without a sent_at fall back to their own time and may straddle a month).
CREATE TABLE IF NOT EXISTS outcomes
(
    send_key         String,
    recipient        String,
    recipient_domain LowCardinality(String),
    campaign_id      LowCardinality(String),
    tenant           LowCardinality(String),
    message_id       String,
    sent_at          DateTime('UTC'),
    updated_at       DateTime('UTC'),                 -- occurred_at of the attempt that set this state
    sending_ip       LowCardinality(String),
    pool             LowCardinality(String),
    outcome          Enum8('deferred' = 1, 'delivered' = 2, 'bounced' = 3, 'expired' = 4),
    class            LowCardinality(String),
    label            LowCardinality(String),
    rule             LowCardinality(String),
    version          UInt64,
    d_delivered      Int8,
    d_bounced        Int8,
    d_hard           Int8,
    d_soft           Int8,
    d_block          Int8,
    src_topic        LowCardinality(String),          -- attempts-topic position: the watermark
    src_partition    Int32,
    src_offset       Int64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(sent_at)
ORDER BY (campaign_id, recipient_domain, send_key)
SETTINGS index_granularity = 8192;

-- The outcomes writer's watermark: every stored (topic, partition, offset), fed by a
-- materialized view in the same INSERT. It cannot be read from outcomes itself, because
-- ReplacingMergeTree merges delete the rows a later state replaced: max(src_offset) there
-- could go down and a replay would write (and the rollups count) them again.
CREATE TABLE IF NOT EXISTS outcomes_offsets
(
    src_topic     LowCardinality(String),
    src_partition Int32,
    src_offset    Int64,
    sent_at       DateTime('UTC')                     -- for the retention job's partition drop
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(sent_at)
ORDER BY (src_topic, src_partition, src_offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS outcomes_offsets_mv TO outcomes_offsets AS
SELECT src_topic, src_partition, src_offset, sent_at
FROM outcomes;
