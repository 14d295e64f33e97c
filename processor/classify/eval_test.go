package classify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

// corpusPath is the project's labelled corpus, copied from
// shared/corpus so the test needs nothing outside the repository.
const corpusPath = "testdata/classification.tsv"

func TestEvalCorpus(t *testing.T) {
	f, err := os.Open(corpusPath)
	if err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	defer f.Close()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Eval(c, f, SkipSynthetic)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())

	// The targets are class >= 0.95, label >= 0.90 and false-hard
	// <= 0.005 (issue 13: class >= 0.97, label >= 0.92). The floors sit just
	// under what the rules reach without string-specific rules (795/827
	// class, 761/827 label, 1 false hard).
	// The rows left wrong are pairs with the same text and opposite labels
	// (Sisimai decided them from the DSN's SMTP command, which the text
	// does not carry; BMH files the same Exchange text under two labels),
	// samples that name no reason at all ("Delivery to the following
	// recipient failed permanently"), labels docs/classification.md rejects (a blocklist,
	// relay or DNS failure called hard), and label mappings that differ
	// from ours within the same class (BMH "antispam" as sender_blocked
	// where the text says the message scored as spam): see the report this
	// test logs.
	if got := rep.ClassAccuracy(); got < 0.96 {
		t.Errorf("class accuracy %.3f below floor 0.96 (issue target 0.95)", got)
	}
	if got := rep.LabelAccuracy(); got < 0.92 {
		t.Errorf("label accuracy %.3f below floor 0.92 (issue target 0.90; issue 13: 0.92)", got)
	}
	if got := rep.FalseHardRate(); got > 0.005 {
		t.Errorf("false-hard rate %.4f above the issue's ceiling 0.005", got)
	}
	if rep.Skipped != 30 {
		t.Errorf("skipped %d synthetic rows, the corpus README says 30", rep.Skipped)
	}
}

// holdoutRules and holdoutCorpus are a corpus small enough to work the
// leave-one-source-out figures out by hand. Evidence (rule → sources it
// decides right): t.user A B; t.odd A; t.full A C; t.spam B; c.5xx B C;
// c.4xx none. Own rules: A {t.odd}, B {t.spam}, C {}.
func holdoutRules() []Rule {
	return []Rule{
		{ID: "t.user", Label: event.MailboxUnknown, Phrases: []string{"user unknown"}},
		{ID: "t.odd", Label: event.MailboxUnknown, Phrases: []string{"zzq"}},
		{ID: "t.full", Label: event.MailboxFull, Phrases: []string{"mailbox full"}},
		{ID: "t.spam", Label: event.SpamContent, Phrases: []string{"spam"}},
		{ID: "c.5xx", Label: event.MailboxUnknown, Codes: []string{"5xx"}},
		{ID: "c.4xx", Label: event.NetworkError, Codes: []string{"4xx"}},
	}
}

const holdoutCorpus = "source_repo\tsmtp_code\tenhanced_code\ttext\tlabel\tclass\n" +
	// A: t.odd decides lines 3 and 4 right. Without it line 3 falls to
	// c.5xx (still right) and line 4 to c.4xx (network_error: wrong).
	"A\t550\t\tuser unknown\tmailbox_unknown\thard\n" +
	"A\t550\t\tzzq\tmailbox_unknown\thard\n" +
	"A\t450\t\tzzq\tmailbox_unknown\thard\n" +
	"A\t552\t\tmailbox full\tmailbox_full\tsoft\n" +
	// B: t.spam decides line 7 right; without it c.5xx calls it hard.
	"B\t550\t\tuser unknown\tmailbox_unknown\thard\n" +
	"B\t554\t\tspam detected\tspam_content\tblock\n" +
	"B\t550\t\tno such person\tmailbox_unknown\thard\n" +
	// C: no own rule; t.spam gets the class right and the label wrong,
	// t.odd is wrong (a false hard), so neither is evidenced by C.
	"C\t554\t\tspam\tsender_blocked\tblock\n" +
	"C\t552\t\tmailbox full\tmailbox_full\tsoft\n" +
	"C\t550\t\tzzq\tmailbox_full\tsoft\n" +
	"C\t550\t\tsomething else\tmailbox_unknown\thard\n"

