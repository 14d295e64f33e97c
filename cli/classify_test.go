package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/classify"
)

const classifyCorpus = "../processor/classify/testdata/classification.tsv"

// TestClassifyEvalJSON runs `bounced classify --eval FILE --json` and checks
// the document parses and agrees with the text report of the same run.
func TestClassifyEvalJSON(t *testing.T) {
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"classify", "--eval", classifyCorpus}, args...),
			IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: []string{}})
		if code != 0 {
			t.Fatalf("classify %v exited %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	js, text := run("--json"), run()
	var rep classify.JSONReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, js)
	}
	if rep.Overall.Rows == 0 || len(rep.Sources) < 2 || len(rep.LeaveOneSourceOut.Sources) != len(rep.Sources) {
		t.Fatalf("--json report looks empty: %d rows, %d sources, %d held out",
			rep.Overall.Rows, len(rep.Sources), len(rep.LeaveOneSourceOut.Sources))
	}
	head := []string{
		"rows " + strconv.Itoa(rep.Overall.Rows) + " (skipped " + strconv.Itoa(rep.Skipped) + ")",
		"(" + strconv.Itoa(rep.Overall.ClassCorrect) + "/" + strconv.Itoa(rep.Overall.Rows) + ")",
		"(" + strconv.Itoa(rep.Overall.LabelCorrect) + "/" + strconv.Itoa(rep.Overall.Rows) + ")",
		"leave one source out",
	}
	for _, h := range head {
		if !strings.Contains(text, h) {
			t.Errorf("text report lacks %q from the JSON report", h)
		}
	}
}

func TestClassifyJSONNeedsEval(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"classify", "--json"},
		IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: []string{}})
	if code != 2 || !strings.Contains(errb.String(), "need --eval") {
		t.Errorf("classify --json without --eval: exit %d, stderr %q; want 2 and a usage error naming --eval", code, errb.String())
	}
}
