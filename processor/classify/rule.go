package classify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/reply"
)

// Rule is one classification rule as written in a rules file. A rule matches
// when every match field it sets is satisfied; Tier derives its precedence
// from which fields are set (see doc.go).
type Rule struct {
	// ID names the rule in every verdict it decides; dotted and stable.
	ID string `yaml:"id"`
	// Label is the docs/classification.md label the rule assigns; class and scope follow
	// from event.Label.Taxonomy.
	Label event.Label `yaml:"label"`
	// Local marks a failure of our own MTA, which never counts against the
	// recipient.
	Local bool `yaml:"local,omitempty"`
	// Retried marks a failure MTAs retry until their queue lifetime runs
	// out (a refused or timed-out connection): when the outcome is bounced,
	// the MTA gave up on it, so the label becomes expired (see doc.go).
	Retried bool `yaml:"retried,omitempty"`

	// Phrases are lower-case literals; any one of them must occur.
	Phrases []string `yaml:"phrases,omitempty"`
	// All are literals that must all occur as well.
	All []string `yaml:"all,omitempty"`
	// Regex is checked only after the literals matched, against the text
	// with ASCII case ignored.
	Regex string `yaml:"regex,omitempty"`
	// Codes are reply codes ("550") or classes ("5xx", "55x"); any one.
	Codes []string `yaml:"codes,omitempty"`
	// Enhanced are RFC 3463 codes, a component may be "*" ("5.7.*"); any one.
	Enhanced []string `yaml:"enhanced,omitempty"`
	// Command is the SMTP stage the reply answered: CONNECT, HELO, MAIL,
	// RCPT or DATA (MAIL FROM, RCPT TO, EHLO and "end of DATA" are accepted
	// spellings); any one.
	Command []string `yaml:"command,omitempty"`
	// Domains are recipient domain suffixes; with Fingerprints, any one of
	// them identifies the provider.
	Domains []string `yaml:"domains,omitempty"`
	// Fingerprints are provider literals found in the text (MX host names,
	// "gsmtp", ...).
	Fingerprints []string `yaml:"fingerprints,omitempty"`
}

// Tier is a rule's precedence class (docs/classification.md). Lower tiers win; within a
// tier the first rule in file order wins.
type Tier int

// The tiers, strongest evidence first.
const (
	TierProvider Tier = iota // sets domains or fingerprints
	TierText                 // sets phrases or all
	TierStage                // sets command
	TierEnhanced             // sets enhanced
	TierCode                 // sets only codes
)

// String names the tier as doc.go does.
func (t Tier) String() string {
	switch t {
	case TierProvider:
		return "provider"
	case TierText:
		return "text"
	case TierStage:
		return "stage"
	case TierEnhanced:
		return "enhanced"
	case TierCode:
		return "code"
	}
	return "tier(" + strconv.Itoa(int(t)) + ")"
}

// Tier derives the rule's precedence from the fields it sets, so a rule
// cannot claim stronger evidence than it actually looks at.
func (r *Rule) Tier() Tier {
	switch {
	case len(r.Domains) > 0 || len(r.Fingerprints) > 0 || privateEnhanced(r.Enhanced):
		return TierProvider
	case len(r.Phrases) > 0 || len(r.All) > 0:
		return TierText
	case len(r.Command) > 0:
		return TierStage
	case len(r.Enhanced) > 0:
		return TierEnhanced
	}
	return TierCode
}

// privateEnhanced reports whether every enhanced pattern names a detail
// outside RFC 3463's registry (three digits, 100 and above: Microsoft's
// 5.7.5xx-7xx, 4.7.5xx-6xx). Only one provider sends such a code, so it
// identifies the provider like a fingerprint and its rule ranks with the
// provider rules, above generic text ("Access denied" must not turn
// 5.7.708 into a policy verdict).
func privateEnhanced(list []string) bool {
	if len(list) == 0 {
		return false
	}
	for _, e := range list {
		p, err := parseEnhancedPattern(e)
		if err != nil || p[2] < 100 {
			return false
		}
	}
	return true
}

// file is the top level of a rules file.
type file struct {
	Rules []Rule `yaml:"rules"`
}

