// Package ingest is stage 1's record logic: it turns one raw input record into
// canonical attempt events (SPEC §2) or a RecordError that says why it could
// not, so the pipeline can send the original bytes to the dead-letter topic.
//
// Ingest is stateless and pure apart from the classifier it is given: it
// decodes, validates against schemas/attempt.schema.json, normalises the
// recipient (lower case, IDNA A-label domain), derives a stable event_id when
// the producer left it out, and attaches the verdict.
package ingest
