package suppressions

import (
	"encoding/csv"
	"io"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// CSV renders the list as CSV (RFC 4180) with a header row:
//
//	address,status,class,label,reason,rule,since,expires_at
//
// Times are RFC 3339 in UTC; expires_at is empty for a record that does not
// expire (docs/suppressions.md, Expiry).
func CSV(w io.Writer, recs []event.Suppression) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"address", "status", "class", "label", "reason", "rule", "since", "expires_at"}); err != nil {
		return 0, err
	}
	for i, r := range recs {
		row := []string{r.Address, string(r.Status), string(r.Class), string(r.Label), r.Reason, r.Rule, csvTime(r.Since), csvTime(r.ExpiresAt)}
		if err := cw.Write(row); err != nil {
			return i, err
		}
	}
	cw.Flush()
	return len(recs), cw.Error()
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
