package streak

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
)

// maxSeen bounds the duplicate guard's list per recipient: a recipient
// mailed more often than this within Policy.DuplicateWindow keeps only its
// newest maxSeen event ids, so a hot address cannot grow without bound.
const maxSeen = 32

// recentSends is how many ended sends per recipient State remembers. A late
// (asynchronous) bounce arrives minutes to days after its delivery; three
// sends cover a recipient mailed by three campaigns in that time.
const recentSends = 3

// State is everything bounced knows about one recipient. It is stored
// absolute (never as a delta) in the compacted changelog, so a restore is a
// plain read and replays can be recognised by LastOff.
type State struct {
	// LastOff is the input offset of the last event applied; an event at or
	// below it is a replay after a crash and is skipped.
	LastOff int64 `json:"off"`
	// Seen is the duplicate guard's memory: the event ids applied within
	// Policy.DuplicateWindow of the newest one (at most maxSeen), oldest
	// first. Apply never changes a Seen it was given; it makes a new one.
	Seen []Seen `json:"seen,omitempty"`
	// LastDelivery is the newest delivery seen (Unix nanoseconds).
	LastDelivery int64 `json:"delivered,omitempty"`
	// Sends holds the latest ended sends, newest first: the send key's hash
	// with its lowest bit set when the send bounced, clear when it was
	// delivered. It makes the send counts exact (SendDelta): a send is
	// counted once, and a late bounce moves a delivered send to bounced.
	Sends [recentSends]uint64 `json:"sends,omitzero"`
	// Streak lists the failed sends of the current soft streak, oldest first.
	Streak []Fail `json:"streak,omitempty"`
	// Mark says the address is suppressed, and how; nil when it is not.
	// The full record (reason, evidence) lives in the suppressions topic:
	// the fold needs only what decides upgrades, so state stays small.
	Mark *Mark `json:"record,omitempty"`
}

// Mark is what the fold keeps of a suppression. Its JSON names are those of
// event.Suppression, so changelog records that carried the whole record
// still decode.
type Mark struct {
	Status event.Status `json:"status"`
	Class  event.Class  `json:"class"`
	Label  event.Label  `json:"label"`
	Source event.Origin `json:"source"`
	Since  time.Time    `json:"since"`
	// ExpiresAt is the record's expires_at: an expire command ends the
	// suppression only while it still carries the same one.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Held is the whole record while the incident guard holds it, so that
	// an operator's release can publish it unchanged but enforced.
	Held *event.Suppression `json:"held,omitempty"`
}

