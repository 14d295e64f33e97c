package classify

import (
	_ "embed"
	"fmt"
	"math/bits"
	"regexp"
	"strings"
	"sync"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/reply"
)

//go:embed rules.yaml
var defaultRules []byte

// Rule ids the classifier decides itself, before or after the rules file.
const (
	RuleDelivered        = "outcome.delivered" // the MTA says the message was accepted
	RuleOutcomeComplaint = "outcome.complaint" // the event is a spam report (outcome complaint)
	RuleDropped          = "outcome.dropped"   // an upstream ESP dropped it (its own suppression list)
	RuleExpired          = "outcome.expired"   // our MTA gave up and no reply says why
	RuleComplaint        = "source.complaint"  // the source reports a spam complaint
	RuleDefault          = "default.unknown"   // no evidence at all
)

// Input is what the classifier looks at. Every field may be empty; Code and
// Enhanced are taken from Text when they are zero.
type Input struct {
	Code     int    // SMTP reply code, e.g. 550
	Enhanced string // RFC 3463 enhanced status code, e.g. "5.1.1"
	Text     string // the reply text or diagnostic, possibly multi-line
	Command  string // the SMTP command the reply answered: MAIL FROM, RCPT TO, DATA, ...
	Domain   string // recipient domain, for provider rules
	Outcome  event.Outcome

	// SourceScheme and SourceValue are the source's own classification
	// (SES notificationType, SendGrid event, ...): only a complaint is
	// taken from it, the rest is evidence the rules do not trust.
	SourceScheme, SourceValue string
}

// Classifier assigns a verdict to every input. It is immutable after New and
// safe for concurrent use.
type Classifier struct {
	rules []compiled // sorted by tier, then file order
	ac    *automaton
	nlit  int
	// trigger[lit] lists the rules (indexes into rules) a literal makes
	// candidates; always lists the rules with no trigger literal, which are
	// checked on every input with cheap field comparisons.
	trigger [][]int32
	always  []uint64
	// stage literals, by command, so the stage tier works on free text that
	// says "(in reply to RCPT TO command)".
	stage [cmdData + 1][]int32
	pool  sync.Pool // *scratch
}

type compiled struct {
	id       string
	label    event.Label
	verdict  event.Verdict
	expired  event.Verdict // verdict with label expired, same rule id (outcomeAware)
	retried  bool          // Rule.Retried: outcome bounced makes the label expired
	tier     Tier
	phrases  []int32
	all      []int32
	fps      []int32
	domains  []string
	codes    []codePattern
	enhanced []enhancedPattern
	commands []command
	re       *regexp.Regexp
}

type scratch struct {
	lits  []uint64
	cands []uint64
}

// Default returns a classifier over the rules shipped in rules.yaml.
func Default() (*Classifier, error) {
	rules, err := Load(defaultRules)
	if err != nil {
		return nil, fmt.Errorf("classify: embedded rules: %w", err)
	}
	return New(rules)
}

// DefaultRules returns the rules shipped in rules.yaml, to be merged with a
// user's rules (Merge) before New.
func DefaultRules() ([]Rule, error) {
	rules, err := Load(defaultRules)
	if err != nil {
		return nil, fmt.Errorf("classify: embedded rules: %w", err)
	}
	return rules, nil
}

