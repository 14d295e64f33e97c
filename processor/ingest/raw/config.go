package raw

import (
	"fmt"
	"time"
)

// Config tunes Unwrap. The zero value is valid.
type Config struct {
	// Zone is the IANA time zone of timestamps that carry none (RFC 3164
	// syslog prefixes, zoneless ISO stamps): the zone of the machine that
	// wrote the log, since that is where the wall-clock time was read.
	// Default "UTC".
	Zone string `koanf:"zone"`
	// MaxBytes refuses Kafka record values larger than this with reason
	// too_large, before any parsing, so one runaway record cannot cost
	// unbounded memory or time. Default 1 MiB.
	MaxBytes int `koanf:"max_record_bytes"`

	// loc is Zone resolved by WithDefaults, so that Unwrap does not load
	// the zone database for every record.
	loc *time.Location
}

// DefaultMaxBytes is the default of Config.MaxBytes.
const DefaultMaxBytes = 1 << 20

// WithDefaults fills the defaults and resolves Zone once. Callers that
// unwrap many records should call it once and keep the result: a Config
// whose zone is not resolved loads it from the zone database on every
// record that needs it (only when Zone is neither UTC nor Local).
func (c Config) WithDefaults() Config {
	if c.Zone == "" {
		c.Zone = "UTC"
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.loc == nil {
		if loc, err := loadZone(c.Zone); err == nil {
			c.loc = loc
		}
	}
	return c
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if c.Zone != "" {
		if _, err := loadZone(c.Zone); err != nil {
			return fmt.Errorf("ingest.zone: %q is not an IANA time zone: %w", c.Zone, err)
		}
	}
	if c.MaxBytes < 0 || (c.MaxBytes > 0 && c.MaxBytes < 1024) {
		return fmt.Errorf("ingest.max_record_bytes: %d is too small; use at least 1024 (default %d)", c.MaxBytes, DefaultMaxBytes)
	}
	return nil
}

// location is the zone for zoneless timestamps. An unloadable zone (a
// Config that skipped Validate) falls back to UTC rather than failing the
// record: the timestamp is marked inferred either way.
func (c *Config) location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	loc, err := loadZone(c.Zone)
	if err != nil {
		return time.UTC
	}
	c.loc = loc
	return loc
}

func (c *Config) maxBytes() int {
	if c.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return c.MaxBytes
}

// loadZone avoids the zone database for the two zones the time package
// already holds.
func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return time.Local, nil
	}
	return time.LoadLocation(name)
}
