package processor

import (
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/guard"
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
	if err := c.Guard.Validate(); err != nil {
		return err
	}
	return nil
}
