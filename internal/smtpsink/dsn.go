package smtpsink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// DSNExpectation is what a decoder should read from one recipient of a
// bounce mail (an RFC 3464 delivery status notification) that an MTA sent
// for a message the sink refused or delayed, as scripts/mta-bounces captured
// it at the end of the bounce address's pipe.
type DSNExpectation struct {
	// File is the captured message's name.
	File string `json:"file"`
	// EnvelopeTo is the bounce address the message was piped for, from
	// the header the MTA's pipe added (Postfix's Delivered-To, Exim's
	// Envelope-to); VERP is the address it encodes
	// (bounces+alice=example.org@… → alice@example.org), empty when it
	// encodes none.
	EnvelopeTo string `json:"envelope_to"`
	VERP       string `json:"verp,omitempty"`
	// Recipient is the recipient the report is about (its
	// Final-Recipient, or Original-Recipient when present), as the MTA
	// wrote it.
	Recipient string `json:"recipient"`
	// Action and Status are the report's: failed or delayed, and the
	// RFC 3463 enhanced code the MTA reported.
	Action string `json:"action"`
	Status string `json:"status"`
	// Code and Enhanced are the sink's last answer to the recipient before
	// the report's Date (0 and "" when the sink never saw it: an
	// unresolvable domain).
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	// Source is SourceSink when the sink answered the recipient,
	// SourceMTA when the MTA failed it by itself.
	Source string `json:"source"`
	// Why is the sink's last answer, or the report's Diagnostic-Code for
	// a SourceMTA recipient, for the person reading a failure.
	Why string `json:"why"`
}

// CapturedMail is one message the pipe delivered: its file name and bytes.
type CapturedMail struct {
	Name string
	Data []byte
}

// ExpectDSN reads the delivery-status part of each captured bounce mail and
// the sink's journal of the same run, and returns one expectation per
// reported recipient. It refuses a report that disagrees with the journal:
// a failed recipient the sink answered with a 4xx it did not give up on
// (Postfix and Exim fail a 4xx recipient only when the message expires, so
// that is allowed) or with a different enhanced code than the report's, a
// delayed recipient the sink refused for good, a report about a recipient
// the sink accepted, or a Diagnostic-Code whose SMTP code is not the sink's.
func ExpectDSN(journal io.Reader, mails []CapturedMail) ([]DSNExpectation, error) {
	answers, _, err := readJournal(journal)
	if err != nil {
		return nil, err
	}
	var out []DSNExpectation
	for _, m := range mails {
		xs, err := expectMail(m, answers)
		if err != nil {
			return nil, fmt.Errorf("expect: %s: %w", m.Name, err)
		}
		out = append(out, xs...)
	}
	return out, nil
}

