// Package ingest is stage 1's record logic: it turns one raw input record
// into canonical attempt events (docs/formats.md), a counted skip (a record that is
// not a delivery attempt: a daemon notice, a queue-manager line), or a
// RecordError that says why it could not, so the engine can send the
// original bytes to the dead-letter topic.
//
// An Ingester is shared by every input partition; a Session is one input
// partition's decoder. raw unwraps the shipper envelope (Vector, Fluent Bit,
// Filebeat) and the syslog prefix and detects the format (or takes the one
// pinned by ingest.formats); the adapters (postfix, exim, pmta, kumo, esp)
// decode it. Adapters that must join several lines into one attempt keep
// their correlation state in the session (Postfix joins a message's from=,
// message-id= and status lines by queue id; Exim and PowerMTA keep arrivals
// and headers), so every record of a partition goes through its session in
// order; Snapshot and Restore let the engine keep that state across
// restarts. Then ingest validates the attempt (typed checks that mirror
// schemas/attempt.schema.json), normalises the recipient (NFC local part with ASCII letters lower-cased, IDNA
// A-label domain), derives a stable event_id when the producer left it out,
// attributes the campaign (ingest.campaign rules) and attaches the
// classifier's verdict. SMTP replies are parsed by package reply, the same
// way in every adapter and in the classifier.
package ingest
