package clickhouse

import (
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

// An INSERT is built column by column: each table has a buffer of typed
// slices, one per column, filled row by row in Go and handed to the driver
// with one Append per column. The buffers are reused from one INSERT to the
// next (their capacity stays), so a row costs no allocation of ours; the
// driver copies the values into its own block.

// column is one column's values for the next INSERT.
type column interface {
	// appendTo hands the values to the batch's column.
	appendTo(driver.BatchColumn) error
	// reset empties the column, keeping its capacity, and drops its
	// references to the rows' strings.
	reset()
}

// namedColumn is a column with its name in the table.
type namedColumn struct {
	name string
	col  column
}

// vals is a column of a plain type: String, DateTime (time.Time), the
// integer and float types, and Enum8 by name (string).
type vals[T any] []T

func (v *vals[T]) add(x T) { *v = append(*v, x) }

func (v *vals[T]) appendTo(c driver.BatchColumn) error { return c.Append([]T(*v)) }

func (v *vals[T]) reset() {
	clear(*v)
	*v = (*v)[:0]
}

// lowCard is a LowCardinality(String) column. The driver takes its values
// one by one as interface values, and boxing a string allocates; the boxed
// values are therefore kept per distinct string (few, by definition) and
// reused across INSERTs.
type lowCard struct {
	vals []any
	seen map[string]any
}

// maxInterned bounds a lowCard's cache: past it (a column that is not so
// low-cardinality after all) the cache starts over.
const maxInterned = 1 << 14

func (c *lowCard) add(s string) {
	v, ok := c.seen[s]
	if !ok {
		if c.seen == nil {
			c.seen = make(map[string]any)
		} else if len(c.seen) >= maxInterned {
			clear(c.seen)
		}
		s = strings.Clone(s) // never pin a larger buffer the string points into
		v = s
		c.seen[s] = v
	}
	c.vals = append(c.vals, v)
}

func (c *lowCard) appendTo(bc driver.BatchColumn) error { return bc.Append(c.vals) }

func (c *lowCard) reset() {
	clear(c.vals)
	c.vals = c.vals[:0]
}

// rowBuf is one table's column buffer.
type rowBuf interface {
	// grow makes room for n more rows.
	grow(n int)
	// add appends a row.
	add(r *AttemptRow)
	// finish completes the columns after the last add.
	finish()
	// columns lists the columns in the INSERT's order.
	columns() []namedColumn
	// reset empties the buffer for the next INSERT, keeping its capacity.
	reset()
}

func resetColumns(cols []namedColumn) {
	for _, c := range cols {
		c.col.reset()
	}
}

// insertSQL is the INSERT statement of a table with b's columns: an explicit
// column list (18.16 needs one for a batch INSERT; it also leaves columns
// with a DEFAULT to it).
func insertSQL(table string, b rowBuf) string {
	cols := b.columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ")"
}

// attemptBuf holds the columns of an attempts INSERT.
type attemptBuf struct {
	eventID, recipient, sender, messageID, queueID, diagnostic    vals[string]
	occurredAt, sentAt                                            vals[time.Time]
	domain, campaign, tenant, ip, pool, sourceKind, sourceHost    lowCard
	enhanced, command, remoteHost, class, label, scope, rule, top lowCard
	srcScheme, srcValue, srcClass, srcLabel                       lowCard
	outcome                                                       vals[string]
	attempt, code                                                 vals[uint16]
	local                                                         vals[uint8]
	delay                                                         vals[float64]
	partition                                                     vals[int32]
	offset                                                        vals[int64]
}

func (b *attemptBuf) columns() []namedColumn {
	return []namedColumn{
		{"event_id", &b.eventID}, {"occurred_at", &b.occurredAt}, {"sent_at", &b.sentAt},
		{"recipient", &b.recipient}, {"recipient_domain", &b.domain}, {"campaign_id", &b.campaign},
		{"tenant", &b.tenant}, {"sender", &b.sender}, {"message_id", &b.messageID}, {"queue_id", &b.queueID},
		{"sending_ip", &b.ip}, {"pool", &b.pool}, {"source_kind", &b.sourceKind}, {"source_host", &b.sourceHost},
		{"outcome", &b.outcome}, {"attempt", &b.attempt}, {"smtp_code", &b.code}, {"smtp_enhanced", &b.enhanced},
		{"smtp_command", &b.command}, {"remote_host", &b.remoteHost}, {"diagnostic", &b.diagnostic},
		{"class", &b.class}, {"label", &b.label}, {"scope", &b.scope}, {"rule", &b.rule},
		{"source_scheme", &b.srcScheme}, {"source_value", &b.srcValue}, {"source_class", &b.srcClass}, {"source_label", &b.srcLabel},
		{"local", &b.local},
		{"delay_seconds", &b.delay},
		{"src_topic", &b.top}, {"src_partition", &b.partition}, {"src_offset", &b.offset},
	}
}

func (b *attemptBuf) finish() {}

func (b *attemptBuf) reset() { resetColumns(b.columns()) }

func (b *attemptBuf) grow(n int) {
	growVals(n, &b.eventID, &b.recipient, &b.sender, &b.messageID, &b.queueID, &b.diagnostic, &b.outcome)
	growVals(n, &b.occurredAt, &b.sentAt)
	growVals(n, &b.attempt, &b.code)
	growVals(n, &b.local)
	growVals(n, &b.delay)
	growVals(n, &b.partition)
	growVals(n, &b.offset)
	growLowCard(n, &b.domain, &b.campaign, &b.tenant, &b.ip, &b.pool, &b.sourceKind, &b.sourceHost,
		&b.enhanced, &b.command, &b.remoteHost, &b.class, &b.label, &b.scope, &b.rule, &b.top,
		&b.srcScheme, &b.srcValue, &b.srcClass, &b.srcLabel)
}

func (b *attemptBuf) add(r *AttemptRow) {
	a := r.Attempt
	var class, label, scope, rule string
	var local uint8
	// streak.VerdictOf: a spam report (outcome complaint) is stored as class
	// complaint whatever verdict it came with, so the rollups, which count
	// class complaint as a complaint and never as an attempt or a
	// delivery, cannot count it as anything else.
	if v, ok := streak.VerdictOf(a); ok {
		class, label, scope, rule = string(v.Class), string(v.Label), string(v.Scope), v.Rule
		if v.Local {
			local = 1
		}
	}
	recipient, domain := recipientOf(a)
	diagnostic := a.SMTP.Text
	if diagnostic == "" {
		diagnostic = a.Diagnostic
	}
	b.eventID.add(a.EventID)
	b.occurredAt.add(dateTime(a.OccurredAt))
	b.sentAt.add(dateTime(a.SendTime()))
	b.recipient.add(recipient)
	b.domain.add(domain)
	b.campaign.add(a.CampaignID)
	b.tenant.add(a.Tenant)
	b.sender.add(a.Sender)
	b.messageID.add(a.MessageID)
	b.queueID.add(a.QueueID)
	b.ip.add(a.SendingIP)
	b.pool.add(a.Pool)
	b.sourceKind.add(a.Source.Kind)
	b.sourceHost.add(a.Source.Host)
	b.outcome.add(string(a.Outcome))
	b.attempt.add(clampU16(a.Attempt))
	b.code.add(clampU16(a.SMTP.Code))
	b.enhanced.add(a.SMTP.Enhanced)
	b.command.add(a.SMTP.Command)
	b.remoteHost.add(a.SMTP.RemoteHost)
	b.diagnostic.add(diagnostic)
	b.class.add(class)
	b.label.add(label)
	b.scope.add(scope)
	b.rule.add(rule)
	b.addSource(a.SourceClassification)
	b.local.add(local)
	b.delay.add(finite(a.DelaySeconds))
	b.top.add(r.Topic)
	b.partition.add(r.Partition)
	b.offset.add(r.Offset)
}

// outcomeBuf holds the columns of an outcomes INSERT.
type outcomeBuf struct {
	// keys holds the send keys back to back, ends where each one ends: they
	// become one string and the send_key column slices of it (one
	// allocation per INSERT instead of one per row).
	keys                                       []byte
	ends                                       []int
	sendKey, recipient, messageID              vals[string]
	domain, campaign, tenant, ip, pool         lowCard
	class, label, rule, top                    lowCard
	sentAt, updatedAt                          vals[time.Time]
	outcome                                    vals[string]
	version                                    vals[uint64]
	dDelivered, dBounced, dHard, dSoft, dBlock vals[int8]
	partition                                  vals[int32]
	offset                                     vals[int64]
}

// finish turns the send key bytes into the send_key column.
func (b *outcomeBuf) finish() {
	all := string(b.keys)
	start := 0
	if n := len(b.sendKey); n > 0 {
		start = b.ends[n-1]
	}
	for _, end := range b.ends[len(b.sendKey):] {
		b.sendKey.add(all[start:end])
		start = end
	}
}

func (b *outcomeBuf) reset() {
	resetColumns(b.columns())
	b.keys, b.ends = b.keys[:0], b.ends[:0]
}

func (b *outcomeBuf) columns() []namedColumn {
	return []namedColumn{
		{"send_key", &b.sendKey}, {"recipient", &b.recipient}, {"recipient_domain", &b.domain},
		{"campaign_id", &b.campaign}, {"tenant", &b.tenant}, {"message_id", &b.messageID},
		{"sent_at", &b.sentAt}, {"updated_at", &b.updatedAt}, {"sending_ip", &b.ip}, {"pool", &b.pool},
		{"outcome", &b.outcome}, {"class", &b.class}, {"label", &b.label}, {"rule", &b.rule},
		{"version", &b.version},
		{"d_delivered", &b.dDelivered}, {"d_bounced", &b.dBounced}, {"d_hard", &b.dHard}, {"d_soft", &b.dSoft}, {"d_block", &b.dBlock},
		{"src_topic", &b.top}, {"src_partition", &b.partition}, {"src_offset", &b.offset},
	}
}

func (b *outcomeBuf) grow(n int) {
	growVals(n, &b.sendKey, &b.recipient, &b.messageID, &b.outcome)
	growVals(n, &b.sentAt, &b.updatedAt)
	growVals(n, &b.version)
	growVals(n, &b.dDelivered, &b.dBounced, &b.dHard, &b.dSoft, &b.dBlock)
	growVals(n, &b.partition)
	growVals(n, &b.offset)
	b.ends = slices.Grow(b.ends, n)
	growLowCard(n, &b.domain, &b.campaign, &b.tenant, &b.ip, &b.pool, &b.class, &b.label, &b.rule, &b.top)
}

func (b *outcomeBuf) add(r *AttemptRow) {
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
	b.keys = appendSendKey(append(append(b.keys, recipient...), '|'), a)
	b.ends = append(b.ends, len(b.keys))
	b.recipient.add(recipient)
	b.domain.add(domain)
	b.campaign.add(a.CampaignID)
	b.tenant.add(a.Tenant)
	b.messageID.add(a.MessageID)
	b.sentAt.add(dateTime(a.SendTime()))
	b.updatedAt.add(dateTime(a.OccurredAt))
	b.ip.add(a.SendingIP)
	b.pool.add(a.Pool)
	b.outcome.add(string(a.Outcome))
	b.class.add(class)
	b.label.add(label)
	b.rule.add(rule)
	b.version.add(OutcomeVersion(a, r.Offset))
	b.dDelivered.add(r.SendDelivered)
	b.dBounced.add(r.SendBounced)
	b.dHard.add(hard)
	b.dSoft.add(soft)
	b.dBlock.add(block)
	b.top.add(r.Topic)
	b.partition.add(r.Partition)
	b.offset.add(r.Offset)
}

func growVals[T any](n int, vs ...*vals[T]) {
	for _, v := range vs {
		*v = slices.Grow(*v, n)
	}
}

func growLowCard(n int, cs ...*lowCard) {
	for _, c := range cs {
		c.vals = slices.Grow(c.vals, n)
	}
}

// appendSendKey appends a.SendKey() to dst without building the string.
func appendSendKey(dst []byte, a *event.Attempt) []byte {
	switch {
	case a.MessageID != "":
		return append(append(dst, "m:"...), a.MessageID...)
	case a.QueueID != "":
		return append(append(append(append(dst, "q:"...), a.Source.Host...), ':'), a.QueueID...)
	default:
		return append(append(dst, "e:"...), a.EventID...)
	}
}

// addSource fills the source-classification columns: the source's own
// verdict and its reading in bounced's taxonomy.
func (b *attemptBuf) addSource(sc *event.SourceClassification) {
	var scheme, value, class, label string
	if sc != nil {
		scheme, value = sc.Scheme, sc.Value
		if c, l, ok := classify.Crosswalk(sc.Scheme, sc.Value); ok {
			class, label = string(c), string(l)
		}
	}
	b.srcScheme.add(scheme)
	b.srcValue.add(value)
	b.srcClass.add(class)
	b.srcLabel.add(label)
}
