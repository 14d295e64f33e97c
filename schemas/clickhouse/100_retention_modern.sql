-- bounced:modern
-- Applied only on ClickHouse >= 20 (18.16 rejects TTL, skip indexes and MODIFY SETTING).
-- Retention: raw attempts 400 days, reasons 2 years; hourly rollups are small and kept.
-- ttl_only_drop_parts drops whole monthly parts instead of rewriting them.
-- (On 18.16 drop old partitions instead: ALTER TABLE attempts DROP PARTITION 202401.)
ALTER TABLE attempts MODIFY TTL sent_at + INTERVAL 400 DAY;
ALTER TABLE attempts MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE reasons_daily MODIFY TTL day + INTERVAL 2 YEAR;
ALTER TABLE reasons_daily MODIFY SETTING ttl_only_drop_parts = 1;
