package schemas

import _ "embed"

// Attempt is schemas/attempt.schema.json: the canonical event of SPEC §2.
//
//go:embed attempt.schema.json
var Attempt []byte

// Decision is schemas/decision.schema.json: the suppression record of SPEC §5.
//
//go:embed decision.schema.json
var Decision []byte
