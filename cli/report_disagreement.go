package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// sourceAgreement is one line of `bounced report --by disagreement`.
type sourceAgreement struct {
	Scheme      string `json:"scheme"`
	Value       string `json:"value"`
	SourceClass string `json:"source_class"` // "" when the source's value is nothing comparable
	SourceLabel string `json:"source_label,omitempty"`
	Class       string `json:"class"`
	Label       string `json:"label"`
	Attempts    uint64 `json:"attempts"`
	Disagrees   bool   `json:"disagrees"`
}

// schemeAgreement sums a scheme's comparable attempts.
type schemeAgreement struct {
	Scheme     string  `json:"scheme"`
	Comparable uint64  `json:"comparable"`
	Agree      uint64  `json:"agree"`
	Rate       float64 `json:"agreement"`
}

// writeDisagreement prints how bounced's verdicts line up with the sources'
// own classifications: per scheme, the share of comparable attempts both
// put in one class, then the groups, disagreements first.
func writeDisagreement(w io.Writer, format string, filter reportFilter, vs []clickhouse.SourceVerdict) error {
	rows := make([]sourceAgreement, len(vs))
	var schemes []schemeAgreement
	at := map[string]int{}
	for i, v := range vs {
		rows[i] = sourceAgreement{v.Scheme, v.Value, v.SourceClass, v.SourceLabel, v.Class, v.Label, v.Attempts, v.Disagrees()}
		if v.SourceClass == "" {
			continue
		}
		j, ok := at[v.Scheme]
		if !ok {
			j, at[v.Scheme] = len(schemes), len(schemes)
			schemes = append(schemes, schemeAgreement{Scheme: v.Scheme})
		}
		schemes[j].Comparable += v.Attempts
		if !v.Disagrees() {
			schemes[j].Agree += v.Attempts
		}
	}
	for i := range schemes {
		schemes[i].Rate = float64(schemes[i].Agree) / float64(schemes[i].Comparable)
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			By      string            `json:"by"`
			Filter  reportFilter      `json:"filter"`
			Schemes []schemeAgreement `json:"schemes"`
			Groups  []sourceAgreement `json:"groups"`
		}{"disagreement", filter, schemes, rows})
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"scheme", "value", "source_class", "source_label", "class", "label", "attempts", "disagrees"})
		for _, r := range rows {
			_ = cw.Write([]string{r.Scheme, r.Value, r.SourceClass, r.SourceLabel, r.Class, r.Label, strconv.FormatUint(r.Attempts, 10), strconv.FormatBool(r.Disagrees)})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scheme\tcomparable attempts\tsame class as bounced")
	for _, s := range schemes {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", s.Scheme, s.Comparable, percent(s.Rate))
	}
	fmt.Fprintln(tw, "\nscheme\tsource says\tread as\tbounced says\tattempts\t")
	for _, r := range rows {
		mark := ""
		if r.Disagrees {
			mark = "differs"
		}
		read := r.SourceClass
		if r.SourceLabel != "" {
			read += "/" + r.SourceLabel
		}
		if read == "" {
			read = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%d\t%s\n", r.Scheme, r.Value, read, r.Class, r.Label, r.Attempts, mark)
	}
	return tw.Flush()
}