// New compiles rules into a classifier. The rules are validated as Load
// does, so rules built in code get the same checks.
func New(rules []Rule) (*Classifier, error) {
	rules = append([]Rule(nil), rules...)
	if err := validate(rules); err != nil {
		return nil, err
	}
	for i := range rules {
		rules[i].Phrases = append([]string(nil), rules[i].Phrases...)
		rules[i].All = append([]string(nil), rules[i].All...)
		rules[i].Fingerprints = append([]string(nil), rules[i].Fingerprints...)
		rules[i].Domains = append([]string(nil), rules[i].Domains...)
		normalise(&rules[i])
	}

	// Stable order: tier, then position in the file.
	order := make([]int, 0, len(rules))
	for t := TierProvider; t <= TierCode; t++ {
		for i := range rules {
			if rules[i].Tier() == t {
				order = append(order, i)
			}
		}
	}

	c := &Classifier{}
	litID := map[string]int32{}
	var lits []string
	intern := func(s string) int32 {
		if id, ok := litID[s]; ok {
			return id
		}
		id := int32(len(lits))
		litID[s] = id
		lits = append(lits, s)
		return id
	}
	for _, h := range stageHints() {
		c.stage[h.cmd] = append(c.stage[h.cmd], intern(foldLiteral(h.phrase)))
	}
	for _, i := range order {
		r := &rules[i]
		cr := compiled{id: r.ID, label: r.Label, tier: r.Tier(), domains: r.Domains, retried: r.Retried}
		cr.verdict = event.NewVerdict(r.Label, r.ID)
		cr.verdict.Local = r.Local
		cr.expired = event.NewVerdict(event.LabelExpired, r.ID)
		cr.expired.Local = r.Local
		for _, p := range r.Phrases {
			cr.phrases = append(cr.phrases, intern(p))
		}
		for _, p := range r.All {
			cr.all = append(cr.all, intern(p))
		}
		for _, p := range r.Fingerprints {
			cr.fps = append(cr.fps, intern(p))
		}
		for _, s := range r.Codes {
			p, _ := parseCodePattern(s) // validated above
			cr.codes = append(cr.codes, p)
		}
		for _, s := range r.Enhanced {
			p, _ := parseEnhancedPattern(s)
			cr.enhanced = append(cr.enhanced, p)
		}
		for _, s := range r.Command {
			cr.commands = append(cr.commands, parseCommand(s))
		}
		if r.Regex != "" {
			re, err := regexp.Compile("(?i)" + r.Regex)
			if err != nil {
				return nil, fmt.Errorf("classify: rule %s: regex: %w", r.ID, err)
			}
			cr.re = re
		}
		c.rules = append(c.rules, cr)
	}

	c.nlit = len(lits)
	c.ac = newAutomaton(lits)
	c.trigger = make([][]int32, len(lits))
	c.always = make([]uint64, words(len(c.rules)))
	for ri, r := range c.rules {
		switch {
		case len(r.phrases) > 0:
			for _, l := range r.phrases {
				c.trigger[l] = append(c.trigger[l], int32(ri))
			}
		case len(r.all) > 0:
			c.trigger[r.all[0]] = append(c.trigger[r.all[0]], int32(ri))
		default:
			c.always[ri>>6] |= 1 << (uint(ri) & 63)
		}
	}
	nl, nr := words(len(lits)), words(len(c.rules))
	c.pool.New = func() any {
		return &scratch{lits: make([]uint64, nl), cands: make([]uint64, nr)}
	}
	return c, nil
}

func words(n int) int { return (n + 63) / 64 }

// Rules reports how many rules the classifier holds.
func (c *Classifier) Rules() int { return len(c.rules) }

// Classify returns the verdict for one input. Every input gets exactly one
// verdict; it does not allocate.
func (c *Classifier) Classify(in Input) event.Verdict {
	// A spam report is a complaint whatever it quotes: an ARF report
	// carries the original message, which may read like a bounce.
	if in.Outcome == event.Complaint {
		return event.NewVerdict(event.LabelComplaint, RuleOutcomeComplaint)
	}
	// A complaint arriving the old way, as outcome delivered with the
	// source's verdict: that verdict decides before the outcome does.
	if isComplaint(in.SourceScheme, in.SourceValue) {
		return event.NewVerdict(event.LabelComplaint, RuleComplaint)
	}
	if in.Outcome == event.Delivered {
		return event.NewVerdict(event.LabelDelivered, RuleDelivered)
	}

	code := in.Code
	enh := parseEnhanced(in.Enhanced)
	if code == 0 || !enh.Valid() {
		tc, te := reply.Find(in.Text)
		if code == 0 {
			code = tc
		}
		if !enh.Valid() {
			enh = te
		}
	}
	cmd := parseCommand(in.Command)

	sc := c.pool.Get().(*scratch)
	defer c.pool.Put(sc)
	clear(sc.lits)
	copy(sc.cands, c.always)
	if in.Text != "" {
		c.ac.scan(in.Text, sc.lits)
	}
	if cmd == cmdNone {
		cmd = c.stageOf(sc.lits)
	}
	// Candidates: the rules whose trigger literal occurred.
	for w, set := range sc.lits {
		for set != 0 {
			b := trailingZeros(set)
			set &= set - 1
			for _, ri := range c.trigger[w*64+b] {
				sc.cands[ri>>6] |= 1 << (uint(ri) & 63)
			}
		}
	}
	for w, set := range sc.cands {
		for set != 0 {
			b := trailingZeros(set)
			set &= set - 1
			r := &c.rules[w*64+b]
			if !c.match(r, &in, code, enh, cmd, sc.lits) {
				continue
			}
			// An upstream drop or our own expiry with only a bare code
			// says nothing more than the outcome itself.
			if r.tier >= TierCode {
				if v, ok := outcomeVerdict(in.Outcome); ok {
					return v
				}
			}
			return r.outcomeAware(in.Outcome)
		}
	}
	if v, ok := outcomeVerdict(in.Outcome); ok {
		return v
	}
	return event.NewVerdict(event.Unknown, RuleDefault)
}

