package postfix

import (
	"fmt"
	"time"
)

// Config tunes the correlation state. The zero value is valid.
type Config struct {
	// TTL is how long, in log time, an entry lives after its last line
	// when no "removed" line ends it (lost lines, a shipper gap). It must
	// outlast Postfix's maximal_queue_lifetime (default 5d) or a message
	// deferred for days loses its sender and attempt count before its
	// final line. Default 7 days.
	TTL time.Duration `koanf:"ttl"`
	// MaxEntries bounds the number of queued messages remembered per
	// Decoder (per input partition); beyond it the least recently touched
	// entry is dropped. An entry costs a few hundred bytes, more with
	// deferred recipients. Default 1,000,000.
	MaxEntries int `koanf:"max_entries"`
}

// Defaults of Config.
const (
	DefaultTTL        = 7 * 24 * time.Hour
	DefaultMaxEntries = 1_000_000
)

func (c *Config) setDefaults() {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if c.TTL < 0 {
		return fmt.Errorf("ingest.postfix.ttl: %v is negative; use 0 for the default (%v) or a duration longer than maximal_queue_lifetime", c.TTL, DefaultTTL)
	}
	if c.TTL > 0 && c.TTL < time.Minute {
		return fmt.Errorf("ingest.postfix.ttl: %v would forget messages between two retries; use at least 1m (default %v)", c.TTL, DefaultTTL)
	}
	if c.MaxEntries < 0 {
		return fmt.Errorf("ingest.postfix.max_entries: %d is negative; use 0 for the default (%d)", c.MaxEntries, DefaultMaxEntries)
	}
	return nil
}
