// Package demo generates synthetic traffic for `bounced demo` and `bounced
// bench`: a realistic, deterministic stream of canonical attempt events
// (docs/formats.md) from a few MTA hosts, with a few deliberately malformed records
// mixed in, and the ground truth of what the pipeline must conclude from it.
//
// The stream is built from per-recipient fates (healthy, hard bounce, soft
// streaks that do or do not reach the threshold, sender blocks, spam
// complaints, ...). Most records are canonical JSON; a complaint (an ARF
// report) and a bounce that arrives after the remote accepted the message
// (an RFC 3464 DSN) are mails, as `bounced mail` produces them. The
// truth follows from the fates under the default policy of docs/suppressions.md:
// hard verdicts and complaints suppress at once; a soft failure counts once per send at its
// first soft failure; 3 consecutive failed sends whose first failures lie
// within 14 days suppress; any delivery resets the streak; greylisting and
// blocks never count. Every schedule keeps clear of the window's edge (a
// suppressing streak spans at most 7 days, a non-suppressing one more
// than 20), and one recipient's sends never overlap in time, so the truth
// does not depend on implementation choices the policy leaves open.
package demo

import (
	"fmt"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Config describes the stream to generate. The zero value is valid: every
// zero field takes the default named in its comment.
type Config struct {
	// Recipients is the number of distinct recipients (default 5000).
	Recipients int
	// Campaigns is the number of campaigns (default 6, at most 24), each
	// sent at its own hour of the day.
	Campaigns int
	// Hosts is the number of MTA hosts (default 4, at most 100). Every
	// recipient domain is routed to one host.
	Hosts int
	// Start is the day of the first send (default 2026-10-01T00:00:00Z);
	// it is truncated to the day in UTC.
	Start time.Time
	// Days is how many days the campaigns run (default 30, at least 22 so
	// that a slow soft streak, 21 days long, fits).
	Days int
	// Seed makes the stream; the same Config always gives the same bytes.
	Seed int64
	// BadRecords is the number of malformed records mixed in (default 20;
	// negative means none).
	BadRecords int
}

// Defaults of Config.
const (
	DefaultRecipients = 5000
	DefaultCampaigns  = 6
	DefaultHosts      = 4
	DefaultDays       = 30
	DefaultBadRecords = 20
)

// Tiny returns a small configuration (200 recipients, all else default) for
// fast tests.
func Tiny(seed int64) Config {
	return Config{Recipients: 200, Seed: seed}
}

func (c Config) withDefaults() Config {
	if c.Recipients == 0 {
		c.Recipients = DefaultRecipients
	}
	if c.Campaigns == 0 {
		c.Campaigns = DefaultCampaigns
	}
	if c.Hosts == 0 {
		c.Hosts = DefaultHosts
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	}
	c.Start = c.Start.UTC().Truncate(24 * time.Hour)
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	switch {
	case c.BadRecords == 0:
		c.BadRecords = DefaultBadRecords
	case c.BadRecords < 0:
		c.BadRecords = 0
	}
	return c
}

// Validate reports the first setting that is out of range, after defaults
// are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Recipients < 1 || c.Recipients > 1_000_000:
		return fmt.Errorf("demo: Recipients = %d, want 1..1000000", c.Recipients)
	case c.Campaigns < 1 || c.Campaigns > 24:
		return fmt.Errorf("demo: Campaigns = %d, want 1..24", c.Campaigns)
	case c.Hosts < 1 || c.Hosts > 100:
		return fmt.Errorf("demo: Hosts = %d, want 1..100", c.Hosts)
	case c.Days < 22 || c.Days > 366:
		return fmt.Errorf("demo: Days = %d, want 22..366", c.Days)
	case c.BadRecords > 100_000:
		return fmt.Errorf("demo: BadRecords = %d, want at most 100000", c.BadRecords)
	}
	return nil
}

// Stream is a generated input stream and what the pipeline must make of it.
type Stream struct {
	// Records in production order. Good records are ordered by occurred_at
	// (globally, hence within each host); bad ones sit at random positions.
	Records []Record
	// Truth is what a correct pipeline concludes from Records.
	Truth Truth

	meta []recordMeta // parallel to Records; for this package's tests
}

// Record is one record as a log shipper would put it on the input topic.
type Record struct {
	// Host is the MTA host that logged the attempt; use it as the Kafka key,
	// as shippers do. All mail of one recipient goes through one host.
	Host string
	// Value is the record: one canonical attempt event as JSON, a bounce
	// mail or complaint report (an RFC 5322 message with CRLF line
	// endings, as `bounced mail` produces it), or garbage.
	Value []byte
	// Bad is empty for a good record; for a deliberately malformed one it
	// says why it must go to the DLQ.
	Bad string
}

// Truth is the expected result of processing a Stream. Counts cover good
// records only.
type Truth struct {
	// Suppressed holds every address that must end up suppressed, keyed by
	// its normalised form (lower-case local part, IDNA A-label domain).
	// No other address may be suppressed.
	Suppressed map[string]Expect
	// Attempts is the number of good records that are attempts: every one
	// but the complaints.
	Attempts int
	// Complaints is the number of spam reports (outcome complaint): good
	// records, stored as attempt rows, yet never attempts, sends or
	// deliveries.
	Complaints int
	// Sends is the number of distinct sends (message × recipient).
	Sends int
	// PerCampaign tallies good records by campaign_id (a mail's comes from
	// the X-Campaign-ID of the original it returns).
	PerCampaign map[string]Tally
	// PerDomain tallies good records by normalised recipient domain.
	PerDomain map[string]Tally
	// Bad is the number of malformed records.
	Bad int
	// Fates names the scenario of every recipient (keyed like Suppressed):
	// "healthy", "hard", "domain_unknown", "soft_dead", "soft_recovering",
	// "soft_slow", "retried", "blocked", "full_bounce", "complainer" or
	// "late_bounce". It explains a
	// mismatch; it is not part of the contract.
	Fates map[string]string
}

// Expect is why an address must be suppressed: the class, and the label of
// the event that triggered it (the hard label, or for a soft streak the
// label of the failure that completed it).
type Expect struct {
	Class event.Class
	Label event.Label
}

// Tally counts good records by outcome. Bounced includes expired.
// Complaints are counted apart: a spam report is about a delivered message,
// not an attempt (ClickHouse counts it the same way).
type Tally struct {
	Attempts, Delivered, Deferred, Bounced, Complaints int
}

func (t *Tally) add(o event.Outcome) {
	if o == event.Complaint {
		t.Complaints++
		return
	}
	t.Attempts++
	switch o {
	case event.Delivered:
		t.Delivered++
	case event.Deferred:
		t.Deferred++
	case event.Bounced, event.Expired:
		t.Bounced++
	}
}

// Values returns the record values in order, for producers that need no key.
func (s *Stream) Values() [][]byte {
	out := make([][]byte, len(s.Records))
	for i, r := range s.Records {
		out[i] = r.Value
	}
	return out
}

// Generate builds the stream for cfg. It is deterministic: the same Config
// gives byte-identical records.
func Generate(cfg Config) (*Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g, err := newGenerator(cfg.withDefaults())
	if err != nil {
		return nil, err
	}
	return g.run()
}
