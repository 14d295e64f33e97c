package clickhouse

import (
	"context"
	"fmt"
	"strings"
)

// SourceVerdict counts the attempts whose source classified them one way
// (Scheme, Value, read as SourceClass by classify.Crosswalk; "" when it is
// nothing comparable) and bounced another (Class, Label).
type SourceVerdict struct {
	Scheme, Value, SourceClass, SourceLabel string
	Class, Label                            string
	Attempts                                uint64
}

// Disagrees reports whether the source and bounced put the attempts in
// different classes.
func (v SourceVerdict) Disagrees() bool { return v.SourceClass != "" && v.SourceClass != v.Class }

// SourceVerdicts lists, from the attempts table, how bounced's verdicts
// line up with the sources' own classifications over what f selects (send
// time, campaign, domain): disagreements first, then by attempts.
func (c *Client) SourceVerdicts(ctx context.Context, f ReportFilter, limit int) ([]SourceVerdict, error) {
	if limit <= 0 {
		limit = 50
	}
	conds, args := []string{"source_scheme != ''"}, []any{}
	if !f.From.IsZero() {
		conds, args = append(conds, "sent_at >= toDateTime(?)"), append(args, f.From.Unix())
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "sent_at < toDateTime(?)"), append(args, f.To.Unix())
	}
	if f.Campaign != "" {
		conds, args = append(conds, "campaign_id = ?"), append(args, f.Campaign)
	}
	if f.Domain != "" {
		conds, args = append(conds, "recipient_domain = ?"), append(args, f.Domain)
	}
	q := `SELECT source_scheme, source_value, source_class, source_label, class, label, count() AS n
	FROM attempts
	WHERE ` + strings.Join(conds, " AND ") + `
	GROUP BY source_scheme, source_value, source_class, source_label, class, label
	ORDER BY source_class != '' AND source_class != class DESC, n DESC, source_scheme, source_value, class, label
	LIMIT ?`
	var out []SourceVerdict
	err := c.each(ctx, q, append(args, limit), func(scan func(...any) error) error {
		var v SourceVerdict
		if err := scan(&v.Scheme, &v.Value, &v.SourceClass, &v.SourceLabel, &v.Class, &v.Label, &v.Attempts); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse source verdicts: %w", err)
	}
	return out, nil
}
