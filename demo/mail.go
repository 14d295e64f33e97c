package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// late is a mail that arrives after a send was delivered: the recipient's
// spam report, or the remote's bounce after it had accepted the message.
// Both reach bounced as RFC 5322 messages (`bounced mail`), not log lines.
type late int

const (
	lateNone      late = iota
	lateComplaint      // ARF feedback report (RFC 5965), hours later
	lateBounce         // RFC 3464 DSN: accepted, then the mailbox was not found
)

// crlf joins lines as real MTAs write them.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// zones are the offsets reporting systems write their dates in: a date
// in another zone must still decode to the same instant.
var zones = []*time.Location{
	time.UTC,
	time.FixedZone("PDT", -7*3600),
	time.FixedZone("EST", -5*3600),
	time.FixedZone("CEST", 2*3600),
	time.FixedZone("MSK", 3*3600),
	time.FixedZone("JST", 9*3600),
}

// mailDate is an RFC 5322 date in one of zones.
func (g *generator) mailDate(t time.Time) string {
	return t.In(zones[g.rng.IntN(len(zones))]).Format(time.RFC1123Z)
}

// boundary is a MIME boundary in the style of one of the MTAs that write
// reports.
func (g *generator) boundary(host string) string {
	switch g.rng.IntN(4) {
	case 0: // Postfix: queue id, time, host
		return g.token(12, "0123456789ABCDEF") + "." + g.token(10, "0123456789") + "/" + host
	case 1: // Gmail
		return "000000000000" + g.token(16, "0123456789abcdef")
	case 2: // Exim
		return g.token(10, "0123456789") + "-eximdsn-" + g.token(10, "0123456789")
	default:
		return "----=_Part_" + g.token(6, "0123456789") + "_" + g.token(9, "0123456789") + "." + g.token(13, "0123456789")
	}
}

// originalHeaders is the header block of the message we sent, as a report
// returns it (text/rfc822-headers): its Message-ID and X-Campaign-ID are
// how the report finds its send and campaign.
func (g *generator) originalHeaders(sc *sendCtx) []string {
	sender := "bounces+" + sc.camp.name + "@mail.example.net"
	h := []string{
		"Return-Path: <" + sender + ">",
		"From: \"Example Shop\" <news@example.net>",
		"To: <" + sc.spelled + ">",
		"Subject: " + subjects[g.rng.IntN(len(subjects))],
		"Date: " + sc.sentAt.Format(time.RFC1123Z),
		"Message-ID: " + sc.mid,
		"X-Campaign-ID: " + sc.camp.name,
		"MIME-Version: 1.0",
		"Content-Type: text/html; charset=utf-8",
		"List-Unsubscribe: <https://example.net/u/" + g.token(20, alnum) + ">",
	}
	// Senders write these in their own order; only Return-Path comes first.
	g.rng.Shuffle(len(h)-1, func(i, j int) { h[i+1], h[j+1] = h[j+1], h[i+1] })
	return h
}

var subjects = []string{
	"Your weekly picks are here", "Last chance: 30% off everything", "What's new this month",
	"We miss you", "Tell us what you think", "Welcome aboard",
}

// fbl is a mailbox provider's feedback loop: who sends its reports.
type fbl struct {
	from, host, agent string
}

var fbls = map[string][]fbl{
	"google":    {{"\"Gmail Feedback Loop\" <fbl-noreply@google.com>", "mail-sor-f41.google.com", "Gmail-FBL"}},
	"yahoo":     {{"\"Yahoo! Mail AntiSpam Feedback\" <feedback@arf.mail.yahoo.com>", "feedback.yahoo.com", "Yahoo!-Mail-Feedback"}},
	"microsoft": {{"staff@hotmail.com", "jmrp.outlook.com", "Microsoft JMRP"}},
	"apple":     {{"<fbl@icloud.com>", "fbl.mail.icloud.com", "iCloud-FBL"}},
	"comcast":   {{"<feedbackloop@comcastfbl.senderscore.net>", "fbl.senderscore.net", "ReturnPathFBL"}},
}

// genericFBL serves providers without a loop of their own: a reputation
// service runs it for them.
var genericFBL = []fbl{
	{"\"Validity FBL\" <fbl@feedback.validity.example>", "fbl.validity.example", "ReturnPathFBL/2.0"},
	{"abuse@{domain}", "mx.{domain}", "Mail-FBL"},
}