func markOf(r *event.Suppression) *Mark {
	// Since in UTC: a state that went through the changelog must publish
	// byte-identical records to one that did not.
	return &Mark{Status: r.Status, Class: r.Class, Label: r.Label, Source: r.Source, Since: r.Since.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

// Fail is one failed send in a soft streak.
type Fail struct {
	Send     uint64         `json:"send"` // hash of the send key (message × recipient)
	At       int64          `json:"at"`   // Unix nanoseconds of the send's first soft failure
	Evidence event.Evidence `json:"ev"`
}

// New returns the state of a recipient never seen before.
func New() State { return State{LastOff: -1} }

// Result tells the caller what an event did.
type Result struct {
	// Replay: the offset was applied before a crash; nothing happened.
	Replay bool
	// Duplicate: the event id was seen already; only LastOff moved.
	Duplicate bool
	// Publish: the suppression record changed; Record is the new value, nil
	// for a tombstone (the address was lifted).
	Publish bool
	Record  *event.Suppression
	// Send is what the event changes in the send counts.
	Send SendDelta
	// Why says, for a tombstone that is not an operator's lift, why the
	// suppression ended ("expired after 90d: mailbox_full"), for logs and
	// timelines: a tombstone itself carries no value.
	Why string
}

// SendDelta is what one event changes in the count of ended sends (docs/clickhouse.md
// outcomes: rates count sends, not attempts). A send ends when it is
// delivered, bounced or expired; deferrals end nothing. Delivered is +1 for
// a first delivery, -1 when a late bounce withdraws it; Bounced is +1 when
// a send ends in failure, with the event's class.
type SendDelta struct {
	Delivered int8
	Bounced   int8
}

// endSend updates s.Sends for an event that ends its send (delivered or
// failed) and returns the change to the send counts. A repeated ending of
// the same kind changes nothing; a failure after a delivery is a late
// bounce; a delivery after a failure (out of order) changes nothing.
func endSend(s *State, key string, failed bool) SendDelta {
	h := xxhash.Sum64String(key) &^ 1
	mark := h
	if failed {
		mark |= 1
	}
	for i, v := range s.Sends {
		if v&^1 != h || v == 0 {
			continue
		}
		if v&1 == 1 || !failed {
			return SendDelta{} // already ended this way, or bounced before
		}
		s.Sends[i] = mark
		return SendDelta{Delivered: -1, Bounced: 1}
	}
	copy(s.Sends[1:], s.Sends[:recentSends-1])
	s.Sends[0] = mark
	if failed {
		return SendDelta{Bounced: 1}
	}
	return SendDelta{Delivered: 1}
}

// Apply folds one event at input offset off into s. It is deterministic:
// every time it needs comes from the event. off < 0 disables the replay
// guard (for callers outside Kafka). Apply takes ownership of s.
func Apply(p Policy, s State, a *event.Attempt, off int64) (State, Result) {
	if p.SoftThreshold == 0 || p.SoftWindow == 0 || p.Evidence == 0 || p.DuplicateWindow == 0 {
		p = p.WithDefaults()
	}
	if off >= 0 && off <= s.LastOff {
		return s, Result{Replay: true}
	}
	if off >= 0 {
		s.LastOff = off
	}
	if a.EventID != "" {
		id := SeenOf(a.EventID, a.OccurredAt)
		if slices.ContainsFunc(s.Seen, id.same) {
			return s, Result{Duplicate: true}
		}
		s.Seen = remember(s.Seen, id, p.duplicateHours())
	}
	v, ok := VerdictOf(a)
	if !ok {
		return s, Result{}
	}
	at := a.OccurredAt.UnixNano()
	var delta SendDelta
	switch {
	case a.Outcome == event.Complaint:
		// A spam report is about a delivered message, not an attempt of
		// it: it ends no send, and its send's delivery stays counted.
	case v.Class == event.ClassDelivered:
		delta = endSend(&s, a.SendKey(), false)
	case v.Class == event.ClassComplaint || v.Class == event.ClassAutoReply:
	case a.Outcome == event.Bounced || a.Outcome == event.Expired:
		delta = endSend(&s, a.SendKey(), true)
	}
	s, res := apply(p, s, a, v, at)
	res.Send = delta
	return s, res
}

// VerdictOf returns the verdict Apply folds for a, and false when a has
// none. It is a's own, except that an attempt whose outcome is complaint is
// a complaint whatever verdict it carries: stage 1 always gives it the
// classifier's outcome.complaint, but an outside producer writing to the
// attempts topic may not, and a spam report must never count as a
// delivery, reset a streak or suppress as a bounce.
func VerdictOf(a *event.Attempt) (event.Verdict, bool) {
	if a.Outcome == event.Complaint {
		if v := a.Verdict; v != nil && v.Class == event.ClassComplaint {
			return *v, true
		}
		return event.NewVerdict(event.LabelComplaint, classify.RuleOutcomeComplaint), true
	}
	if a.Verdict == nil {
		return event.Verdict{}, false
	}
	return *a.Verdict, true
}

// apply is Apply's suppression logic for a new event with a verdict.
func apply(p Policy, s State, a *event.Attempt, v event.Verdict, at int64) (State, Result) {
	if v.Class == event.ClassDelivered {
		s.LastDelivery = max(s.LastDelivery, at)
		send := xxhash.Sum64String(a.SendKey())
		// A delivery resets the streak: every failure before it, and the
		// failed count of this very send whenever it was recorded.
		s.Streak = slices.DeleteFunc(s.Streak, func(f Fail) bool { return f.At <= at || f.Send == send })
		if len(s.Streak) == 0 {
			s.Streak = nil
		}
		return s, Result{}
	}
	switch p.Action(v) {
	case Suppress:
		if s.Mark != nil && !upgrades(s.Mark, v) {
			return s, Result{}
		}
		return suppress(p, s, a, v, v.Class, 0, evidence(a, v))
	case Count:
		if s.Mark != nil || at < s.LastDelivery {
			// Already suppressed, or a delivery came after this failure.
			return s, Result{}
		}
		send := xxhash.Sum64String(a.SendKey())
		if slices.ContainsFunc(s.Streak, func(f Fail) bool { return f.Send == send }) {
			return s, Result{} // a retry of a send already counted
		}
		s.Streak = append(s.Streak, Fail{Send: send, At: at, Evidence: evidence(a, v)})
		slices.SortStableFunc(s.Streak, func(x, y Fail) int { return cmp.Compare(x.At, y.At) })
		cut := s.Streak[len(s.Streak)-1].At - int64(p.SoftWindow)
		s.Streak = slices.DeleteFunc(s.Streak, func(f Fail) bool { return f.At < cut })
		if len(s.Streak) < p.SoftThreshold {
			return s, Result{}
		}
		return suppress(p, s, a, v, event.ClassSoft, len(s.Streak), event.Evidence{})
	}
	return s, Result{}
}

// suppress makes a the event that suppresses the address. streak is the
// soft streak that completed (0 for a hard verdict); last is evidence to
// add after the streak's own.
func suppress(p Policy, s State, a *event.Attempt, v event.Verdict, class event.Class, streak int, last event.Evidence) (State, Result) {
	rec := &event.Suppression{
		Address:    a.RecipientNorm,
		Status:     event.StatusSuppressed,
		Class:      class,
		Label:      v.Label,
		Reason:     reasonFor(v, a, streak, p),
		Rule:       v.Rule,
		Since:      a.OccurredAt,
		UpdatedAt:  a.OccurredAt,
		Evidence:   trail(s, last, p.Evidence),
		SoftStreak: len(s.Streak),
		Source:     event.OriginAuto,
		// A new reason starts its label's expiry afresh.
		ExpiresAt: p.expiry(v.Label, a.OccurredAt),
	}
	if s.Mark != nil {
		rec.Since = s.Mark.Since // an upgrade keeps the original date
	}
	s.Mark, s.Streak = markOf(rec), nil
	return s, Result{Publish: true, Record: rec}
}

// upgrades reports whether a hard or complaint verdict should replace the
// reason of an existing suppression: a soft-streak suppression becomes a
// hard one when the mailbox is later reported gone; other reasons stay.
func upgrades(r *Mark, v event.Verdict) bool {
	return r.Source == event.OriginAuto && r.Class == event.ClassSoft && v.Class != event.ClassSoft
}

func evidence(a *event.Attempt, v event.Verdict) event.Evidence {
	text := a.SMTP.Text
	if text == "" {
		text = a.Diagnostic
	}
	const maxText = 300
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	return event.Evidence{
		At: a.OccurredAt, EventID: a.EventID, CampaignID: a.CampaignID, MessageID: a.MessageID,
		Outcome: a.Outcome, Code: a.SMTP.Code, Enhanced: a.SMTP.Enhanced, Text: text,
		Label: v.Label, Rule: v.Rule,
	}
}

// trail lists the streak's evidence followed by last, keeping the newest n.
func trail(s State, last event.Evidence, n int) []event.Evidence {
	out := make([]event.Evidence, 0, len(s.Streak)+1)
	for _, f := range s.Streak {
		out = append(out, f.Evidence)
	}
	if !last.At.IsZero() {
		out = append(out, last)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// reasonFor writes the one human sentence docs/suppressions.md asks for.
func reasonFor(v event.Verdict, a *event.Attempt, streak int, p Policy) string {
	reply := ""
	switch {
	case a.SMTP.Code != 0 && a.SMTP.Enhanced != "":
		reply = fmt.Sprintf(" (%d %s)", a.SMTP.Code, a.SMTP.Enhanced)
	case a.SMTP.Code != 0:
		reply = fmt.Sprintf(" (%d)", a.SMTP.Code)
	case a.SMTP.Enhanced != "":
		reply = fmt.Sprintf(" (%s)", a.SMTP.Enhanced)
	}
	when := a.OccurredAt.UTC().Format(time.RFC3339)
	if streak > 0 {
		return fmt.Sprintf("%d consecutive sends failed within %s; the last failed at %s: %s%s [rule %s].",
			streak, window(p.SoftWindow), when, describe(v.Label), reply, v.Rule)
	}
	if v.Class == event.ClassComplaint {
		return fmt.Sprintf("The recipient reported a message as spam at %s [rule %s].", when, v.Rule)
	}
	return fmt.Sprintf("Hard bounce at %s: %s%s [rule %s].", when, describe(v.Label), reply, v.Rule)
}

func window(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func describe(l event.Label) string {
	switch l {
	case event.MailboxUnknown:
		return "the mailbox does not exist"
	case event.MailboxInactive:
		return "the mailbox is disabled or inactive"
	case event.MailboxMoved:
		return "the mailbox has moved"
	case event.DomainUnknown:
		return "the recipient domain does not exist or accepts no mail"
	case event.Suppressed:
		return "an upstream provider suppresses the address"
	case event.MailboxFull:
		return "the mailbox is full"
	case event.RecipientFiltered:
		return "the recipient's own filter refused the message"
	case event.NetworkError:
		return "the recipient's servers could not be reached"
	case event.RemoteSystemError:
		return "the recipient's mail system failed"
	case event.LabelExpired:
		return "the message expired in the queue"
	case event.Unknown:
		return "an unclassified failure"
	}
	return string(l)
}
