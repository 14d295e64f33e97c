package schemas

import _ "embed"

// Attempt is schemas/attempt.schema.json: the canonical event of docs/formats.md.
//
//go:embed attempt.schema.json
var Attempt []byte

// Decision is schemas/decision.schema.json: the suppression record of docs/suppressions.md.
//
//go:embed decision.schema.json
var Decision []byte