// expectMail is ExpectDSN for one captured mail.
func expectMail(m CapturedMail, answers map[string][]answer) ([]DSNExpectation, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, fmt.Errorf("not an RFC 5322 message: %w", err)
	}
	env := msg.Header.Get("Delivered-To")
	if env == "" {
		env = msg.Header.Get("Envelope-to")
	}
	if env == "" {
		return nil, errors.New("no Delivered-To or Envelope-to header: the pipe did not add the envelope recipient")
	}
	// The answers that led to this report: those before it was written
	// (a delay warning comes before the tries that follow it).
	sent, dateErr := msg.Header.Date()
	recipients, err := deliveryStatus(msg)
	if err != nil {
		return nil, err
	}
	if len(recipients) == 0 {
		return nil, errors.New("the delivery-status part reports no recipient")
	}
	var out []DSNExpectation
	for _, r := range recipients {
		x := DSNExpectation{
			File: m.Name, EnvelopeTo: env, VERP: verpAddress(env),
			Recipient: r.rcpt, Action: strings.ToLower(r.action), Status: r.status,
		}
		as := answers[strings.ToLower(r.rcpt)]
		if dateErr == nil {
			// The Date header has whole seconds: keep what came within it.
			for len(as) > 1 && as[len(as)-1].e.Time.After(sent.Add(time.Second)) {
				as = as[:len(as)-1]
			}
		}
		if len(as) == 0 {
			x.Source, x.Why = SourceMTA, r.diagnostic
			out = append(out, x)
			continue
		}
		a := as[len(as)-1]
		x.Source, x.Code, x.Enhanced = SourceSink, a.e.Code, a.e.Enhanced
		x.Why = fmt.Sprintf("%s try %d: %d %s %s", a.stage, a.e.Try, a.e.Code, a.e.Enhanced, a.e.Text)
		if err := checkReport(x, r.diagnostic); err != nil {
			return nil, fmt.Errorf("recipient %s: %w", r.rcpt, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// checkReport compares what the report says about a recipient with the
// sink's last answer to it.
func checkReport(x DSNExpectation, diagnostic string) error {
	switch {
	case x.Code/100 == 2:
		return fmt.Errorf("reported %s, but the sink accepted it (%d)", x.Action, x.Code)
	case x.Action == "delayed" && x.Code/100 != 4:
		return fmt.Errorf("reported delayed, but the sink refused it for good (%d)", x.Code)
	case x.Action == "failed" && x.Code/100 == 5 && x.Status != x.Enhanced && x.Status != "5.0.0":
		// Exim (4.96) reports 5.0.0 whatever the remote's enhanced code.
		return fmt.Errorf("reported status %s, but the sink answered %d %s", x.Status, x.Code, x.Enhanced)
	case x.Action != "failed" && x.Action != "delayed":
		return fmt.Errorf("reported action %q; want failed or delayed", x.Action)
	}
	// "smtp; 550 5.1.1 …": when the report quotes the remote reply, its
	// code must be the sink's.
	kind, text, ok := strings.Cut(diagnostic, ";")
	if ok && strings.EqualFold(strings.TrimSpace(kind), "smtp") {
		text = strings.TrimSpace(text)
		if len(text) >= 3 {
			if code, err := strconv.Atoi(text[:3]); err == nil && code != x.Code {
				return fmt.Errorf("Diagnostic-Code %q, but the sink's last answer was %d", diagnostic, x.Code)
			}
		}
	}
	return nil
}

// reported is one per-recipient block of a delivery-status part.
type reported struct {
	rcpt, action, status, diagnostic string
}

// deliveryStatus finds the message/delivery-status part of a
// multipart/report and reads its per-recipient blocks (RFC 3464 section
// 2.3: after the per-message block, one block per recipient, blank lines
// between them).
func deliveryStatus(msg *mail.Message) ([]reported, error) {
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("unreadable Content-Type %q: %w", msg.Header.Get("Content-Type"), err)
	}
	if mt != "multipart/report" {
		return nil, fmt.Errorf("Content-Type is %s; want multipart/report", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errors.New("no message/delivery-status part in the multipart/report")
		}
		if err != nil {
			return nil, fmt.Errorf("reading the multipart/report: %w", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pt != "message/delivery-status" {
			continue
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("reading the delivery-status part: %w", err)
		}
		return recipientBlocks(body)
	}
}

// recipientBlocks reads the blocks after the per-message one.
func recipientBlocks(body []byte) ([]reported, error) {
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	var out []reported
	for i, block := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i == 0 || strings.TrimSpace(block) == "" {
			continue
		}
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimSpace(block) + "\n\n"))).ReadMIMEHeader()
		if err != nil {
			return nil, fmt.Errorf("delivery-status block %d: %w", i+1, err)
		}
		rcpt := typedAddress(h.Get("Original-Recipient"))
		if rcpt == "" {
			rcpt = typedAddress(h.Get("Final-Recipient"))
		}
		if rcpt == "" || h.Get("Action") == "" || h.Get("Status") == "" {
			return nil, fmt.Errorf("delivery-status block %d lacks Final-Recipient, Action or Status", i+1)
		}
		out = append(out, reported{
			rcpt: rcpt, action: strings.TrimSpace(h.Get("Action")), status: strings.TrimSpace(h.Get("Status")),
			diagnostic: strings.Join(strings.Fields(h.Get("Diagnostic-Code")), " "),
		})
	}
	return out, nil
}

// typedAddress takes the address out of "rfc822; alice@example.org".
func typedAddress(v string) string {
	_, a, ok := strings.Cut(v, ";")
	if !ok {
		return ""
	}
	return strings.Trim(strings.TrimSpace(a), "<>")
}

// verpAddress undoes VERP: "bounces+alice=example.org@bounce.example.test"
// is alice@example.org. Anything else encodes no address.
func verpAddress(env string) string {
	if a, err := mail.ParseAddress(env); err == nil {
		env = a.Address
	}
	local, _, _ := strings.Cut(env, "@")
	_, tag, ok := strings.Cut(local, "+")
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(tag, '=')
	if i <= 0 || i == len(tag)-1 {
		return ""
	}
	return tag[:i] + "@" + tag[i+1:]
}