func TestEvalHoldout(t *testing.T) {
	c, err := New(holdoutRules())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Eval(c, strings.NewReader(holdoutCorpus))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 11 || rep.ClassCorrect != 10 || rep.LabelCorrect != 9 || rep.FalseHard != 1 || rep.NonHard != 5 {
		t.Errorf("overall rows %d class %d label %d false hard %d of %d, want 11 10 9 1 of 5",
			rep.Rows, rep.ClassCorrect, rep.LabelCorrect, rep.FalseHard, rep.NonHard)
	}
	tests := []struct {
		source   string
		in       Tally // in-sample; confusion not compared
		ownRules []string
		ownRows  int
		out      Tally // held out; confusion not compared
	}{
		{"A", Tally{Rows: 4, ClassCorrect: 4, LabelCorrect: 4, NonHard: 1},
			[]string{"t.odd"}, 2, Tally{Rows: 4, ClassCorrect: 3, LabelCorrect: 3, NonHard: 1}},
		{"B", Tally{Rows: 3, ClassCorrect: 3, LabelCorrect: 3, NonHard: 1},
			[]string{"t.spam"}, 1, Tally{Rows: 3, ClassCorrect: 2, LabelCorrect: 2, NonHard: 1, FalseHard: 1}},
		{"C", Tally{Rows: 4, ClassCorrect: 3, LabelCorrect: 2, NonHard: 3, FalseHard: 1},
			nil, 0, Tally{Rows: 4, ClassCorrect: 3, LabelCorrect: 2, NonHard: 3, FalseHard: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			in, h := rep.Sources[tc.source], rep.Holdout[tc.source]
			if in == nil || h == nil {
				t.Fatalf("source %s missing: sources %v holdout %v", tc.source, rep.Sources, rep.Holdout)
			}
			counts := func(t Tally) [5]int { return [5]int{t.Rows, t.ClassCorrect, t.LabelCorrect, t.NonHard, t.FalseHard} }
			gotIn, gotOut := *in, h.Tally
			if counts(gotIn) != counts(tc.in) {
				t.Errorf("in-sample %+v, want %+v", gotIn, tc.in)
			}
			if !slices.Equal(h.OwnRules, tc.ownRules) || h.OwnRows != tc.ownRows {
				t.Errorf("own rules %v deciding %d rows, want %v deciding %d", h.OwnRules, h.OwnRows, tc.ownRules, tc.ownRows)
			}
			if counts(gotOut) != counts(tc.out) {
				t.Errorf("held out %+v, want %+v", gotOut, tc.out)
			}
		})
	}
	// Per-source class confusion: C's two errors, B's held-out false hard.
	if got := confusionErrors(rep.Sources["C"].Confusion); got != "soft→hard 1" {
		t.Errorf("C class errors %q, want %q", got, "soft→hard 1")
	}
	if got := confusionErrors(rep.Holdout["B"].Confusion); got != "block→hard 1" {
		t.Errorf("B held-out class errors %q, want %q", got, "block→hard 1")
	}
	if got := confusionErrors(rep.Sources["A"].Confusion); got != "none" {
		t.Errorf("A class errors %q, want none", got)
	}
}

// TestWithoutNothingDropped guards Classifier.without against a field added
// to Classifier and not copied: dropping no rule must change no verdict,
// and dropping a rule must change exactly the verdicts it decided.
func TestWithoutNothingDropped(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	rep, err := Eval(c, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []Input
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, "\t")
		code, _ := strconv.Atoi(f[2])
		inputs = append(inputs, Input{Code: code, Enhanced: f[3], Text: f[4], Outcome: event.Bounced})
	}
	// Drop the rules deciding every third row: both rules found through a
	// literal and rules checked on every input (codes, stage, enhanced).
	drop := map[string]bool{}
	for i, in := range inputs {
		if id := c.Classify(in).Rule; i%3 == 0 && !strings.Contains(id, "outcome.") && id != RuleDefault {
			drop[id] = true
		}
	}
	same, less := c.without(nil), c.without(drop)
	rows := 0
	for _, in := range inputs {
		want := c.Classify(in)
		if got := same.Classify(in); got != want {
			t.Fatalf("without(nil) gave %+v, the classifier %+v for %q", got, want, in.Text)
		}
		got := less.Classify(in)
		if drop[want.Rule] == (got == want) || drop[got.Rule] {
			t.Fatalf("without(%d rules) gave %+v where the classifier gave %+v for %q", len(drop), got, want, in.Text)
		}
		rows++
	}
	if rows != rep.Rows {
		t.Fatalf("checked %d rows, Eval measured %d", rows, rep.Rows)
	}
}

