package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Config tunes stage 1's record handling. The zero value is valid.
type Config struct {
	// MaxRecordBytes refuses records larger than this; they go to the
	// dead-letter topic with reason too_large. Default 1 MiB.
	MaxRecordBytes int `koanf:"max_record_bytes"`
	// ValidateSchema runs the JSON Schema validator of
	// schemas/attempt.schema.json on every record. Off by default: the
	// typed decoder enforces the same rules (a test holds the two to the
	// same verdicts) at a third of the cost; turn it on when you change the
	// schema and want it enforced before the code catches up.
	ValidateSchema bool `koanf:"validate_schema"`
	// Zone is the IANA time zone of log timestamps that carry none (RFC
	// 3164 syslog prefixes, Exim without log_timezone). Default UTC.
	Zone string `koanf:"zone"`
	// Formats pins the format of an input topic ("postfix", "exim", "pmta",
	// "kumomta", "ses", "sendgrid", "mailgun", "postmark", "canonical");
	// topics not listed are detected record by record ("auto").
	Formats map[string]string `koanf:"formats"`
	// Campaign holds the campaign-id rules per source kind ("postfix",
	// "exim", …) with "default" for the rest.
	Campaign map[string]CampaignRules `koanf:"campaign"`
	// Adapters are the settings of each input format.
	Adapters `koanf:",squash"`
}

// DefaultCampaignHeaders are looked up for a campaign id when
// ingest.campaign.default says nothing else: the names mail teams use most.
var DefaultCampaignHeaders = []string{"X-Campaign-ID", "X-Campaign", "X-Campaign-Id", "X-Job-ID", "X-Job", "X-Mailgun-Campaign-Id"}

// DefaultMaxRecordBytes is the default of Config.MaxRecordBytes.
const DefaultMaxRecordBytes = 1 << 20

func (c *Config) setDefaults() {
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if c.MaxRecordBytes < 0 || (c.MaxRecordBytes > 0 && c.MaxRecordBytes < 1024) {
		return fmt.Errorf("ingest.max_record_bytes: %d is too small; use at least 1024 (default %d)", c.MaxRecordBytes, DefaultMaxRecordBytes)
	}
	if c.Zone != "" {
		if _, err := time.LoadLocation(c.Zone); err != nil {
			return fmt.Errorf("ingest.zone: %q is not an IANA time zone: %v", c.Zone, err)
		}
	}
	known := adapters(c)
	for topic, f := range c.Formats {
		if _, ok := known[f]; !ok && f != FormatAuto && f != FormatCanonical {
			return fmt.Errorf("ingest.formats.%s: unknown format %q (one of auto, canonical, %s)", topic, f, strings.Join(formatNames(known), ", "))
		}
	}
	for kind, r := range c.Campaign {
		if _, err := compileCampaign(kind, r); err != nil {
			return err
		}
	}
	return errors.Join(c.Postfix.Validate(), c.Exim.Validate(), c.PMTA.Validate(), c.KumoMTA.Validate(), c.ESP.Validate(), c.Mail.Validate())
}

// Classifier gives an attempt its verdict.
type Classifier interface {
	Attempt(a *event.Attempt) event.Verdict
}

// Reasons a record is refused; they label the DLQ header and the metric.
const (
	ReasonTooLarge = "too_large"
	ReasonEmpty    = "empty"
	ReasonJSON     = "malformed_json"
	ReasonSchema   = "schema"
	ReasonAddress  = "invalid_address"
	ReasonTime     = "invalid_time"
	// ReasonAttemptTooLarge: the record decoded, but an attempt from it
	// would not fit in the attempts topic (kafka.max_message_bytes).
	ReasonAttemptTooLarge = "attempt_too_large"
	// ReasonUnwritable: the broker refused an attempt from the record for
	// good (a record error such as a size or format rejection).
	ReasonUnwritable = "unwritable"
)

// RecordError says why a record could not become an attempt; adapters
// return the same type.
type RecordError = raw.Error

func refuse(reason string, format string, args ...any) error {
	return raw.Errorf(reason, format, args...)
}

// Ingester decodes, validates, normalises and classifies records. It is safe
// for concurrent use.
type Ingester struct {
	cfg       Config
	cls       Classifier
	schema    *jsonschema.Schema
	rawCfg    raw.Config
	formats   map[string]func() Adapter
	campaigns map[string]campaignMatcher
}

// New builds an Ingester. schema is the text of schemas/attempt.schema.json;
// it may be nil unless cfg.ValidateSchema is set.
func New(cfg Config, cls Classifier, schema []byte) (*Ingester, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	in := &Ingester{cfg: cfg, cls: cls, formats: adapters(cfg), campaigns: map[string]campaignMatcher{},
		rawCfg: raw.Config{Zone: cfg.Zone, MaxBytes: cfg.MaxRecordBytes}.WithDefaults()}
	for kind, r := range cfg.Campaign {
		m, err := compileCampaign(kind, r)
		if err != nil {
			return nil, err
		}
		in.campaigns[kind] = m
	}
	if _, ok := in.campaigns["default"]; !ok {
		in.campaigns["default"], _ = compileCampaign("default", CampaignRules{Headers: DefaultCampaignHeaders})
	}
	if cfg.ValidateSchema {
		s, err := compileSchema(schema)
		if err != nil {
			return nil, err
		}
		in.schema = s
	}
	return in, nil
}

