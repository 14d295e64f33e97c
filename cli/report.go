package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// reportBy maps --by to the ClickHouse grouping; "reason" lists reasons only.
var reportBy = map[string]string{
	"campaign": clickhouse.ByCampaign,
	"domain":   clickhouse.ByDomain,
	"hour":     clickhouse.BySendHour,
	"reason":   "",
}

// rateReport is what `bounced report` prints, in every format.
type rateReport struct {
	By      string          `json:"by"`
	Filter  reportFilter    `json:"filter"`
	Source  string          `json:"source"` // rollups | raw
	Rates   []reportRate    `json:"rates,omitempty"`
	Reasons []reportReason  `json:"reasons,omitempty"`
	total   clickhouse.Rate // for the table's last line
	rates   []clickhouse.Rate
}

type reportFilter struct {
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Domain   string `json:"domain,omitempty"`
}

type reportRate struct {
	Key          string  `json:"key"`
	Sends        int64   `json:"sends"`
	Delivered    int64   `json:"delivered"`
	Bounced      int64   `json:"bounced"`
	Hard         int64   `json:"hard"`
	Soft         int64   `json:"soft"`
	Block        int64   `json:"block"`
	Attempts     uint64  `json:"attempts"`
	Deferred     uint64  `json:"deferred"`
	BounceRate   float64 `json:"bounce_rate"`
	HardRate     float64 `json:"hard_rate"`
	SoftRate     float64 `json:"soft_rate"`
	BlockRate    float64 `json:"block_rate"`
	DeferralRate float64 `json:"deferral_rate"`
	// Complaints are spam reports; ComplaintRate = Complaints / Delivered.
	Complaints    uint64  `json:"complaints"`
	ComplaintRate float64 `json:"complaint_rate"`
}

type reportReason struct {
	Attempts uint64 `json:"attempts"`
	Class    string `json:"class"`
	Label    string `json:"label"`
	Rule     string `json:"rule"`
	Code     uint16 `json:"example_code"`
	Enhanced string `json:"example_enhanced"`
}

func reportCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("report", io)
	from := fs.String("from", "", "first send time: RFC 3339, a date (2026-10-01), or an age (7d, 36h: that long ago)")
	to := fs.String("to", "", "end of the send-time range (exclusive), same forms as --from; default now")
	campaign := fs.String("campaign", "", "only this campaign id")
	domain := fs.String("domain", "", "only this recipient domain")
	by := fs.String("by", "campaign", "group by campaign, domain, hour (send hour), reason (top reasons only), or disagreement (bounced's verdicts against the sources' own classifications)")
	format := fs.String("format", "table", "table, json or csv")
	limit := fs.Int("limit", 50, "most groups (campaigns, domains, or the most recent send hours)")
	reasons := fs.Int("reasons", 10, "top reasons shown after the rates (table and json; 0 for none)")
	raw := fs.Bool("raw", false, "count from the outcomes and attempts tables instead of the rollups (exact per send, slower)")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	f := clickhouse.ReportFilter{Campaign: *campaign, Domain: *domain, Raw: *raw}
	if f.From, err = parseWhen(*from, now); err != nil {
		return fmt.Errorf("%w: --from: %v", ErrUsage, err)
	}
	if f.To, err = parseWhen(*to, now); err != nil {
		return fmt.Errorf("%w: --to: %v", ErrUsage, err)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return fmt.Errorf("%w: --from %s is not before --to %s", ErrUsage, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	group, ok := reportBy[*by]
	if !ok && *by != "disagreement" {
		return fmt.Errorf("%w: --by %q: want campaign, domain, hour, reason or disagreement", ErrUsage, *by)
	}
	switch *format {
	case "table", "json", "csv":
	default:
		return fmt.Errorf("%w: --format %q: want table, json or csv", ErrUsage, *format)
	}
	if *limit <= 0 {
		return fmt.Errorf("%w: --limit %d: want at least 1", ErrUsage, *limit)
	}
	e := &env{cfg: cfg, log: cfg.Logger(os.Stderr)}
	if err := e.openClickHouseReadOnly(ctx); err != nil {
		return err
	}
	defer e.close()
	if *by == "disagreement" {
		vs, err := e.ch.SourceVerdicts(ctx, f, *limit)
		if err != nil {
			return err
		}
		return writeDisagreement(io.Out, *format, filterOf(f), vs)
	}

	r := rateReport{By: *by, Filter: filterOf(f), Source: "rollups"}
	if f.Raw || (f.Campaign != "" && f.Domain != "") || (group == clickhouse.ByCampaign && f.Domain != "") || (group == clickhouse.ByDomain && f.Campaign != "") {
		r.Source = "raw"
	}
	if group != "" {
		if r.rates, err = e.ch.RatesWhere(ctx, group, f, *limit); err != nil {
			return err
		}
		// The total over every group, not only those shown.
		all, err := e.ch.RatesWhere(ctx, group, f, 1<<30)
		if err != nil {
			return err
		}
		r.total = totalOf(all)
	}
	n := *reasons
	if group == "" {
		n = *limit
	}
	if n > 0 && (group == "" || *format != "csv") {
		rs, err := e.ch.TopReasonsWhere(ctx, f, n)
		if err != nil {
			return err
		}
		for _, x := range rs {
			r.Reasons = append(r.Reasons, reportReason{x.Attempts, x.Class, x.Label, x.Rule, x.Code, x.Enhanced})
		}
	}
	return r.write(io.Out, *format)
}

// parseWhen reads a time flag: empty (unbounded), RFC 3339, a date or a
// date and hour-minute in UTC, or an age ("7d", "36h") before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	age := strings.TrimPrefix(s, "-")
	if days, ok := strings.CutSuffix(age, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * float64(24*time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(age); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-10-01T00:00:00Z), a date (2026-10-01) or an age (7d, 36h)", s)
}

func filterOf(f clickhouse.ReportFilter) reportFilter {
	out := reportFilter{Campaign: f.Campaign, Domain: f.Domain}
	if !f.From.IsZero() {
		out.From = f.From.Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		out.To = f.To.Format(time.RFC3339)
	}
	return out
}

func totalOf(rs []clickhouse.Rate) clickhouse.Rate {
	t := clickhouse.Rate{Key: "total"}
	for _, r := range rs {
		t.Delivered += r.Delivered
		t.Bounced += r.Bounced
		t.Hard += r.Hard
		t.Soft += r.Soft
		t.Block += r.Block
		t.Attempts += r.Attempts
		t.Deferred += r.Deferred
		t.Complaints += r.Complaints
	}
	t.Sends = t.Delivered + t.Bounced
	if t.Sends > 0 {
		s := float64(t.Sends)
		t.BounceRate, t.HardRate, t.SoftRate, t.BlockRate = float64(t.Bounced)/s, float64(t.Hard)/s, float64(t.Soft)/s, float64(t.Block)/s
	}
	if t.Attempts > 0 {
		t.DeferralRate = float64(t.Deferred) / float64(t.Attempts)
	}
	if t.Delivered > 0 {
		t.ComplaintRate = float64(t.Complaints) / float64(t.Delivered)
	}
	return t
}

func rateRow(r clickhouse.Rate) reportRate {
	return reportRate{r.Key, r.Sends, r.Delivered, r.Bounced, r.Hard, r.Soft, r.Block, r.Attempts, r.Deferred,
		r.BounceRate, r.HardRate, r.SoftRate, r.BlockRate, r.DeferralRate, r.Complaints, r.ComplaintRate}
}

var rateHeader = []string{"sends", "delivered", "bounced", "bounce", "hard", "soft", "block", "attempts", "deferred/attempt", "complaints", "complaint"}

func (r *rateReport) write(w io.Writer, format string) error {
	r.Rates = nil
	for _, x := range r.rates {
		r.Rates = append(r.Rates, rateRow(x))
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*rateReport
			Total *reportRate `json:"total,omitempty"`
		}{r, totalPtr(r)})
	case "csv":
		cw := csv.NewWriter(w)
		if r.By == "reason" {
			_ = cw.Write([]string{"attempts", "class", "label", "rule", "example_code", "example_enhanced"})
			for _, x := range r.Reasons {
				_ = cw.Write([]string{strconv.FormatUint(x.Attempts, 10), x.Class, x.Label, x.Rule, strconv.Itoa(int(x.Code)), x.Enhanced})
			}
		} else {
			_ = cw.Write([]string{r.By, "sends", "delivered", "bounced", "hard", "soft", "block", "attempts", "deferred",
				"bounce_rate", "hard_rate", "soft_rate", "block_rate", "deferral_rate", "complaints", "complaint_rate"})
			for _, x := range r.Rates {
				_ = cw.Write([]string{x.Key, i64(x.Sends), i64(x.Delivered), i64(x.Bounced), i64(x.Hard), i64(x.Soft), i64(x.Block),
					strconv.FormatUint(x.Attempts, 10), strconv.FormatUint(x.Deferred, 10),
					ratio(x.BounceRate), ratio(x.HardRate), ratio(x.SoftRate), ratio(x.BlockRate), ratio(x.DeferralRate),
					strconv.FormatUint(x.Complaints, 10), ratio(x.ComplaintRate)})
			}
		}
		cw.Flush()
		return cw.Error()
	}
	return r.table(w)
}

