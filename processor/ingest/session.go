package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// Adapter turns one unwrapped record of its format into canonical attempts.
// skip is a non-empty reason when the record is valid but is not a delivery
// attempt; err is a *raw.Error. An adapter is used by one goroutine at a
// time and may keep state (Postfix correlates lines by queue id).
type Adapter interface {
	Decode(rec raw.Record) (attempts []event.Attempt, skip string, err error)
}

// Format names the input formats bounced reads.
const (
	FormatAuto      = "auto"
	FormatCanonical = "canonical"
)

// CampaignRules say where a source's campaign id is, when the adapter did
// not find a native one (PowerMTA jobId, KumoMTA queue, ESP tags).
type CampaignRules struct {
	// Headers are header names looked up in the event's metadata
	// ("header.<lower-case name>"), first match wins.
	Headers []string `koanf:"headers"`
	// Sender is a regular expression on the envelope sender (VERP); its
	// group named "campaign" (or its first group) is the campaign id.
	Sender string `koanf:"sender"`
	// MessageID is the same on the Message-ID.
	MessageID string `koanf:"message_id"`
}

type campaignMatcher struct {
	headers   []string
	sender    *regexp.Regexp
	messageID *regexp.Regexp
}

func compileCampaign(kind string, r CampaignRules) (campaignMatcher, error) {
	m := campaignMatcher{}
	for _, h := range r.Headers {
		m.headers = append(m.headers, "header."+strings.ToLower(strings.TrimSpace(h)))
	}
	var err error
	if r.Sender != "" {
		if m.sender, err = regexp.Compile(r.Sender); err != nil {
			return m, fmt.Errorf("ingest.campaign.%s.sender: %w", kind, err)
		}
	}
	if r.MessageID != "" {
		if m.messageID, err = regexp.Compile(r.MessageID); err != nil {
			return m, fmt.Errorf("ingest.campaign.%s.message_id: %w", kind, err)
		}
	}
	return m, nil
}

func (m campaignMatcher) find(a *event.Attempt) string {
	for _, h := range m.headers {
		if v := a.Metadata[h]; v != "" {
			return v
		}
	}
	if v := group(m.sender, a.Sender); v != "" {
		return v
	}
	return group(m.messageID, a.MessageID)
}

func group(re *regexp.Regexp, s string) string {
	if re == nil || s == "" {
		return ""
	}
	sm := re.FindStringSubmatch(s)
	if sm == nil {
		return ""
	}
	if i := re.SubexpIndex("campaign"); i > 0 {
		return sm[i]
	}
	if len(sm) > 1 {
		return sm[1]
	}
	return ""
}

// Session decodes the records of one input partition. Stateful adapters
// (Postfix correlation, PowerMTA headers) keep their state in it, so one
// Session must see one partition's records in order; it is not safe for
// concurrent use.
type Session struct {
	in       *Ingester
	pinned   string
	adapters map[string]Adapter
	one      [1]event.Attempt // what a canonical record decodes into
}

// NewSession starts decoding the records of topic, whose format is pinned
// by ingest.formats or detected per record.
func (in *Ingester) NewSession(topic string) *Session {
	f := in.cfg.Formats[topic]
	if f == "" {
		f = FormatAuto
	}
	return &Session{in: in, pinned: f, adapters: map[string]Adapter{}}
}

// Decode turns one input record into complete attempts (normalised,
// identified, classified). A record can yield several attempts (one per
// recipient) and some of them can be refused: then the good ones are
// returned together with the error, and the caller dead-letters the record
// while keeping the good attempts. The attempts are valid until the next
// call: a canonical record is decoded into the session's own attempt.
func (s *Session) Decode(value []byte, received time.Time) (attempts []event.Attempt, skip string, err error) {
	rec, err := raw.Unwrap(s.in.rawCfg, value, received)
	if err != nil {
		return nil, "", err
	}
	format := s.pinned
	if format == FormatAuto {
		if format = raw.Detect(rec); format == "" {
			return nil, "", raw.Errorf("unknown_format", "not a format bounced reads (canonical JSON, Postfix, Exim, PowerMTA CSV, KumoMTA, SES, SendGrid, Mailgun, Postmark, Postal, bounce mail): %q", clip(string(rec.Payload)))
		}
	}
	if format == FormatCanonical {
		if err := s.in.DecodeInto(rec.Payload, &s.one[0]); err != nil {
			return nil, "", err
		}
		return s.one[:], "", nil
	}
	ad, err := s.adapter(format)
	if err != nil {
		return nil, "", err
	}
	atts, skip, err := ad.Decode(rec)
	if err != nil || skip != "" {
		return nil, skip, err
	}
	out := atts[:0]
	var errs []error
	for i := range atts {
		a := &atts[i]
		if a.CampaignID == "" {
			a.CampaignID = s.in.campaign(a.Source.Kind).find(a)
		}
		if cerr := s.in.Complete(a); cerr != nil {
			errs = append(errs, cerr)
			continue
		}
		out = append(out, *a)
	}
	if len(errs) == 1 {
		return out, "", errs[0]
	}
	if len(errs) > 1 {
		var re *raw.Error
		reason := ReasonSchema
		if errors.As(errs[0], &re) {
			reason = re.Reason
		}
		return out, "", &raw.Error{Reason: reason, Err: errors.Join(errs...)}
	}
	return out, "", nil
}

func (s *Session) adapter(format string) (Adapter, error) {
	if ad, ok := s.adapters[format]; ok {
		return ad, nil
	}
	mk, ok := s.in.formats[format]
	if !ok {
		return nil, raw.Errorf("unknown_format", "format %q is not supported", format)
	}
	ad := mk()
	s.adapters[format] = ad
	return ad, nil
}

func (in *Ingester) campaign(kind string) campaignMatcher {
	if m, ok := in.campaigns[kind]; ok {
		return m
	}
	return in.campaigns["default"]
}

// snapshotter is an adapter with state worth keeping across a restart.
type snapshotter interface {
	Snapshot() ([]byte, error)
	Restore([]byte) error
}

// sessionState is the stored form of a Session: each stateful adapter's
// snapshot by format name.
type sessionState struct {
	Version  int                        `json:"v"`
	Adapters map[string]json.RawMessage `json:"adapters"`
}

// Snapshot captures the state of the session's stateful adapters (Postfix
// queue-id correlation, Exim arrivals, PowerMTA headers), so that a
// restarted member goes on correlating where it stopped.
func (s *Session) Snapshot() ([]byte, error) {
	st := sessionState{Version: 1, Adapters: map[string]json.RawMessage{}}
	for name, ad := range s.adapters {
		sn, ok := ad.(snapshotter)
		if !ok {
			continue
		}
		b, err := sn.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot of %s state: %w", name, err)
		}
		st.Adapters[name] = b
	}
	return json.Marshal(st)
}

// Restore loads a Snapshot into a fresh session.
func (s *Session) Restore(b []byte) error {
	var st sessionState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("session state: %w", err)
	}
	if st.Version != 1 {
		return fmt.Errorf("session state: version %d is not 1", st.Version)
	}
	for name, blob := range st.Adapters {
		ad, err := s.adapter(name)
		if err != nil {
			return fmt.Errorf("session state: %w", err)
		}
		sn, ok := ad.(snapshotter)
		if !ok {
			continue
		}
		if err := sn.Restore(blob); err != nil {
			return fmt.Errorf("session state of %s: %w", name, err)
		}
	}
	return nil
}
