package smtpsink

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// The recipient domains of scripts/mta-logs, by what the MTA does with them.
const (
	// DomainSink is routed to the scripted listener.
	DomainSink = "example.test"
	// DomainGreet is routed to the listener that answers 421 at the greeting.
	DomainGreet = "greet.test"
	// DomainRefused is routed to a closed loopback port.
	DomainRefused = "refused.test"
	// DomainUnresolvable is looked up in the DNS and does not exist.
	DomainUnresolvable = "nowhere.invalid"
)

// Sources of an Expectation.
const (
	// SourceSink: the sink answered this attempt; outcome, code and
	// enhanced code are the answer's.
	SourceSink = "sink"
	// SourceMTA: the sink never saw this attempt (local delivery, a
	// refused connection, a DNS failure, an expiry, a bounce the MTA made
	// itself); the outcome is the MTA's own status word, and there is no
	// SMTP code. Enhanced is Postfix's dsn= (its own status), empty for
	// Exim, which logs none.
	SourceMTA = "mta"
)

// Expectation is what an adapter should read from one attempt line of an
// MTA log.
type Expectation struct {
	// Line is the line's number in the log, from 1.
	Line int `json:"line"`
	// Recipient is the address the attempt was for, as the MTA logged it.
	Recipient string `json:"recipient"`
	// Outcome is delivered, deferred, bounced or expired.
	Outcome string `json:"outcome"`
	// Code and Enhanced are the sink's reply (0 and "" when it gave none).
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	// Source says where the expectation comes from: SourceSink or SourceMTA.
	Source string `json:"source"`
	// Why is the sink's answer ("RCPT try 2: 451 ...") or the MTA's reason
	// for a SourceMTA line, for the person reading a failure.
	Why string `json:"why"`
}

// attemptLine is what Expect reads from an attempt line on its own,
// without the adapters: the recipient and the MTA's status word.
type attemptLine struct {
	rcpt   string
	status string // delivered, deferred, bounced, expired
	dsn    string // Postfix's dsn=
	why    string
}

// answer is one reply the sink gave for a recipient's delivery attempt:
// the RCPT reply when it refused, the end-of-data reply otherwise.
type answer struct {
	e     Entry
	stage string
}

// lineReader turns one log line into the attempts it reports (none for
// most lines). It keeps what it needs across lines: which messages are the
// MTA's own bounces, which recipients are still deferred.
type lineReader interface {
	attempts(line string) []attemptLine
}

// Expect reads an MTA's log ("postfix" or "exim") and the sink's journal
// and returns, for every attempt a line reports, what it should be read as
// (a Postfix expiry line reports one per recipient still deferred).
//
// The n-th attempt for a recipient of DomainSink is matched with the
// sink's n-th answer to that recipient, and an attempt for DomainGreet with
// the next 421 greeting; an expiry carries the recipient's last answer.
// Deliveries of the MTA's own bounce messages (null sender) are bounce
// traffic, not attempts, and are left out. Expect refuses a journal and a
// log that disagree: an answer's class that is not the MTA's status, an
// attempt with no answer left, or answers no attempt used.
func Expect(mta string, log, journal io.Reader) ([]Expectation, error) {
	var lr lineReader
	switch mta {
	case "postfix":
		lr = &postfixReader{nullSender: map[string]bool{}, deferred: map[string][]attemptLine{}}
	case "exim":
		lr = &eximReader{nullSender: map[string]bool{}}
	default:
		return nil, fmt.Errorf("expect: unknown MTA %q; want postfix or exim", mta)
	}
	answers, greetings, err := readJournal(journal)
	if err != nil {
		return nil, err
	}
	last := map[string]*answer{} // each recipient's latest answer, for its expiry
	var out []Expectation
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		for _, l := range lr.attempts(sc.Text()) {
			x, err := expectation(n, l, answers, &greetings, last)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("expect: read log: %w", err)
	}
	for rcpt, left := range answers {
		if len(left) > 0 {
			return nil, fmt.Errorf("expect: the sink answered %s %d more times than the log has attempts for it", rcpt, len(left))
		}
	}
	if len(greetings) > 0 {
		return nil, fmt.Errorf("expect: the sink refused %d more greetings than the log has attempts for %s", len(greetings), DomainGreet)
	}
	return out, nil
}

