package suppressions

import (
	"encoding/csv"
	"io"
	"reflect"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// CSV renders the list as CSV (RFC 4180) with a header row:
//
//	address,status,class,label,reason,rule,since,expires_at
//
// Times are RFC 3339 in UTC. The expires_at column is written only when
// event.Suppression has the field (expiry per label, docs/suppressions.md); it is
// empty for a record without one.
func CSV(w io.Writer, recs []event.Suppression) (int, error) {
	cw := csv.NewWriter(w)
	header := []string{"address", "status", "class", "label", "reason", "rule", "since"}
	expires := expiresField()
	if expires != nil {
		header = append(header, "expires_at")
	}
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	for i, r := range recs {
		row := []string{r.Address, string(r.Status), string(r.Class), string(r.Label), r.Reason, r.Rule, csvTime(r.Since)}
		if expires != nil {
			row = append(row, expires(r))
		}
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

// expiresField returns a reader of Suppression.ExpiresAt, or nil when the
// field does not exist. Expiry is being added to the record separately;
// looking the field up keeps this file compiling before and after.
func expiresField() func(event.Suppression) string {
	f, ok := reflect.TypeFor[event.Suppression]().FieldByName("ExpiresAt")
	if !ok {
		return nil
	}
	return func(s event.Suppression) string {
		v := reflect.ValueOf(s).FieldByIndex(f.Index)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return ""
			}
			v = v.Elem()
		}
		if t, ok := v.Interface().(time.Time); ok {
			return csvTime(t)
		}
		return ""
	}
}