func totalPtr(r *rateReport) *reportRate {
	if r.By == "reason" {
		return nil
	}
	t := rateRow(r.total)
	return &t
}

func i64(n int64) string       { return strconv.FormatInt(n, 10) }
func ratio(f float64) string   { return strconv.FormatFloat(f, 'f', 6, 64) }
func percent(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func (r *rateReport) table(w io.Writer) error {
	var scope []string
	if r.Filter.From != "" || r.Filter.To != "" {
		scope = append(scope, "sent "+orDots(r.Filter.From)+" to "+orDots(r.Filter.To))
	} else {
		scope = append(scope, "all send times")
	}
	if r.Filter.Campaign != "" {
		scope = append(scope, "campaign "+r.Filter.Campaign)
	}
	if r.Filter.Domain != "" {
		scope = append(scope, "domain "+r.Filter.Domain)
	}
	if r.By != "reason" {
		src := "rollups"
		if r.Source == "raw" {
			src = "outcomes and attempts tables"
		}
		fmt.Fprintf(w, "Bounce rates by %s (%s; from the %s). A send is one message to one recipient;\n", r.By, strings.Join(scope, ", "), src)
		fmt.Fprintln(w, "bounce = bounced / (delivered + bounced) sends, by send time; deferrals are per attempt;")
		fmt.Fprintln(w, "complaint = spam reports / delivered sends.")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		col := r.By
		if col == "hour" {
			col = "sent hour (UTC)"
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", col, strings.Join(rateHeader, "\t"))
		rows := append(append([]clickhouse.Rate(nil), r.rates...), r.total)
		for i, x := range rows {
			if i == len(rows)-1 {
				if len(r.rates) == 0 {
					fmt.Fprintln(tw, "(no sends)\t\t\t\t\t\t\t\t\t\t\t\t")
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t\n", x.Key, x.Sends, x.Delivered, x.Bounced,
				percent(x.BounceRate), percent(x.HardRate), percent(x.SoftRate), percent(x.BlockRate), x.Attempts, percent(x.DeferralRate),
				x.Complaints, percent(x.ComplaintRate))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(r.Reasons) > 0 {
			fmt.Fprintln(w)
		}
	}
	if len(r.Reasons) > 0 || r.By == "reason" {
		fmt.Fprintf(w, "Top reasons (undelivered attempts, deferrals included; %s, by send day)\n", strings.Join(scope, ", "))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "attempts\tclass\tlabel\trule\texample")
		for _, x := range r.Reasons {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d %s\n", x.Attempts, x.Class, x.Label, x.Rule, x.Code, x.Enhanced)
		}
		if len(r.Reasons) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
		return tw.Flush()
	}
	return nil
}

func orDots(s string) string {
	if s == "" {
		return "…"
	}
	return s
}