// expectation matches one attempt with the sink's answer to it.
func expectation(n int, l attemptLine, answers map[string][]answer, greetings *[]Entry, last map[string]*answer) (Expectation, error) {
	x := Expectation{Line: n, Recipient: l.rcpt}
	domain := ""
	if _, d, ok := strings.Cut(l.rcpt, "@"); ok {
		domain = strings.ToLower(d)
	}
	key := strings.ToLower(l.rcpt)
	var a *answer
	switch {
	case domain == DomainSink && len(answers[key]) > 0:
		// An expiry may come with a last try the sink answered (Exim
		// logs it on the "**" line); Postfix's has none left.
		a = &answers[key][0]
		answers[key] = answers[key][1:]
	case domain == DomainGreet && len(*greetings) > 0 && l.status != "expired":
		a = &answer{e: (*greetings)[0], stage: "greeting"}
		*greetings = (*greetings)[1:]
	case domain == DomainSink && l.status != "expired":
		return x, fmt.Errorf("expect: log line %d: %s attempt for %s, but the sink has no answer left for it", n, l.status, l.rcpt)
	}
	if a != nil {
		last[key] = a
	} else if l.status == "expired" {
		a = last[key]
	}
	if a == nil {
		x.Source, x.Outcome, x.Enhanced, x.Why = SourceMTA, l.status, l.dsn, l.why
		return x, nil
	}
	x.Source, x.Code, x.Enhanced = SourceSink, a.e.Code, a.e.Enhanced
	x.Outcome = classOutcome(a.e.Code)
	x.Why = fmt.Sprintf("%s try %d: %d %s %s", a.stage, a.e.Try, a.e.Code, a.e.Enhanced, a.e.Text)
	if a.stage == "greeting" {
		x.Why = fmt.Sprintf("greeting: %d %s %s", a.e.Code, a.e.Enhanced, a.e.Text)
	}
	if l.status == "expired" {
		if x.Outcome != "deferred" {
			return x, fmt.Errorf("expect: log line %d: %s expired, but the sink's last answer was %d", n, l.rcpt, a.e.Code)
		}
		x.Outcome, x.Why = "expired", "expired after "+x.Why
	}
	if x.Outcome != l.status {
		return x, fmt.Errorf("expect: log line %d: the sink answered %s with %d (%s), the MTA logged %s", n, l.rcpt, a.e.Code, x.Outcome, l.status)
	}
	return x, nil
}

// readJournal groups the sink's answers by recipient (ASCII case folded):
// a refused RCPT is the answer; an accepted one is answered by the end of
// data of the same connection that follows it.
func readJournal(r io.Reader) (map[string][]answer, []Entry, error) {
	answers := map[string][]answer{}
	var greetings []Entry
	type convKey struct {
		listen string
		conn   int
		rcpt   string
	}
	pending := map[convKey][]int{} // accepted RCPTs waiting for their DATA answer: index into answers[rcpt]
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var e Entry
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("expect: journal entry %d: %w", n, err)
		}
		rcpt := strings.ToLower(e.Rcpt)
		k := convKey{e.Listen, e.Conn, rcpt}
		switch e.Stage {
		case "greeting":
			greetings = append(greetings, e)
		case "RCPT":
			answers[rcpt] = append(answers[rcpt], answer{e: e, stage: "RCPT"})
			if e.Code/100 == 2 {
				pending[k] = append(pending[k], len(answers[rcpt])-1)
			}
		case "DATA":
			if len(pending[k]) == 0 {
				return nil, nil, fmt.Errorf("expect: journal entry %d: a DATA answer for %s with no accepted RCPT before it", n, e.Rcpt)
			}
			answers[rcpt][pending[k][0]] = answer{e: e, stage: "DATA"}
			pending[k] = pending[k][1:]
		default:
			return nil, nil, fmt.Errorf("expect: journal entry %d: unknown stage %q", n, e.Stage)
		}
	}
	// An accepted RCPT whose transaction never reached DATA (the client
	// gave up) is no attempt the MTA logs: drop it.
	for k, idx := range pending {
		for i := len(idx) - 1; i >= 0; i-- {
			as := answers[k.rcpt]
			answers[k.rcpt] = append(as[:idx[i]], as[idx[i]+1:]...)
		}
	}
	return answers, greetings, nil
}

func classOutcome(code int) string {
	switch code / 100 {
	case 2:
		return "delivered"
	case 4:
		return "deferred"
	}
	return "bounced"
}

