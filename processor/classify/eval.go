package classify

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/bounced-dev/bounced/processor/event"
)

// Row is one labelled diagnostic of the corpus format
// (shared/corpus/classification.tsv).
type Row struct {
	Line     int // 1-based line in the file, the header being line 1
	Source   string
	Path     string
	Code     int
	Enhanced string
	Text     string
	Label    event.Label
	Class    event.Class
}

// SkipSynthetic reports rows whose text gives the answer away (Sisimai's
// synthetic samples link to libsisimai.org/en/reason/#<reason>); pass it to
// Eval to leave them out of accuracy figures, as the corpus README asks.
func SkipSynthetic(r Row) bool { return strings.Contains(r.Text, "libsisimai.org/en/reason") }

// Miss is one row the classifier got wrong.
type Miss struct {
	Row Row
	Got event.Verdict
}

// Report is the result of Eval.
type Report struct {
	Rows         int
	Skipped      int
	ClassCorrect int
	LabelCorrect int
	// NonHard counts rows whose expected class is not hard; FalseHard those
	// of them classified hard: the error that suppresses a good recipient.
	NonHard   int
	FalseHard int
	// Confusion[want][got] counts rows by expected and actual class.
	Confusion map[event.Class]map[event.Class]int
	Wrong     []Miss
	// Sources splits the counts by the row's source_repo: corpora labelled
	// by different classifiers disagree on philosophy, and a total hides it.
	Sources map[string]*Tally
}

// Tally is one source's share of a Report.
type Tally struct {
	Rows, ClassCorrect, LabelCorrect, NonHard, FalseHard int
}

// ClassAccuracy is the share of rows whose class is right.
func (r Report) ClassAccuracy() float64 { return ratio(r.ClassCorrect, r.Rows) }

// LabelAccuracy is the share of rows whose label is right.
func (r Report) LabelAccuracy() float64 { return ratio(r.LabelCorrect, r.Rows) }

