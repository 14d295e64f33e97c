// Package intake receives ESP webhooks over HTTP, checks that each one
// really comes from its provider, and hands the body, byte for byte, to a
// Producer (in bounced, the input topic). It decodes nothing else: stage 1
// reads the body as it reads the same provider's body from a log shipper.
//
// Routes are POST /v1/intake/{source} for ses, sendgrid, mailgun, postmark
// and postal. A source whose credential is not configured answers 404;
// a request that fails its check answers 401 (403 for an SNS topic not
// allowed, 406 for a Mailgun replay) and is never produced. A request is
// answered 200 only after Produce returned nil; a failed Produce answers
// 503 so the provider retries. Every request is counted in
// bounced_intake_total{source,result} (see Results).
//
// # Trust model
//
// What each check proves, and what it does not:
//
//   - ses: SNS signs each message with RSA (SignatureVersion 1: SHA-1,
//     2: SHA-256) under a certificate it serves from SigningCertURL. The
//     URL must be https on a host matching intake.ses.cert_host_pattern
//     (sns.<region>.amazonaws.com[.cn]), fetched without following
//     redirects, so the key is Amazon's as far as TLS to that host proves
//     it; the certificate's own chain is not checked. A valid signature
//     proves SNS sent the message, not whose topic it came from: any AWS
//     account can create a topic and subscribe this endpoint, hence
//     intake.ses.topic_arns, without which the endpoint is off. SNS messages carry no replay protection we
//     check (SNS itself retries); a replayed notification is a duplicate,
//     which stage 1's event ids absorb. Raw message delivery removes the
//     envelope and with it the signature, so it is refused.
//   - sendgrid: ECDSA P-256 over the timestamp header and the raw body,
//     under the key from SendGrid's settings. Proves SendGrid sent this
//     body at that time; a replay within intake.sendgrid.max_age is not
//     detected (again a duplicate downstream).
//   - mailgun: HMAC-SHA256 with the account's signing key over timestamp
//     and token only. It proves the sender knows the key, not that the
//     event data is Mailgun's: a captured request could be resent with
//     other event data, which is why each token is accepted once (within
//     intake.mailgun.max_age, in this process's memory, bounded).
//   - postmark: Postmark signs nothing. Basic-auth credentials in the
//     webhook URL, or a secret custom header, prove only that the sender
//     knows the secret; TLS is what keeps it secret.
//   - postal: RSA over the raw body with the Postal server's signing key
//     (X-Postal-Signature-256, SHA-256; older Postal only
//     X-Postal-Signature, SHA-1). Proves the Postal server sent this body;
//     no timestamp, so replays are not detected.
//
// Size (intake.max_body_bytes → 413) and rate (a token bucket per source,
// intake.rate and intake.burst → 429 with Retry-After) are checked before
// any signature, so a flood costs little. Bodies and secrets are never
// logged; a refusal logs the source, the result and a short reason.
package intake
