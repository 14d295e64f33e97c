package clickhouse_test

import (
	"context"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// TestSourceVerdicts: the attempts table keeps each source's own
// classification with its reading in bounced's taxonomy, and the report
// lists where bounced and the source put an attempt in different classes,
// disagreements first.
func TestSourceVerdicts(t *testing.T) {
	ctx := context.Background()
	c := open(t, clickhouse.Config{})
	rs := rows("bounced.attempts", 0, 0, 40)
	for i := range rs {
		a := *rs[i].Attempt
		switch i % 4 {
		case 0: // PowerMTA agrees: bad-mailbox, read hard; bounced says hard
			a.SourceClassification = &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "bad-mailbox"}
			v := event.NewVerdict(event.MailboxUnknown, "test")
			a.Verdict = &v
		case 1: // PowerMTA says hard, bounced says block: a disagreement
			a.SourceClassification = &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "bad-mailbox"}
			v := event.NewVerdict(event.PolicyViolation, "test")
			a.Verdict = &v
		case 2: // nothing comparable
			a.SourceClassification = &event.SourceClassification{Scheme: "pmta_bounceCat", Value: "other"}
		default: // no source classification
			a.SourceClassification = nil
		}
		rs[i].Attempt = &a
	}
	if err := c.InsertAttempts(ctx, rs); err != nil {
		t.Fatal(err)
	}
	vs, err := c.SourceVerdicts(ctx, clickhouse.ReportFilter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 || !vs[0].Disagrees() || vs[0].SourceClass != "hard" || vs[0].Class != "block" || vs[0].Attempts != 10 {
		t.Fatalf("first group %+v, want the 10 attempts PowerMTA calls hard and bounced block", vs)
	}
	var agree, other, total uint64
	for _, v := range vs {
		total += v.Attempts
		switch {
		case v.SourceClass == "hard" && v.Class == "hard" && v.SourceLabel == "mailbox_unknown":
			agree += v.Attempts
		case v.SourceClass == "":
			other += v.Attempts
		}
	}
	if agree != 10 || other != 10 || total != 30 {
		t.Errorf("agree %d, not comparable %d, total %d; want 10, 10, 30 (attempts without a source classification left out): %+v", agree, other, total, vs)
	}
}
