// Package processor is bounced's pipeline: partition ownership, ordering,
// batching, output and commit order. The record logic lives in the stage
// packages below it (ingest, classify, streak); this package moves records
// between Kafka, those stages and the sinks.
//
// # Stages
//
// Stage 1 (Ingest) consumes the input topics in consumer group
// processor.ingest_group, turns each record into a canonical attempt with its
// verdict and produces it to the attempts topic keyed by the normalised
// recipient (murmur2, as Java clients partition), or to the dead-letter
// topic with the original bytes and the reason. It keeps no state, so any
// partitioning of the input works.
//
// Stage 2 (Decide) consumes the attempts topic in group
// processor.decide_group with one worker per owned partition. Every event of
// one recipient lands on one partition, so a worker owns its recipients'
// state outright: it restores them from the compacted state changelog (the
// same partition number of the state topic) before it processes anything,
// folds each event with streak.Apply, and flushes per batch.
//
// # Guarantees
//
// Input is at-least-once; outputs are effectively once. Within a partition a
// flush writes, in this order: the attempt rows to ClickHouse (which skips
// offsets at or below the partition's watermark, read back from ClickHouse),
// the changed suppression records (to the compacted topic and ClickHouse),
// the state changelog (each record carries the recipient's absolute state
// and LastOff, the last input offset applied to it), and only then the
// consumer offset. A crash anywhere in that sequence replays from the last
// committed offset: ClickHouse rows below the watermark are skipped, events
// at or below a recipient's LastOff are skipped, and suppression records are
// rewritten with identical content, which the compacted topic absorbs.
// Stage 1 marks each attempt with the input position it came from; stage 2
// keeps, per attempts partition, the highest position applied from each
// input partition (in the changelog, written after the states it covers), so
// the attempts stage 1 produces again after its own crash are skipped.
// Duplicate event ids (shippers re-sending) are recognised per recipient and
// have no effect anywhere. A flush that cannot complete is retried with
// backoff, which stops consumption: backpressure, not unbounded buffering.
package processor