// complaintMail is an ARF feedback report (RFC 5965) about the send sc,
// dated at.
func (g *generator) complaintMail(sc *sendCtx, at time.Time) []byte {
	loops := fbls[sc.r.dom.prov.name]
	if len(loops) == 0 {
		loops = genericFBL
	}
	f := loops[g.rng.IntN(len(loops))]
	from := strings.ReplaceAll(f.from, "{domain}", sc.r.aDomain)
	host := strings.ReplaceAll(f.host, "{domain}", sc.r.aDomain)
	b := g.boundary(host)
	arrival := g.mailDate(sc.sentAt)
	report := []string{
		"User-Agent: " + f.agent,
		"Version: 1",
		"Original-Mail-From: <bounces+" + sc.camp.name + "@mail.example.net>",
		"Original-Rcpt-To: <" + sc.wire + ">",
		"Arrival-Date: " + arrival,
		"Reporting-MTA: dns; " + host,
		"Source-IP: " + sc.ip,
		"Reported-Domain: mail.example.net",
	}
	// RFC 5965 puts Feedback-Type first; the rest comes in each loop's order.
	g.rng.Shuffle(len(report), func(i, j int) { report[i], report[j] = report[j], report[i] })
	report = append([]string{"Feedback-Type: abuse"}, report...)

	top := []string{
		"Date: " + g.mailDate(at),
		"From: " + from,
		"To: fbl@mail.example.net",
		"Subject: " + []string{"Abuse Report", "complaint about message from " + sc.ip, "Email Feedback Report for IP " + sc.ip}[g.rng.IntN(3)],
		"Message-ID: <" + g.uniqueID(func() string { return g.token(16, alnum) }) + "@" + host + ">",
		"MIME-Version: 1.0",
	}
	g.rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	lines := append([]string{"Return-Path: <>", "Received: from " + host + " by mx.mail.example.net with ESMTPS id " + g.token(10, "0123456789ABCDEF") + "; " + g.mailDate(at)}, top...)
	lines = append(lines,
		"Content-Type: multipart/report; report-type=feedback-report;",
		"\tboundary=\""+b+"\"",
		"",
		"This is a multi-part message in MIME format.",
		"",
		"--"+b,
		"Content-Type: text/plain; charset=\"US-ASCII\"",
		"Content-Transfer-Encoding: 7bit",
		"",
		"This is an email abuse report for an email message received from IP "+sc.ip+" on "+arrival+".",
		"For more information about this format please see http://www.mipassoc.org/arf/.",
		"",
		"--"+b,
		"Content-Type: message/feedback-report",
		"",
	)
	lines = append(lines, report...)
	lines = append(lines, "", "--"+b, "Content-Type: text/rfc822-headers", "")
	lines = append(lines, g.originalHeaders(sc)...)
	lines = append(lines, "", "--"+b+"--")
	return []byte(crlf(lines...))
}

// unknowns are the remote's words when a mailbox it had accepted mail for
// turns out not to exist: each unambiguous, each 5.1.1.
var unknowns = []string{
	"550 5.1.1 <{addr}>: Recipient address rejected: User unknown in local recipient table",
	"550 5.1.1 <{addr}>... User unknown",
	"550 5.1.1 {addr}: Mailbox does not exist",
	"550 5.1.1 <{addr}>: user does not exist",
}

// bouncers are the reporting MTAs of late bounces, in their DSN styles.
var bouncers = []struct {
	from, subject, intro string
	exim                 bool // Action before Final-Recipient, no Original-Recipient
}{
	{"Mail Delivery System <MAILER-DAEMON@{host}>", "Undelivered Mail Returned to Sender",
		"This is the mail system at host {host}.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients. It's attached below.", false},
	{"Mail Delivery System <Mailer-Daemon@{host}>", "Mail delivery failed: returning message to sender",
		"This message was created automatically by mail delivery software.\r\n\r\nA message that you sent could not be delivered to one or more of its\r\nrecipients. This is a permanent error.", true},
	{"Mail Delivery Subsystem <MAILER-DAEMON@{host}>", "Returned mail: see transcript for details",
		"The original message was received at {arrival}\r\nfrom mail.example.net [{ip}]\r\n\r\n   ----- The following addresses had permanent fatal errors -----", false},
}