var (
	postfixQID     = regexp.MustCompile(`^(?:.*? )?postfix(?:-[^/\s]+)?/[\w-]+\[\d+\]: ([0-9A-Za-z]+): (.*)$`)
	postfixTo      = regexp.MustCompile(`^to=<([^>]*)>,`)
	postfixStatus  = regexp.MustCompile(`, status=(\w+) ?(.*)$`)
	postfixDSN     = regexp.MustCompile(`, dsn=(\d\.\d{1,3}\.\d{1,3}),`)
	postfixFrom    = regexp.MustCompile(`^from=<([^>]*)>, (?:size=|status=expired)`)
	postfixExpired = regexp.MustCompile(`^from=<[^>]*>, status=expired`)
)

// postfixReader reads the delivery agents' per-recipient status lines
// ("QID: to=<r>, ..., dsn=X.Y.Z, status=S (reason)") and qmgr's expiry of a
// message ("QID: from=<s>, status=expired, returned to sender"), which
// reports every recipient whose latest status was deferred.
type postfixReader struct {
	nullSender map[string]bool          // QIDs of Postfix's own bounces
	deferred   map[string][]attemptLine // QID → recipients last seen deferred
}

func (p *postfixReader) attempts(line string) []attemptLine {
	m := postfixQID.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	qid, rest := m[1], m[2]
	if f := postfixFrom.FindStringSubmatch(rest); f != nil && f[1] == "" {
		p.nullSender[qid] = true
	}
	if postfixExpired.MatchString(rest) {
		out := p.deferred[qid]
		delete(p.deferred, qid)
		for i := range out {
			out[i].status, out[i].why = "expired", "message expired in the queue"
		}
		return out
	}
	to := postfixTo.FindStringSubmatch(rest)
	st := postfixStatus.FindStringSubmatch(rest)
	if to == nil || st == nil || p.nullSender[qid] {
		return nil
	}
	l := attemptLine{rcpt: to[1], why: st[2]}
	if d := postfixDSN.FindStringSubmatch(rest); d != nil {
		l.dsn = d[1]
	}
	switch st[1] {
	case "sent":
		l.status = "delivered"
	case "deferred", "bounced", "expired":
		l.status = st[1]
	default:
		return nil
	}
	kept := p.deferred[qid][:0]
	for _, d := range p.deferred[qid] {
		if !strings.EqualFold(d.rcpt, l.rcpt) {
			kept = append(kept, d)
		}
	}
	if l.status == "deferred" {
		kept = append(kept, l)
	}
	p.deferred[qid] = kept
	return []attemptLine{l}
}

var eximID = regexp.MustCompile(`^[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}$`)

// eximReader reads delivery lines: "<time> [pid] ID => r ..." (delivered,
// "->" for a further recipient of the same delivery), "**" (failed), "=="
// (deferred). A "==" line that says the retry time was not reached is a
// note that no attempt was made, and "** … retry timeout exceeded" is an
// expiry. "ID <= <> …" marks Exim's own bounce, whose deliveries are left
// out.
type eximReader struct {
	nullSender map[string]bool
}

func (r *eximReader) attempts(line string) []attemptLine {
	f := strings.Fields(line)
	for i := 0; i+2 < len(f); i++ {
		if !eximID.MatchString(f[i]) {
			continue
		}
		var l attemptLine
		switch f[i+1] {
		case "<=":
			if f[i+2] == "<>" {
				r.nullSender[f[i]] = true
			}
			return nil
		case "=>", "->":
			l.status = "delivered"
		case "**":
			l.status = "bounced"
		case "==":
			l.status = "deferred"
		default:
			return nil
		}
		if r.nullSender[f[i]] {
			return nil
		}
		l.rcpt = strings.TrimSuffix(f[i+2], ":")
		if !strings.Contains(l.rcpt, "@") && i+3 < len(f) && strings.HasPrefix(f[i+3], "<") {
			l.rcpt = strings.Trim(f[i+3], "<>:")
		}
		rest := strings.Join(f[i+2:], " ")
		if l.status == "deferred" && strings.Contains(rest, "retry time not reached") {
			return nil
		}
		if l.status == "bounced" && strings.Contains(rest, "retry timeout exceeded") {
			l.status = "expired"
		}
		l.why = rest
		return []attemptLine{l}
	}
	return nil
}
