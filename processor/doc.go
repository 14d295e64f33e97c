// Package processor is bounced's engine: consumer-group membership, one
// worker per owned partition, the lease that fences a member cut off from
// its group, retries, and the flush that makes a batch's outputs durable in
// order before its offset is committed. It decides nothing about a
// recipient or a domain: the stage packages below it do (ingest and classify
// for stage 1; decide, streak and guard for stage 2), and statestore keeps
// stage 2's state. ARCHITECTURE.md at the repository root has the picture.
//
// # Stages
//
// Stage 1 (ingest.go) consumes the input topics in consumer group
// pipeline.ingest_group. Each input partition's worker decodes its records
// through one ingest.Session, which holds the adapters' correlation state
// for that partition (Postfix joins a message's lines by queue id); the
// session is saved under data_dir every 10 seconds and when the partition
// is given up. Each record becomes canonical attempts with their verdicts,
// produced to the attempts topic keyed by the normalised recipient
// (murmur2, as Java clients partition) and marked with their input position
// (topics.HeaderSource), or a dead-letter record with the original bytes
// and the reason. Then the offset is committed.
//
// Stage 2 (decide.go) consumes the attempts topic in consumer group
// pipeline.decide_group. Every event of one recipient lands on one
// partition, so a worker owns its recipients' state outright: it restores
// the partition's statestore.Partition (kept in memory from the last
// generation, else a local checkpoint, else nothing) and reads the compacted
// changelog (the same partition number of the state topic) from where that
// state ends, before it processes anything. Then, per batch, decide.Folder
// folds the records into the state and returns the batch's Outputs, and the
// flush writes them.
//
// # Guarantees
//
// Input is at-least-once; outputs are effectively once. The flush writes a
// batch's outputs in the order written down at flusher.steps (flush.go) and
// nowhere else — store rows, dead letters, guard commands, alerts,
// suppressions, the changelog, the input positions — and only then commits
// the offset. A crash anywhere in that sequence replays the batch from the
// last committed offset, and every output absorbs the replay: the store
// skips rows at or below the partition's watermark, the fold skips events
// at or below a recipient's LastOff and attempts at or below an input
// position, and suppression records are rewritten with identical content,
// which the compacted topic absorbs. Duplicate event ids (shippers
// re-sending) are recognised per recipient and have no effect anywhere.
//
// Every write starts only inside the member's lease (lease.go), renewed by
// its offset commits; a member that cannot prove its membership stops
// writing and throws its state away before a new owner can start. A flush
// step that fails is retried with backoff, which stops consumption:
// backpressure, not unbounded buffering.
package processor