// bounceMail is the remote's DSN (RFC 3464) for the send sc, which it had
// accepted, dated at: the mailbox behind its MX does not exist.
func (g *generator) bounceMail(sc *sendCtx, at time.Time) []byte {
	mx := "mx.mail.example.net"
	if p := sc.r.dom.prov; p.mx != "" {
		mx = strings.ReplaceAll(p.mx, "{domain}", sc.r.aDomain)
	}
	store := fmt.Sprintf("mailstore%d.%s", 1+g.rng.IntN(20), sc.r.aDomain)
	bo := bouncers[g.rng.IntN(len(bouncers))]
	diag := strings.ReplaceAll(unknowns[g.rng.IntN(len(unknowns))], "{addr}", sc.wire)
	arrival := g.mailDate(sc.sentAt)
	r := strings.NewReplacer("{host}", mx, "{arrival}", arrival, "{ip}", sc.ip)
	b := g.boundary(mx)

	block := []string{
		"Final-Recipient: rfc822; " + sc.wire,
		"Action: failed",
		"Status: 5.1.1",
		"Remote-MTA: dns; " + store,
		"Diagnostic-Code: smtp; " + diag,
	}
	switch {
	case bo.exim:
		block[0], block[1] = block[1], block[0]
	case g.rng.IntN(2) == 0:
		block = append(block[:1], append([]string{"Original-Recipient: rfc822;" + sc.wire}, block[1:]...)...)
	}
	if g.rng.IntN(2) == 0 {
		block = append(block, "Last-Attempt-Date: "+g.mailDate(at))
	}
	lines := []string{
		"Return-Path: <>",
		"Delivered-To: bounces+" + sc.camp.name + "@mail.example.net",
		"Received: by " + mx + " (Postfix) id " + g.token(10, "0123456789ABCDEF") + "; " + g.mailDate(at),
		"Date: " + g.mailDate(at),
		"From: " + r.Replace(bo.from),
		"Subject: " + bo.subject,
		"To: bounces+" + sc.camp.name + "@mail.example.net",
		"Auto-Submitted: auto-replied",
		"MIME-Version: 1.0",
		"Content-Type: multipart/report; report-type=delivery-status;",
		"\tboundary=\"" + b + "\"",
		"Message-ID: <" + g.uniqueID(func() string { return at.Format("20060102150405") + "." + g.token(11, "0123456789ABCDEF") }) + "@" + mx + ">",
		"",
		"This is a MIME-encapsulated message.",
		"",
		"--" + b,
		"Content-Description: Notification",
		"Content-Type: text/plain; charset=us-ascii",
		"",
		r.Replace(bo.intro),
		"",
		"<" + sc.wire + ">: host " + store + " said: " + diag,
		"",
		"--" + b,
		"Content-Description: Delivery report",
		"Content-Type: message/delivery-status",
		"",
		"Reporting-MTA: dns; " + mx,
		"Arrival-Date: " + arrival,
		"",
	}
	lines = append(lines, block...)
	lines = append(lines, "", "--"+b, "Content-Description: Undelivered Message Headers", "Content-Type: text/rfc822-headers", "")
	lines = append(lines, g.originalHeaders(sc)...)
	lines = append(lines, "", "--"+b+"--")
	return []byte(crlf(lines...))
}

// emitLate queues the mail that follows the delivered send sc (delivered
// at): a complaint hours later or a bounce minutes later. It goes on the
// recipient's MTA host, the Kafka key of its earlier records, so that it
// lands on their input partition after them.
func (g *generator) emitLate(sc *sendCtx, delivered time.Time, l late) {
	var (
		at    time.Time
		value []byte
		label event.Label
	)
	switch l {
	case lateComplaint:
		at = delivered.Add(time.Duration(1800+g.rng.IntN(30*3600)) * time.Second)
		value, label = g.complaintMail(sc, at), event.LabelComplaint
	case lateBounce:
		at = delivered.Add(time.Duration(120+g.rng.IntN(90*60)) * time.Second)
		value, label = g.bounceMail(sc, at), event.MailboxUnknown
	default:
		return
	}
	g.seq++
	g.out = append(g.out, pending{
		at: at, host: sc.r.host, seq: g.seq, value: value,
		meta: recordMeta{label: label, norm: sc.r.norm, send: sc.mid, at: at, mail: true},
	})
	o := event.Bounced
	if l == lateComplaint {
		o = event.Complaint
		g.complaints++
	}
	for _, t := range []struct {
		m map[string]Tally
		k string
	}{{g.truth.PerCampaign, sc.camp.name}, {g.truth.PerDomain, sc.r.aDomain}} {
		x := t.m[t.k]
		x.add(o)
		t.m[t.k] = x
	}
}