// FalseHardRate is the share of non-hard rows classified hard.
func (r Report) FalseHardRate() float64 { return ratio(r.FalseHard, r.NonHard) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Eval classifies every row of a corpus TSV (header row first; columns found
// by name: smtp_code, enhanced_code, text, label, class) and measures the
// answers. Rows for which any skip function returns true are counted as
// skipped and not measured.
//
// Every row is classified with outcome bounced: the corpus texts come from
// bounce messages (DSNs: the MTA gave up on the recipient), and that is the
// outcome the pipeline sees for them. It matters only for rules marked
// retried (a refused or timed-out connection), whose label becomes expired;
// auto-replies, complaints and deliveries in the corpus are decided by
// their text or code, which the outcome does not change.
func Eval(c *Classifier, r io.Reader, skip ...func(Row) bool) (Report, error) {
	rep := Report{Confusion: map[event.Class]map[event.Class]int{}, Sources: map[string]*Tally{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	var col map[string]int
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if col == nil {
			col = map[string]int{}
			for i, f := range fields {
				col[strings.TrimSpace(f)] = i
			}
			for _, need := range []string{"smtp_code", "enhanced_code", "text", "label", "class"} {
				if _, ok := col[need]; !ok {
					return rep, fmt.Errorf("classify: eval: header lacks column %q", need)
				}
			}
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return fields[i]
			}
			return ""
		}
		row := Row{
			Line: line, Source: get("source_repo"), Path: get("source_path"),
			Enhanced: get("enhanced_code"), Text: get("text"),
			Label: event.Label(get("label")), Class: event.Class(get("class")),
		}
		if s := get("smtp_code"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return rep, fmt.Errorf("classify: eval: line %d: smtp_code %q: %w", line, s, err)
			}
			row.Code = n
		}
		if skipped(row, skip) {
			rep.Skipped++
			continue
		}
		got := c.Classify(Input{Code: row.Code, Enhanced: row.Enhanced, Text: row.Text, Outcome: event.Bounced})
		rep.Rows++
		src := rep.Sources[row.Source]
		if src == nil {
			src = &Tally{}
			rep.Sources[row.Source] = src
		}
		src.Rows++
		if got.Class == row.Class {
			src.ClassCorrect++
		}
		if got.Label == row.Label {
			src.LabelCorrect++
		}
		if row.Class != event.ClassHard {
			src.NonHard++
			if got.Class == event.ClassHard {
				src.FalseHard++
			}
		}
		if rep.Confusion[row.Class] == nil {
			rep.Confusion[row.Class] = map[event.Class]int{}
		}
		rep.Confusion[row.Class][got.Class]++
		if got.Class == row.Class {
			rep.ClassCorrect++
		}
		if got.Label == row.Label {
			rep.LabelCorrect++
		}
		if row.Class != event.ClassHard {
			rep.NonHard++
			if got.Class == event.ClassHard {
				rep.FalseHard++
			}
		}
		if got.Label != row.Label || got.Class != row.Class {
			rep.Wrong = append(rep.Wrong, Miss{Row: row, Got: got})
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("classify: eval: line %d: %w", line+1, err)
	}
	return rep, nil
}

func skipped(r Row, skip []func(Row) bool) bool {
	for _, f := range skip {
		if f(r) {
			return true
		}
	}
	return false
}

// Write prints the report: accuracies, the class confusion matrix, the
// false-hard count, and every wrong row (false-hard rows first, as they
// matter most).
func (r Report) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "rows %d (skipped %d)\n", r.Rows, r.Skipped)
	fmt.Fprintf(bw, "class accuracy %.1f%% (%d/%d)\n", 100*r.ClassAccuracy(), r.ClassCorrect, r.Rows)
	fmt.Fprintf(bw, "label accuracy %.1f%% (%d/%d)\n", 100*r.LabelAccuracy(), r.LabelCorrect, r.Rows)
	fmt.Fprintf(bw, "false hard %d of %d non-hard rows (%.1f%%)\n", r.FalseHard, r.NonHard, 100*r.FalseHardRate())

	if len(r.Sources) > 1 {
		names := make([]string, 0, len(r.Sources))
		for n := range r.Sources {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(bw, "\nby source")
		for _, n := range names {
			t := r.Sources[n]
			fmt.Fprintf(bw, "  %-22s rows %4d  class %5.1f%%  label %5.1f%%  false hard %d of %d\n", n, t.Rows,
				100*ratio(t.ClassCorrect, t.Rows), 100*ratio(t.LabelCorrect, t.Rows), t.FalseHard, t.NonHard)
		}
	}

	classes := []event.Class{event.ClassHard, event.ClassSoft, event.ClassBlock, event.ClassComplaint, event.ClassAutoReply, event.ClassDelivered}
	fmt.Fprintf(bw, "\nconfusion (rows: expected, columns: got)\n%-11s", "")
	for _, g := range classes {
		fmt.Fprintf(bw, " %10s", g)
	}
	fmt.Fprintln(bw)
	for _, want := range classes {
		fmt.Fprintf(bw, "%-11s", want)
		for _, g := range classes {
			fmt.Fprintf(bw, " %10d", r.Confusion[want][g])
		}
		fmt.Fprintln(bw)
	}

	wrong := append([]Miss(nil), r.Wrong...)
	sort.SliceStable(wrong, func(i, j int) bool {
		fi := wrong[i].Got.Class == event.ClassHard && wrong[i].Row.Class != event.ClassHard
		fj := wrong[j].Got.Class == event.ClassHard && wrong[j].Row.Class != event.ClassHard
		return fi && !fj
	})
	fmt.Fprintf(bw, "\nwrong rows (%d)\n", len(wrong))
	for _, m := range wrong {
		text := m.Row.Text
		if len(text) > 160 {
			text = strings.ToValidUTF8(text[:160], "") + "…"
		}
		fmt.Fprintf(bw, "line %d: want %s/%s got %s/%s (%s) [%d %s] %s\n", m.Row.Line,
			m.Row.Class, m.Row.Label, m.Got.Class, m.Got.Label, m.Got.Rule, m.Row.Code, m.Row.Enhanced, text)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("classify: write report: %w", err)
	}
	return nil
}
