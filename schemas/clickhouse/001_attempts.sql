-- Raw delivery attempts: one row per attempt, written by sinks/clickhouse.
-- Portable: ClickHouse 18.16 (Debian) and modern servers. No TTL, skip index,
-- DateTime64 or IPv4 here: 18.16 rejects them (see *_modern.sql).
-- LowCardinality needs allow_experimental_low_cardinality_type=1 on 18.x; bounced sets it
-- per connection there (modern servers reject the setting, so it never appears in SQL).
CREATE TABLE IF NOT EXISTS attempts
(
    event_id         String,
    occurred_at      DateTime('UTC'),                 -- time of this attempt
    sent_at          DateTime('UTC'),                 -- when the message was first queued; occurred_at when unknown
    recipient        String,                          -- normalised (lower-case, IDNA A-label domain)
    recipient_domain LowCardinality(String),
    campaign_id      LowCardinality(String),
    tenant           LowCardinality(String),
    sender           String,
    message_id       String,
    queue_id         String,
    sending_ip       LowCardinality(String),          -- String: no IPv4/IPv6 type on 18.16, and either family fits
    pool             LowCardinality(String),
    source_kind      LowCardinality(String),
    source_host      LowCardinality(String),
    outcome          Enum8('delivered' = 1, 'deferred' = 2, 'bounced' = 3, 'expired' = 4, 'dropped' = 5),
    attempt          UInt16,
    smtp_code        UInt16,                          -- 0 when the source reports none
    smtp_enhanced    LowCardinality(String),          -- e.g. '5.1.1'
    smtp_command     LowCardinality(String),
    remote_host      LowCardinality(String),
    diagnostic       String,                          -- SMTP text, else the source's diagnostic
    class            LowCardinality(String),          -- verdict; '' when unclassified. Strings, not Enum8:
    label            LowCardinality(String),          -- an unknown value would fail the whole INSERT, and
    scope            LowCardinality(String),          -- rules are user-extensible data
    rule             LowCardinality(String),
    local            UInt8,                           -- 1: failure inside our own MTA, never the recipient's fault
    delay_seconds    Float64,
    src_topic        LowCardinality(String),          -- Kafka position the row came from: the writer's
    src_partition    Int32,                           -- per-partition watermark (max src_offset) makes
    src_offset       Int64,                           -- inserts effectively-once
    ingested_at      DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(sent_at)
ORDER BY (campaign_id, recipient_domain, sent_at)
SETTINGS index_granularity = 8192;
