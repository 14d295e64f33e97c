package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

func TestWriteDisagreement(t *testing.T) {
	vs := []clickhouse.SourceVerdict{
		{Scheme: "pmta_bounceCat", Value: "bad-mailbox", SourceClass: "hard", SourceLabel: "mailbox_unknown", Class: "block", Label: "policy_violation", Attempts: 3},
		{Scheme: "pmta_bounceCat", Value: "bad-mailbox", SourceClass: "hard", SourceLabel: "mailbox_unknown", Class: "hard", Label: "mailbox_unknown", Attempts: 9},
		{Scheme: "pmta_bounceCat", Value: "other", Class: "soft", Label: "unknown", Attempts: 5},
	}
	var table bytes.Buffer
	if err := writeDisagreement(&table, "table", reportFilter{}, vs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pmta_bounceCat  12", "75.00%", "differs"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table does not say %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := writeDisagreement(&js, "json", reportFilter{}, vs); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Schemes []schemeAgreement `json:"schemes"`
		Groups  []sourceAgreement `json:"groups"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Schemes) != 1 || got.Schemes[0].Comparable != 12 || got.Schemes[0].Agree != 9 || len(got.Groups) != 3 || !got.Groups[0].Disagrees {
		t.Errorf("json %+v", got)
	}
}