// Load parses and validates a rules file. Errors name the rule (index and
// id) and the field at fault.
func Load(data []byte) ([]Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("classify: parse rules: %w", err)
	}
	if err := validate(f.Rules); err != nil {
		return nil, err
	}
	for i := range f.Rules {
		normalise(&f.Rules[i])
	}
	return f.Rules, nil
}

// LoadFile reads and validates a rules file from disk.
func LoadFile(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classify: read rules: %w", err)
	}
	rules, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rules, nil
}

// Merge overlays user rules on base rules. A user rule whose id exists in
// base replaces that rule in place, keeping its position; a new user rule is
// appended after all base rules, so within its tier it ranks after the
// shipped rules. To outrank a shipped rule, override its id.
func Merge(base, user []Rule) []Rule {
	out := make([]Rule, len(base), len(base)+len(user))
	copy(out, base)
	at := make(map[string]int, len(base))
	for i, r := range out {
		at[r.ID] = i
	}
	for _, r := range user {
		if i, ok := at[r.ID]; ok {
			out[i] = r
			continue
		}
		at[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// ruleError names the offending rule and field.
func ruleError(i int, r *Rule, field, format string, args ...any) error {
	id := r.ID
	if id == "" {
		id = "?"
	}
	return fmt.Errorf("classify: rule %d (%s): %s: %s", i, id, field, fmt.Sprintf(format, args...))
}

// validate checks every rule; it is shared by Load and New so rules built in
// code get the same checks as rules read from a file.
func validate(rules []Rule) error {
	if len(rules) == 0 {
		return errors.New("classify: no rules")
	}
	seen := make(map[string]int, len(rules))
	for i := range rules {
		r := &rules[i]
		if r.ID == "" {
			return ruleError(i, r, "id", "missing")
		}
		if strings.ContainsAny(r.ID, " \t\n\"") {
			return ruleError(i, r, "id", "must not contain spaces or quotes")
		}
		if j, dup := seen[r.ID]; dup {
			return ruleError(i, r, "id", "duplicate of rule %d", j)
		}
		seen[r.ID] = i
		class, _, ok := r.Label.Taxonomy()
		if !ok {
			return ruleError(i, r, "label", "unknown label %q", r.Label)
		}
		if r.Retried && class != event.ClassSoft {
			return ruleError(i, r, "retried", "needs a soft label, not %s (%s): a bounce after a retried failure is expiry, never evidence against the recipient or the sender", r.Label, class)
		}
		for _, list := range []struct {
			name string
			v    []string
		}{{"phrases", r.Phrases}, {"all", r.All}, {"fingerprints", r.Fingerprints}, {"domains", r.Domains}} {
			for k, p := range list.v {
				if strings.TrimSpace(p) == "" {
					return ruleError(i, r, list.name, "entry %d is empty", k)
				}
			}
		}
		if len(r.Phrases)+len(r.All)+len(r.Codes)+len(r.Enhanced)+len(r.Command)+len(r.Domains)+len(r.Fingerprints) == 0 {
			return ruleError(i, r, "match", "no match field set (phrases, all, codes, enhanced, command, domains, fingerprints)")
		}
		if (len(r.Domains) > 0 || len(r.Fingerprints) > 0) &&
			len(r.Phrases)+len(r.All)+len(r.Codes)+len(r.Enhanced)+len(r.Command) == 0 {
			return ruleError(i, r, "match", "a provider rule needs a condition besides domains and fingerprints")
		}
		if r.Regex != "" {
			if len(r.Phrases)+len(r.All) == 0 {
				return ruleError(i, r, "regex", "needs phrases or all as a literal prefilter")
			}
			if _, err := regexp.Compile("(?i)" + r.Regex); err != nil {
				return ruleError(i, r, "regex", "%v", err)
			}
		}
		for _, c := range r.Codes {
			if _, err := parseCodePattern(c); err != nil {
				return ruleError(i, r, "codes", "%v", err)
			}
		}
		for _, e := range r.Enhanced {
			if _, err := parseEnhancedPattern(e); err != nil {
				return ruleError(i, r, "enhanced", "%v", err)
			}
		}
		for _, c := range r.Command {
			if parseCommand(c) == cmdNone {
				return ruleError(i, r, "command", "unknown SMTP command %q (want CONNECT, HELO, MAIL, RCPT or DATA)", c)
			}
		}
	}
	return nil
}

// normalise lower-cases literals (ASCII only, as the scanner folds only
// ASCII) and folds their whitespace like the scanner does, so a phrase
// written with a capital or a double space still matches.
func normalise(r *Rule) {
	for _, list := range [][]string{r.Phrases, r.All, r.Fingerprints, r.Domains} {
		for k, p := range list {
			list[k] = foldLiteral(p)
		}
	}
	for k, d := range r.Domains {
		r.Domains[k] = strings.TrimPrefix(d, ".")
	}
}

func foldLiteral(p string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isSpace(c) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(lower(c))
	}
	return b.String()
}

// codePattern matches a reply code digit by digit; -1 is a wildcard.
type codePattern [3]int8

func parseCodePattern(s string) (codePattern, error) {
	var p codePattern
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 3 {
		return p, fmt.Errorf("bad code pattern %q: want three characters like 550, 55x or 5xx", s)
	}
	wild := false
	for i := 0; i < 3; i++ {
		switch c := s[i]; {
		case c == 'x':
			p[i] = -1
			wild = true
		case c >= '0' && c <= '9' && !wild:
			p[i] = int8(c - '0')
		default:
			return p, fmt.Errorf("bad code pattern %q: want three characters like 550, 55x or 5xx", s)
		}
	}
	if p[0] < 2 || p[0] > 5 {
		return p, fmt.Errorf("bad code pattern %q: class must be 2, 3, 4 or 5", s)
	}
	return p, nil
}

func (p codePattern) match(code int) bool {
	if code < 200 || code > 599 {
		return false
	}
	d := [3]int8{int8(code / 100), int8(code / 10 % 10), int8(code % 10)}
	for i := range p {
		if p[i] >= 0 && p[i] != d[i] {
			return false
		}
	}
	return true
}

// enhancedPattern matches class.subject.detail; -1 is a wildcard.
type enhancedPattern [3]int16

func parseEnhancedPattern(s string) (enhancedPattern, error) {
	var p enhancedPattern
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return p, fmt.Errorf("bad enhanced code pattern %q: want class.subject.detail like 5.1.1 or 5.7.*", s)
	}
	for i, part := range parts {
		if part == "*" {
			p[i] = -1
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n > 999 || len(part) > 3 {
			return p, fmt.Errorf("bad enhanced code pattern %q: component %q is not a number or *", s, part)
		}
		p[i] = int16(n)
	}
	if p[0] != -1 && p[0] != 2 && p[0] != 4 && p[0] != 5 {
		return p, fmt.Errorf("bad enhanced code pattern %q: class must be 2, 4, 5 or *", s)
	}
	return p, nil
}

func (p enhancedPattern) match(e reply.Status) bool {
	if !e.Valid() {
		return false
	}
	for i := range p {
		if p[i] >= 0 && p[i] != e[i] {
			return false
		}
	}
	return true
}

// command is an SMTP stage.
type command uint8

const (
	cmdNone command = iota
	cmdConnect
	cmdHelo
	cmdMail
	cmdRcpt
	cmdData
)

// parseCommand maps the spellings sources use onto a stage; it does not
// allocate.
func parseCommand(s string) command {
	s = strings.TrimSpace(s)
	word := s
	if i := strings.IndexAny(s, " :"); i >= 0 {
		word = s[:i]
	}
	switch {
	case strings.EqualFold(word, "CONNECT"), strings.EqualFold(word, "CONNECTION"), strings.EqualFold(word, "BANNER"), strings.EqualFold(word, "GREETING"):
		return cmdConnect
	case strings.EqualFold(word, "HELO"), strings.EqualFold(word, "EHLO"), strings.EqualFold(word, "LHLO"), strings.EqualFold(word, "STARTTLS"), strings.EqualFold(word, "AUTH"):
		return cmdHelo
	case strings.EqualFold(word, "MAIL"):
		return cmdMail
	case strings.EqualFold(word, "RCPT"):
		return cmdRcpt
	case strings.EqualFold(word, "DATA"), strings.EqualFold(word, "BDAT"), strings.EqualFold(word, "END"), strings.EqualFold(word, "EOD"):
		return cmdData
	}
	return cmdNone
}
