-- bounced:modern
-- Retention of outcomes on servers with TTL, matching attempts (100): 400 days after the
-- send, whole parts dropped. The send rollups are small and kept. On 18.16 the
-- partition-drop job does this instead (clickhouse.retention, DropPartitionsBefore).
ALTER TABLE outcomes MODIFY TTL sent_at + INTERVAL 400 DAY;
ALTER TABLE outcomes MODIFY SETTING ttl_only_drop_parts = 1;
