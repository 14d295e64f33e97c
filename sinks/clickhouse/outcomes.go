package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
)

// outcomeColumns is the explicit column list of the outcomes INSERT.
var outcomeColumns = []string{
	"send_key", "recipient", "recipient_domain", "campaign_id", "tenant", "message_id",
	"sent_at", "updated_at", "sending_ip", "pool", "outcome", "class", "label", "rule", "version",
	"d_delivered", "d_bounced", "d_hard", "d_soft", "d_block",
	"src_topic", "src_partition", "src_offset",
}

var insertOutcomes = "INSERT INTO outcomes (" + strings.Join(outcomeColumns, ", ") + ")"

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

func (c *Client) sendOutcomes(ctx context.Context, rows []AttemptRow) (err error) {
	batch, err := c.conn.PrepareBatch(ctx, insertOutcomes)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() {
		if !batch.IsSent() {
			err = errors.Join(err, batch.Abort())
		}
	}()
	for _, r := range rows {
		a := r.Attempt
		var class, label, rule string
		if v := a.Verdict; v != nil {
			class, label, rule = string(v.Class), string(v.Label), v.Rule
		}
		var hard, soft, block int8
		if r.SendBounced != 0 {
			switch event.Class(class) {
			case event.ClassHard:
				hard = r.SendBounced
			case event.ClassSoft:
				soft = r.SendBounced
			case event.ClassBlock:
				block = r.SendBounced
			}
		}
		recipient, domain := recipientOf(a)
		if err := batch.Append(
			recipient+"|"+a.SendKey(), recipient, domain, a.CampaignID, a.Tenant, a.MessageID,
			dateTime(a.SendTime()), dateTime(a.OccurredAt), a.SendingIP, a.Pool, string(a.Outcome), class, label, rule,
			OutcomeVersion(a, r.Offset),
			r.SendDelivered, r.SendBounced, hard, soft, block,
			r.Topic, r.Partition, r.Offset,
		); err != nil {
			return fmt.Errorf("append offset %d: %w", r.Offset, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