// outcomeAware returns the rule's verdict in the light of what the MTA
// finally did. The send ended because retries ran out, so the label is
// expired (transport, soft) and the rule id stays the deciding rule's:
//
//   - outcome expired, when the rule's verdict is soft (a transport
//     failure, greylisting, a full mailbox, unknown): the last reply says
//     what kept failing, not that the address is bad. A hard or block
//     verdict is kept: it is the reason the retries failed, and it feeds
//     suppression and the sender-health alerts.
//   - outcome bounced with a rule marked retried (a refused or timed-out
//     connection): MTAs retry those until their queue lifetime runs out,
//     so a bounce after one means the lifetime ran out. A mail loop
//     (5.4.6, "too many hops") bounces at once and a transient DNS failure
//     is not a connection failure, so their rules are not marked and keep
//     network_error.
//
// Outcome deferred keeps network_error: the MTA is still retrying.
func (r *compiled) outcomeAware(o event.Outcome) event.Verdict {
	switch o {
	case event.Expired:
		if r.verdict.Class == event.ClassSoft {
			return r.expired
		}
	case event.Bounced:
		if r.retried {
			return r.expired
		}
	}
	return r.verdict
}

func outcomeVerdict(o event.Outcome) (event.Verdict, bool) {
	switch o {
	case event.Dropped:
		return event.NewVerdict(event.Suppressed, RuleDropped), true
	case event.Expired:
		return event.NewVerdict(event.LabelExpired, RuleExpired), true
	}
	return event.Verdict{}, false
}

