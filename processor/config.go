package processor

import (
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/topics"
)

// Config tunes the pipeline. The zero value is valid.
type Config struct {
	// Stage selects what this member runs: "all" (default), "ingest" or
	// "decide".
	Stage string `koanf:"stage"`
	// IngestGroup and DecideGroup are the consumer group ids of the two
	// stages. Defaults "bounced-ingest" and "bounced-decide".
	IngestGroup string `koanf:"ingest_group"`
	DecideGroup string `koanf:"decide_group"`
	// BatchSize is the most records a partition worker takes before it
	// flushes. Default 10000.
	BatchSize int `koanf:"batch_size"`
	// FlushInterval is the longest a record waits before its batch is
	// flushed. Default 1s.
	FlushInterval time.Duration `koanf:"flush_interval"`
	// SessionTimeout is the consumer group session timeout. Default 10s.
	SessionTimeout time.Duration `koanf:"session_timeout"`
	// DrainTimeout bounds the final flush of a partition when it is revoked
	// or bounced shuts down. Default 30s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
	// CheckpointInterval is how often stage 2 writes each partition's state
	// to a local checkpoint under data_dir, so that a member restarted after
	// a crash reads only the changelog written since. It is also written
	// on shutdown and when a partition moves away. Default 1m.
	CheckpointInterval time.Duration `koanf:"checkpoint_interval"`
	// BatchBytes ends a batch once its records' keys and values reach
	// this many bytes, whatever BatchSize allows: with BatchSize it bounds
	// the memory a partition worker holds, records and all they become (a
	// member draining a backlog of 1M records peaked at 716 MiB RSS with
	// 4 MiB, 533 MiB with 2 MiB, 393 MiB with 1 MiB; smaller batches make
	// more, smaller ClickHouse inserts: 1 MiB cost ClickHouse 1.6 times the
	// CPU per record of 4 MiB in `bounced bench`). Default 4 MiB.
	BatchBytes int `koanf:"batch_bytes"`
	// ReadAheadBytes bounds what each partition's reader fetches ahead of
	// the batch being processed, so that memory stays flat however long
	// the backlog: the reader queues about this many bytes of records
	// (counted at 512 bytes a record, at least 64 and at most 10000
	// records) and asks the broker for at most this much per fetch.
	// Default 2 MiB.
	ReadAheadBytes int `koanf:"read_ahead_bytes"`
	// AttemptsEncoding is how stage 1 writes attempts to the attempts
	// topic: "binary" (default; event.Attempt's compact encoding, which
	// stage 2 decodes in a fraction of JSON's CPU) or "json" (for outside
	// readers of the topic, and while members of a version that reads
	// JSON only still run stage 2). Stage 2 reads both.
	AttemptsEncoding topics.Encoding `koanf:"attempts_encoding"`
	// Guard is the incident guard.
	Guard guard.Config `koanf:"guard"`
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Stage == "" {
		c.Stage = "all"
	}
	if c.IngestGroup == "" {
		c.IngestGroup = "bounced-ingest"
	}
	if c.DecideGroup == "" {
		c.DecideGroup = "bounced-decide"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = time.Minute
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 4 << 20
	}
	if c.ReadAheadBytes == 0 {
		c.ReadAheadBytes = 2 << 20
	}
	if c.AttemptsEncoding == "" {
		c.AttemptsEncoding = topics.EncodingBinary
	}
	c.Guard = c.Guard.WithDefaults()
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch c.Stage {
	case "all", "ingest", "decide":
	default:
		return fmt.Errorf("pipeline.stage: %q is not one of all, ingest, decide", c.Stage)
	}
	if c.IngestGroup == c.DecideGroup {
		return fmt.Errorf("pipeline.decide_group: must differ from pipeline.ingest_group (%q)", c.IngestGroup)
	}
	if c.BatchSize < 1 || c.BatchSize > 1_000_000 {
		return fmt.Errorf("pipeline.batch_size: %d is outside 1..1000000", c.BatchSize)
	}
	if c.FlushInterval < time.Millisecond || c.FlushInterval > time.Hour {
		return fmt.Errorf("pipeline.flush_interval: %s is outside 1ms..1h", c.FlushInterval)
	}
	if c.SessionTimeout < time.Second {
		return fmt.Errorf("pipeline.session_timeout: %s is shorter than 1s", c.SessionTimeout)
	}
	if c.DrainTimeout < time.Second {
		return fmt.Errorf("pipeline.drain_timeout: %s is shorter than 1s", c.DrainTimeout)
	}
	if c.CheckpointInterval < time.Second {
		return fmt.Errorf("pipeline.checkpoint_interval: %s is shorter than 1s", c.CheckpointInterval)
	}
	if c.BatchBytes < 64<<10 || c.BatchBytes > 1<<30 {
		return fmt.Errorf("pipeline.batch_bytes: %d is outside 65536..1073741824", c.BatchBytes)
	}
	if c.ReadAheadBytes < 64<<10 || c.ReadAheadBytes > 256<<20 {
		return fmt.Errorf("pipeline.read_ahead_bytes: %d is outside 65536..268435456", c.ReadAheadBytes)
	}
	switch c.AttemptsEncoding {
	case topics.EncodingBinary, topics.EncodingJSON:
	default:
		return fmt.Errorf("pipeline.attempts_encoding: %q is not one of binary, json", c.AttemptsEncoding)
	}
	if err := c.Guard.Validate(); err != nil {
		return err
	}
	return nil
}
