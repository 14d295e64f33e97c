-- bounced:modern 21
-- Bloom-filter skip indexes for the "what happened to this address / message" lookups,
-- which otherwise scan the whole table (ORDER BY starts with campaign_id).
-- MATERIALIZE covers rows inserted before the index existed (a background mutation).
ALTER TABLE attempts ADD INDEX IF NOT EXISTS idx_recipient recipient TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE attempts ADD INDEX IF NOT EXISTS idx_message_id message_id TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE attempts ADD INDEX IF NOT EXISTS idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4;
ALTER TABLE attempts MATERIALIZE INDEX idx_recipient;
ALTER TABLE attempts MATERIALIZE INDEX idx_message_id;
ALTER TABLE attempts MATERIALIZE INDEX idx_event_id;
