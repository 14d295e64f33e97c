-- bounced:modern 21
-- Single-node insert deduplication (non-replicated MergeTree, 21.x+): a byte-identical
-- INSERT block retried by the driver is dropped by the server. A second line of defence
-- only: the writer's offset watermark is what makes inserts effectively-once. Set on
-- attempts alone: its blocks carry unique src_offset values, so two different batches
-- never hash alike, whereas two genuinely different rollup blocks can be identical
-- (same hour, same counts) and must both be summed.
ALTER TABLE attempts MODIFY SETTING non_replicated_deduplication_window = 1000;