func (c *Classifier) match(r *compiled, in *Input, code int, enh reply.Status, cmd command, lits []uint64) bool {
	if len(r.phrases) > 0 && !anyHit(r.phrases, lits) {
		return false
	}
	for _, l := range r.all {
		if !hit(l, lits) {
			return false
		}
	}
	if len(r.fps) > 0 || len(r.domains) > 0 {
		if !anyHit(r.fps, lits) && !domainMatch(r.domains, in.Domain) {
			return false
		}
	}
	if len(r.codes) > 0 {
		ok := false
		for _, p := range r.codes {
			if p.match(code) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.enhanced) > 0 {
		ok := false
		for _, p := range r.enhanced {
			if p.match(enh) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.commands) > 0 {
		ok := false
		for _, x := range r.commands {
			if x == cmd {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if r.re != nil && !r.re.MatchString(in.Text) {
		return false
	}
	return true
}

func hit(l int32, lits []uint64) bool { return lits[l>>6]&(1<<(uint(l)&63)) != 0 }

func anyHit(ls []int32, lits []uint64) bool {
	for _, l := range ls {
		if hit(l, lits) {
			return true
		}
	}
	return false
}

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

// domainMatch reports whether domain equals one of suffixes or is a
// subdomain of one, ignoring ASCII case and a trailing dot.
func domainMatch(suffixes []string, domain string) bool {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" {
		return false
	}
	for _, s := range suffixes {
		if len(domain) < len(s) || !strings.EqualFold(domain[len(domain)-len(s):], s) {
			continue
		}
		if len(domain) == len(s) || domain[len(domain)-len(s)-1] == '.' {
			return true
		}
	}
	return false
}

// stageOf returns the SMTP stage a free-text diagnostic names, the earliest
// stage when it names several (a later one is usually the "503 need RCPT"
// noise of a multi-reply transcript).
func (c *Classifier) stageOf(lits []uint64) command {
	for cmd := cmdConnect; cmd <= cmdData; cmd++ {
		if anyHit(c.stage[cmd], lits) {
			return cmd
		}
	}
	return cmdNone
}

type stageHint struct {
	phrase string
	cmd    command
}

// stageHints are the ways MTAs write which command a reply answered
// (Postfix "in reply to", Exim "after", qmail "did not like", Sendmail
// ">>>" transcripts).
func stageHints() []stageHint {
	return []stageHint{
		{"after initial connection", cmdConnect},
		{"refused to talk to me", cmdConnect},
		{"while receiving the initial server greeting", cmdConnect},
		{"in reply to helo command", cmdHelo},
		{"in reply to ehlo command", cmdHelo},
		{"after ehlo", cmdHelo},
		{"after helo", cmdHelo},
		{"my name was rejected", cmdHelo},
		{"in reply to mail from command", cmdMail},
		{"after mail from", cmdMail},
		{"did not like our mail from", cmdMail},
		{">>> mail from", cmdMail},
		{"[mail_from]", cmdMail},
		{"sender was rejected", cmdMail},
		{"rejected mail from address", cmdMail},
		{"in reply to rcpt to command", cmdRcpt},
		{"after rcpt to", cmdRcpt},
		{"did not like our rcpt to", cmdRcpt},
		{">>> rcpt to", cmdRcpt},
		{"[rcpt_to]", cmdRcpt},
		{"error following rcpt command", cmdRcpt},
		{"most progress was rcpt to response", cmdRcpt},
		{"smtp:rcpt host", cmdRcpt},
		{"recipient address rejected:", cmdRcpt},
		{"no valid recipients", cmdRcpt},
		{"all recipients are invalid", cmdRcpt},
		{"does not like recipient", cmdRcpt},
		{"in reply to end of data command", cmdData},
		{"in reply to data command", cmdData},
		{"after end of data", cmdData},
		{"did not like our final data", cmdData},
		{"did not like our data", cmdData},
		{"failed after i sent the message", cmdData},
		{">>> data", cmdData},
	}
}

// isComplaint reports whether the source's own classification is a spam
// complaint (SES notificationType Complaint, SendGrid spamreport, Mailgun
// complained, Postmark SpamComplaint, an ARF feedback type).
func isComplaint(scheme, value string) bool {
	if value == "" {
		return false
	}
	for _, v := range [...]string{"complaint", "complained", "spamcomplaint", "spam_complaint", "spam-complaint",
		"spamreport", "spam_report", "spam-report", "spam report", "abuse", "fbl", "arf"} {
		if strings.EqualFold(value, v) {
			return true
		}
	}
	// A scheme that is itself about complaints (SES complaintFeedbackType,
	// an FBL feed) carries a complaint unless it says otherwise.
	return containsFold(scheme, "complaint") && !strings.EqualFold(value, "not-spam")
}

// containsFold is strings.Contains ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// Attempt classifies a canonical event. The text it looks at is smtp.text,
// plus the diagnostic when that says something the text does not.
func (c *Classifier) Attempt(a *event.Attempt) event.Verdict {
	return c.Classify(InputOf(a))
}

// InputOf builds the classifier input for an attempt.
func InputOf(a *event.Attempt) Input {
	in := Input{
		Code:     a.SMTP.Code,
		Enhanced: a.SMTP.Enhanced,
		Text:     joinText(a.SMTP.Text, a.Diagnostic),
		Command:  a.SMTP.Command,
		Domain:   a.RecipientDomain,
		Outcome:  a.Outcome,
	}
	if in.Domain == "" {
		if i := strings.LastIndexByte(a.Recipient, '@'); i >= 0 {
			in.Domain = a.Recipient[i+1:]
		}
	}
	if sc := a.SourceClassification; sc != nil {
		in.SourceScheme, in.SourceValue = sc.Scheme, sc.Value
	}
	return in
}

// joinText avoids a copy in the common cases: one of the two is empty, or
// one contains the other (sources often repeat the reply in the diagnostic).
func joinText(text, diag string) string {
	switch {
	case diag == "" || strings.Contains(text, diag):
		return text
	case text == "" || strings.Contains(diag, text):
		return diag
	}
	return text + "\n" + diag
}

// parseEnhanced reads Input.Enhanced: "5.1.1", surrounded by space or
// written "#5.1.1" as some MTAs quote it. Anything else is no code.
func parseEnhanced(s string) reply.Status {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if e, n := reply.ScanEnhanced(s); n == len(s) {
		return e
	}
	return reply.Status{}
}