// TestReportJSONMatchesText checks that --json carries the numbers the text
// report prints, read back from both outputs.
func TestReportJSONMatchesText(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (*Classifier, io.Reader)
	}{
		{"tiny", func(t *testing.T) (*Classifier, io.Reader) {
			c, err := New(holdoutRules())
			if err != nil {
				t.Fatal(err)
			}
			return c, strings.NewReader(holdoutCorpus)
		}},
		{"corpus", func(t *testing.T) (*Classifier, io.Reader) {
			c, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(corpusPath)
			if err != nil {
				t.Fatalf("corpus missing: %v", err)
			}
			t.Cleanup(func() { f.Close() })
			return c, f
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := tc.open(t)
			rep, err := Eval(c, r, SkipSynthetic)
			if err != nil {
				t.Fatal(err)
			}
			var text, js bytes.Buffer
			if err := rep.Write(&text); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var got JSONReport
			dec := json.NewDecoder(&js)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("JSON does not parse: %v\n%s", err, js.String())
			}

			rows, skipped, cc, lc := scanHead(t, text.String())
			o := got.Overall
			if o.Rows != rows || got.Skipped != skipped || o.ClassCorrect != cc || o.LabelCorrect != lc {
				t.Errorf("JSON overall rows %d skipped %d class %d label %d, text %d %d %d %d",
					o.Rows, got.Skipped, o.ClassCorrect, o.LabelCorrect, rows, skipped, cc, lc)
			}
			if len(got.Sources) != len(rep.Sources) || len(got.LeaveOneSourceOut.Sources) != len(rep.Holdout) {
				t.Errorf("JSON has %d sources and %d held out, the report %d and %d",
					len(got.Sources), len(got.LeaveOneSourceOut.Sources), len(rep.Sources), len(rep.Holdout))
			}
			for name, s := range got.Sources {
				line := fmt.Sprintf("  %-22s rows %4d  class %5.1f%%  label %5.1f%%  false hard %d of %d\n",
					name, s.Rows, 100*s.ClassAccuracy, 100*s.LabelAccuracy, s.FalseHard, s.NonHard)
				if !strings.Contains(text.String(), line) {
					t.Errorf("text lacks the JSON's by-source line %q", line)
				}
				h := got.LeaveOneSourceOut.Sources[name]
				line = fmt.Sprintf("  %-22s %4d %9d %8d  %-15s  %-15s  %d→%d of %d\n", name, s.Rows, len(h.OwnRules), h.OwnRows,
					fmt.Sprintf("%.1f%%→%.1f%%", 100*s.ClassAccuracy, 100*h.ClassAccuracy),
					fmt.Sprintf("%.1f%%→%.1f%%", 100*s.LabelAccuracy, 100*h.LabelAccuracy),
					s.FalseHard, h.FalseHard, h.NonHard)
				if !strings.Contains(text.String(), line) {
					t.Errorf("text lacks the JSON's held-out line %q", line)
				}
			}
			for want, row := range got.Overall.Confusion {
				for g, n := range row {
					if rep.Confusion[want][g] != n {
						t.Errorf("JSON confusion %s→%s %d, report %d", want, g, n, rep.Confusion[want][g])
					}
				}
			}
			if len(got.Wrong) != len(rep.Wrong) || !strings.Contains(text.String(), fmt.Sprintf("wrong rows (%d)", len(got.Wrong))) {
				t.Errorf("JSON has %d wrong rows, the report %d", len(got.Wrong), len(rep.Wrong))
			}
		})
	}
}

// scanHead reads the first three lines of a text report: rows, skipped,
// class correct, label correct.
func scanHead(t *testing.T, text string) (rows, skipped, cc, lc int) {
	t.Helper()
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		t.Fatalf("text report too short: %q", text)
	}
	var pct float64
	var n int
	if _, err := fmt.Sscanf(lines[0], "rows %d (skipped %d)", &rows, &skipped); err != nil {
		t.Fatalf("line 1 %q: %v", lines[0], err)
	}
	if _, err := fmt.Sscanf(lines[1], "class accuracy %f%% (%d/%d)", &pct, &cc, &n); err != nil {
		t.Fatalf("line 2 %q: %v", lines[1], err)
	}
	if _, err := fmt.Sscanf(lines[2], "label accuracy %f%% (%d/%d)", &pct, &lc, &n); err != nil {
		t.Fatalf("line 3 %q: %v", lines[2], err)
	}
	return rows, skipped, cc, lc
}
