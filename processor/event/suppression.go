package event

import "time"

// Status of a suppression record.
type Status string

// Suppression statuses (docs/suppressions.md). Held records await an operator's decision
// (incident guard); they are not yet enforced.
const (
	StatusSuppressed Status = "suppressed"
	StatusHeld       Status = "held"
)

// Origin says who made a suppression.
type Origin string

// Suppression origins.
const (
	OriginAuto     Origin = "auto"
	OriginOperator Origin = "operator"
)

// Suppression is the value of a record on the compacted suppressions topic,
// keyed by the normalised address (docs/suppressions.md, schemas/decision.schema.json).
// A lifted address is a tombstone, not a Suppression.
type Suppression struct {
	Address    string     `json:"address"`
	Status     Status     `json:"status"`
	Class      Class      `json:"class"`
	Label      Label      `json:"label"`
	Reason     string     `json:"reason"`
	Rule       string     `json:"rule"`
	Since      time.Time  `json:"since"`
	UpdatedAt  time.Time  `json:"updated_at"`
	Evidence   []Evidence `json:"evidence"`
	SoftStreak int        `json:"soft_streak"`
	Source     Origin     `json:"source"`
	// ExpiresAt, when set, is when the suppression ends by itself: the
	// time of the event that made it (or changed its reason) plus the
	// policy's expiry for its label (policy.expire.<label>). Event time,
	// not wall time, so a replay of the same events decides the same.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Evidence is one event that led to a suppression, kept so a user can see
// exactly why an address was suppressed.
type Evidence struct {
	At         time.Time `json:"at"`
	EventID    string    `json:"event_id,omitempty"`
	CampaignID string    `json:"campaign_id,omitempty"`
	MessageID  string    `json:"message_id,omitempty"`
	Outcome    Outcome   `json:"outcome,omitempty"`
	Code       int       `json:"code,omitempty"`
	Enhanced   string    `json:"enhanced,omitempty"`
	Text       string    `json:"text,omitempty"`
	Label      Label     `json:"label,omitempty"`
	Rule       string    `json:"rule,omitempty"`
}
