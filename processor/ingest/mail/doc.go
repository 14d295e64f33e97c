// Package mail decodes bounce mails and complaint reports, whole RFC 5322
// messages as `bounced mail` produces them, into canonical attempts
// (docs/formats.md). The decoder keeps no state.
//
// What a message becomes, tried in this order:
//
//   - A feedback report (multipart/report; report-type=feedback-report,
//     RFC 5965 ARF; also Microsoft's older JMRP layout, the original
//     attached with X-HmXmrOriginalRecipient): one attempt per complaining
//     recipient, outcome complaint, source classification
//     {scheme "arf", value <Feedback-Type>}. Feedback types abuse, fraud,
//     virus, other, opt-out, and any type this package does not know
//     (RFC 5965 §7.3 reads those as "other") are complaints. not-spam
//     (RFC 6430) is skipped as mail.not_spam_report: a recipient taking
//     back a spam verdict is nothing to suppress. auth-failure (RFC 6591)
//     is skipped as mail.auth_failure_report: a DMARC failure report is
//     about a message's authentication, not a recipient's opinion. The
//     recipient is Original-Rcpt-To; when a provider redacts it (Yahoo,
//     Microsoft), the original's X-HmXmrOriginalRecipient, the VERP of its
//     Return-Path, or its To header when that names exactly one mailbox.
//     occurred_at is the report's Date (when the recipient complained);
//     sent_at its Arrival-Date.
//   - A DSN (a message/delivery-status, text/delivery-status or
//     message/global-delivery-status part, RFC 3464 / RFC 6533): one
//     attempt per per-recipient block whose Action is failed (bounced; with
//     a 4.x.x Status and no 5xx reply, expired: the MTA gave up retrying),
//     delayed (deferred) or SendGrid's expired. delivered is skipped as
//     mail.delivery_report_delivered and relayed/expanded as
//     mail.delivery_report_relayed: the sending MTA's own log is the
//     record of a delivery, and a success DSN would count it twice. The
//     recipient is Final-Recipient (type rfc822, utf-8 or unknown), else
//     Original-Recipient, else the VERP envelope. Status is
//     smtp.enhanced; Diagnostic-Code gives smtp.code and smtp.text (and
//     the enhanced code when Status is absent); Remote-MTA is
//     smtp.remote_host; Reporting-MTA is source.host. occurred_at is
//     Last-Attempt-Date, else the bounce's Date, else Arrival-Date, else
//     the record's receive time: Arrival-Date is when the original was
//     queued, days before a bounce after retries, so it is sent_at. When
//     a block has no Diagnostic-Code, the human-readable part is the
//     diagnostic.
//   - A non-standard bounce, recognised by its wording: qmail, Postfix's
//     own text, Sendmail (fatal-errors list, session transcript), Exim and
//     GMX, Exchange 2003/2007 and Office 365 NDRs, Gmail, Yahoo, OpenSMTPD,
//     DragonFly, Amazon WorkMail, Mimecast, Lotus Notes. The recipient
//     comes from the layout's list of addresses, the reason from the lines
//     that follow it and from the technical sections (transcript, "The
//     error that the other server returned was:", Exchange's section for
//     administrators); reply codes found in them become smtp.code and
//     smtp.enhanced. Delay notices ("THIS IS A WARNING ONLY") are
//     deferred.
//   - An auto-reply (Auto-Submitted: auto-replied, X-Autoreply,
//     X-Autorespond, Precedence: auto_reply, an out-of-office subject):
//     skipped as mail.auto_reply.
//   - A message whose headers say it is a bounce (From MAILER-DAEMON or
//     postmaster, a bounce subject) but whose recipient cannot be read is
//     refused as mail.no_recipient (the DLQ) rather than guessed at; any
//     other message is skipped as mail.not_a_bounce.
//
// The original message's header (message/rfc822, text/rfc822-headers,
// message/global-headers, or the copy after a text bounce's "below this
// line" marker) gives message_id, sender (Return-Path, else From) and
// sent_at (its Date), and each field as metadata "header.<lower-case
// name>" (the first of each name, trace and signature fields left out, at
// most ingest.mail.max_headers) where ingest's campaign rules find
// X-Campaign-ID and the like.
//
// VERP: ingest.mail.verp is a regular expression with the named groups
// local and domain, matched against the original's Return-Path and the
// bounce's Delivered-To, X-Original-To, Envelope-To and To. The default,
// DefaultVERP, reads "prefix+local=domain@host" (bounces+jane=example.org@
// mail.sender.example is jane@example.org); "off" disables it. It supplies
// the recipient when the report names none; when it disagrees with the
// report's recipient (forwarding, aliases) it is kept as metadata
// "mail.verp_recipient" and the report's address stays the recipient.
//
// Texts go through reply.Clean and reply.Clip. Parts may be base64 or
// quoted-printable, in any charset golang.org/x/text knows; header words
// may be RFC 2047 encoded. Hostile structure is refused with a reason:
// more parts than max_parts (mail.too_many_parts), deeper nesting than
// max_depth (mail.too_deep), more recipients than max_recipients
// (mail.too_many_recipients), a header block longer than
// max_header_bytes (mail.header_too_large).
//
// Every attempt's event id is event.NaturalID("mail", <the bounce's
// Message-ID, or a hash of the whole message>, recipient, outcome,
// status, action), so the same mail produced twice dedupes.
package mail
