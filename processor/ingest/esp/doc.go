// Package esp turns the webhook bodies of email service providers (Amazon
// SES, SendGrid, Mailgun, Postmark, and the open-source Postal server) into
// canonical delivery attempts (docs/formats.md, research/formats.md §6).
//
// Each provider has its own Decoder (SES, SendGrid, Mailgun, Postmark,
// Postal), built from one shared Config. A body yields zero or more
// attempts: an SES bounce names several recipients, a SendGrid body is a
// batch of events. A body that
// is valid but says nothing about delivery (opens, clicks, SNS subscription
// handshakes) yields a skip reason such as "sendgrid.open", so the pipeline
// can count it; a body that cannot be read yields a *raw.Error whose reason
// starts with the provider's kind ("ses.malformed_json").
//
// What the decoders decide and what they leave to the classifier:
//
//   - Outcome is what the provider did: delivered, deferred (it will retry),
//     bounced (it gave up), expired, or dropped (it refused to send because
//     of its own suppression list). Dropped events carry no SMTP reply and no
//     diagnostic, only metadata, so the classifier's "upstream suppression"
//     verdict cannot be overridden by a text rule: docs/classification.md says such events
//     are not new evidence about the address.
//   - A spam complaint (SES Complaint, SendGrid spamreport, Mailgun
//     complained, Postmark SpamComplaint) has outcome complaint: a report
//     about a message that did arrive, never an attempt or a delivery in the
//     counts (docs/formats.md). Its SourceClassification is kept as evidence, and
//     the classifier reads it as a complaint. SES's OnAccountSuppressionList
//     "complaint" is an upstream suppression (dropped), and a not-spam
//     feedback report is skipped.
//   - The provider's own verdict (SES bounceType/bounceSubType, SendGrid
//     type, Mailgun severity/reason, Postmark Type, Postal status) is kept in
//     SourceClassification as evidence, never as the answer.
//   - Provider prose that describes a bounce type rather than this bounce
//     (Postmark's Description) is kept out of the text the classifier reads:
//     "ex: unknown user" would otherwise make every HardBounce look like an
//     unknown mailbox.
//
// The decoders are stateless and safe for concurrent use. They never set
// RecipientNorm, RecipientDomain or Verdict: ingest derives those.
package esp