func compileSchema(text []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("attempt schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "attempt.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("attempt schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("attempt schema: %w", err)
	}
	return s, nil
}

// Decode turns one canonical JSON record into an attempt with its derived
// fields and verdict, or a *RecordError.
func (in *Ingester) Decode(raw []byte) (event.Attempt, error) {
	var a event.Attempt
	err := in.DecodeInto(raw, &a)
	return a, err
}

// DecodeInto is Decode into *a, which it resets first: a session decodes
// every canonical record into the same attempt instead of allocating one.
func (in *Ingester) DecodeInto(raw []byte, a *event.Attempt) error {
	*a = event.Attempt{}
	if len(raw) > in.cfg.MaxRecordBytes {
		return refuse(ReasonTooLarge, "record is %d bytes, more than ingest.max_record_bytes (%d)", len(raw), in.cfg.MaxRecordBytes)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return refuse(ReasonEmpty, "record is empty")
	}
	if raw[0] != '{' {
		return refuse(ReasonJSON, "record is not a JSON object (starts with %q)", clip(string(raw[:min(len(raw), 16)])))
	}
	if in.schema != nil {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return refuse(ReasonJSON, "%v", err)
		}
		if err := in.schema.Validate(doc); err != nil {
			return &RecordError{Reason: ReasonSchema, Err: schemaError(err)}
		}
	}
	if err := decodeAttempt(raw, a); err != nil {
		var te *time.ParseError
		if errors.As(err, &te) {
			return refuse(ReasonTime, "%v", err)
		}
		return refuse(ReasonJSON, "%v", err)
	}
	return in.Complete(a)
}

// Complete checks an attempt that came from any decoder and fills in its
// derived fields: recipient_norm, recipient_domain, event_id and verdict.
func (in *Ingester) Complete(a *event.Attempt) error {
	if a.Recipient == "" {
		return refuse(ReasonSchema, "recipient is required")
	}
	if !a.Outcome.Valid() {
		return refuse(ReasonSchema, "outcome %q is not one of delivered, deferred, bounced, expired, dropped", clip(string(a.Outcome)))
	}
	// Every source's reply text is stored and shown: no control
	// characters or terminal escapes (Postfix masks them too).
	a.SMTP.Text, a.Diagnostic = reply.Clean(a.SMTP.Text), reply.Clean(a.Diagnostic)
	if err := checkTime("occurred_at", a.OccurredAt, true); err != nil {
		return err
	}
	if err := checkTime("sent_at", a.SentAt, false); err != nil {
		return err
	}
	if err := checkLimits(a); err != nil {
		return err
	}
	a.OccurredAt = a.OccurredAt.UTC()
	if !a.SentAt.IsZero() {
		a.SentAt = a.SentAt.UTC()
	}
	norm, dom, err := NormaliseAddress(a.Recipient)
	if err != nil {
		return &RecordError{Reason: ReasonAddress, Err: fmt.Errorf("recipient: %w", err)}
	}
	a.RecipientNorm, a.RecipientDomain = norm, dom
	if a.EventID == "" {
		a.EventID = EventID(a)
	}
	if in.cls != nil {
		v := in.cls.Attempt(a)
		a.Verdict = &v
	}
	return nil
}

// ClickHouse's DateTime holds 1970 to 2105; anything outside a sane range is
// a producer bug, not an attempt.
var (
	earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return refuse(ReasonSchema, "%s is required", field)
		}
		return nil
	}
	if t.Before(earliest) || !t.Before(latest) {
		return refuse(ReasonTime, "%s %s is outside 1990..2100", field, t.Format(time.RFC3339))
	}
	return nil
}

// EventID derives a stable id from the attempt's natural key, so a record
// re-sent by a shipper after a restart gets the same id and is recognised as
// a duplicate downstream.
func EventID(a *event.Attempt) string {
	h := sha256.New()
	for _, s := range []string{
		a.Source.Kind, a.Source.Host, a.QueueID, a.MessageID, a.RecipientNorm, string(a.Outcome),
		a.OccurredAt.UTC().Format(time.RFC3339Nano), strconv.Itoa(a.Attempt),
		strconv.Itoa(a.SMTP.Code), a.SMTP.Enhanced, a.SMTP.Text, a.Diagnostic,
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// schemaError condenses the validator's tree into one line that names the
// offending fields.
func schemaError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var parts []string
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			loc := u.InstanceLocation
			if loc == "" {
				loc = "/"
			}
			parts = append(parts, loc+": "+u.Error.String())
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.BasicOutput())
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	if len(parts) == 0 {
		return errors.New("does not match attempt.schema.json")
	}
	return errors.New(clipTo(strings.Join(parts, "; "), 400))
}
