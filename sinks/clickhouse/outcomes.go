package clickhouse

import (
	"github.com/bounced-dev/bounced/processor/event"
)

// hasOutcome reports whether an attempt is a step of its send and gets an
// outcomes row: deferred, delivered, bounced or expired, but neither a drop
// (it never left our MTA) nor a complaint or auto-reply (events about a
// delivered message, not attempts to deliver it).
func hasOutcome(a *event.Attempt) bool {
	switch a.Outcome {
	case event.Deferred, event.Delivered, event.Bounced, event.Expired:
	default:
		return false
	}
	if v := a.Verdict; v != nil && (v.Class == event.ClassComplaint || v.Class == event.ClassAutoReply) {
		return false
	}
	return true
}

// SendKey is the outcomes table's key of the send an attempt belongs to: the
// normalised recipient, '|', and event.Attempt.SendKey (message id, else host
// and queue id, else event id).
func SendKey(a *event.Attempt) string {
	recipient, _ := recipientOf(a)
	return recipient + "|" + a.SendKey()
}

// outcomeRank orders a send's states: a later state of a higher rank
// replaces a lower one whatever the times; among equal ranks the later
// attempt wins.
func outcomeRank(o event.Outcome) uint64 {
	switch o {
	case event.Deferred:
		return 1
	case event.Delivered:
		return 2
	default: // bounced, expired
		return 3
	}
}

// OutcomeVersion is the ReplacingMergeTree version of an outcomes row:
// the outcome's rank in bits 56-63, the attempt's Unix second in bits 24-55,
// and the low 24 bits of its offset to order attempts of the same second
// deterministically.
func OutcomeVersion(a *event.Attempt, offset int64) uint64 {
	secs := uint64(dateTime(a.OccurredAt).Unix()) & (1<<32 - 1)
	return outcomeRank(a.Outcome)<<56 | secs<<24 | uint64(offset)&(1<<24-1)
}
