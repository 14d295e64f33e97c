package classify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
	// Holdout is the leave-one-source-out view, by source_repo: how each
	// source's rows fare under the rules the other sources give evidence
	// for (see Holdout).
	Holdout map[string]*Holdout
}

// Tally is one source's share of a Report.
type Tally struct {
	Rows, ClassCorrect, LabelCorrect, NonHard, FalseHard int
	// Confusion[want][got] counts the source's rows by expected and actual
	// class.
	Confusion map[event.Class]map[event.Class]int
}

// add counts one classified row.
func (t *Tally) add(want Row, got event.Verdict) {
	t.Rows++
	if got.Class == want.Class {
		t.ClassCorrect++
	}
	if got.Label == want.Label {
		t.LabelCorrect++
	}
	if want.Class != event.ClassHard {
		t.NonHard++
		if got.Class == event.ClassHard {
			t.FalseHard++
		}
	}
	if t.Confusion == nil {
		t.Confusion = map[event.Class]map[event.Class]int{}
	}
	if t.Confusion[want.Class] == nil {
		t.Confusion[want.Class] = map[event.Class]int{}
	}
	t.Confusion[want.Class][got.Class]++
}

// Holdout is one source's leave-one-source-out result.
//
// Rules carry no record of which corpus motivated them, so the split is
// defined by what the rules do on the corpus. A rule is evidenced by a
// source when, classifying the whole corpus, it decides at least one of
// that source's rows right (class and label both as labelled). A source's
// own rules are those evidenced by it and by no other source: rules that,
// as far as the corpus shows, exist for that source alone. The source's
// rows are then classified again by the same classifier with its own rules
// removed, so a row one of them decided falls through to the next rule that
// matches (or to the default), exactly as if the rule had not been written.
// Rules evidenced by no source stay: nothing says they were fitted to the
// held-out source. The built-in outcome and default verdicts are never
// removed.
//
// The gap between the source's in-sample Tally and this one is the
// over-fitting signal: accuracy that rests on rules no other source
// confirms.
type Holdout struct {
	// OwnRules are the ids of the source's own rules, sorted.
	OwnRules []string
	// OwnRows counts the source's rows that an own rule decided in the
	// full run, right or wrong.
	OwnRows int
	// Tally measures the source's rows classified without OwnRules.
	Tally
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
// by name: smtp_code, enhanced_code, text, label, class, and source_repo
// when present) and measures the answers. Rows for which any skip function
// returns true are counted as skipped and not measured.
//
// Every row is classified with outcome bounced: the corpus texts come from
// bounce messages (DSNs: the MTA gave up on the recipient), and that is the
// outcome the pipeline sees for them. It matters only for rules marked
// retried (a refused or timed-out connection), whose label becomes expired;
// auto-replies, complaints and deliveries in the corpus are decided by
// their text or code, which the outcome does not change.
//
// After the full run, Eval classifies each source's rows once more for the
// leave-one-source-out view (Report.Holdout, defined at Holdout).
func Eval(c *Classifier, r io.Reader, skip ...func(Row) bool) (Report, error) {
	rep := Report{Confusion: map[event.Class]map[event.Class]int{}, Sources: map[string]*Tally{}, Holdout: map[string]*Holdout{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	var col map[string]int
	var scored []Miss // every measured row with its verdict, right or wrong
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
		got := c.Classify(evalInput(row))
		scored = append(scored, Miss{Row: row, Got: got})
		rep.Rows++
		src := rep.Sources[row.Source]
		if src == nil {
			src = &Tally{}
			rep.Sources[row.Source] = src
		}
		src.add(row, got)
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
	rep.Holdout = holdout(c, scored)
	return rep, nil
}

// evalInput is the classifier input for a corpus row (see Eval on why the
// outcome is bounced).
func evalInput(r Row) Input {
	return Input{Code: r.Code, Enhanced: r.Enhanced, Text: r.Text, Outcome: event.Bounced}
}

// holdout computes the leave-one-source-out view of scored, the full run's
// rows with their verdicts (the definition is at Holdout).
func holdout(c *Classifier, scored []Miss) map[string]*Holdout {
	ruleIDs := make(map[string]bool, len(c.rules))
	for i := range c.rules {
		ruleIDs[c.rules[i].id] = true
	}
	// evidence[rule][source] is set when the rule decided a row of the
	// source right.
	evidence := map[string]map[string]bool{}
	for _, s := range scored {
		if !ruleIDs[s.Got.Rule] || s.Got.Class != s.Row.Class || s.Got.Label != s.Row.Label {
			continue
		}
		if evidence[s.Got.Rule] == nil {
			evidence[s.Got.Rule] = map[string]bool{}
		}
		evidence[s.Got.Rule][s.Row.Source] = true
	}
	own := map[string]map[string]bool{} // source → its own rule ids
	for id, by := range evidence {
		if len(by) != 1 {
			continue
		}
		for src := range by {
			if own[src] == nil {
				own[src] = map[string]bool{}
			}
			own[src][id] = true
		}
	}

	out := map[string]*Holdout{}
	without := map[string]*Classifier{}
	for _, s := range scored {
		src := s.Row.Source
		h := out[src]
		if h == nil {
			h = &Holdout{}
			for id := range own[src] {
				h.OwnRules = append(h.OwnRules, id)
			}
			sort.Strings(h.OwnRules)
			out[src] = h
			without[src] = c
			if len(own[src]) > 0 {
				without[src] = c.without(own[src])
			}
		}
		got := s.Got
		if own[src][got.Rule] {
			h.OwnRows++
			got = without[src].Classify(evalInput(s.Row))
		}
		h.add(s.Row, got)
	}
	return out
}

// without returns a classifier that shares c's compiled rules, automaton
// and stage hints but never considers the rules whose ids are in drop: an
// input one of them would have decided falls through to the next matching
// rule, as if the rule had not been written. Building it from c rather than
// from rules keeps Eval's signature (a compiled classifier) and costs no
// recompilation; TestWithoutNothingDropped guards it against a field added
// to Classifier and not copied here.
func (c *Classifier) without(drop map[string]bool) *Classifier {
	d := &Classifier{
		rules:   c.rules,
		ac:      c.ac,
		nlit:    c.nlit,
		stage:   c.stage,
		always:  slices.Clone(c.always),
		trigger: make([][]int32, len(c.trigger)),
	}
	for ri := range c.rules {
		if drop[c.rules[ri].id] {
			d.always[ri>>6] &^= 1 << (uint(ri) & 63)
		}
	}
	for l, rs := range c.trigger {
		for _, ri := range rs {
			if !drop[c.rules[ri].id] {
				d.trigger[l] = append(d.trigger[l], ri)
			}
		}
	}
	nl, nr := words(c.nlit), words(len(c.rules))
	d.pool.New = func() any {
		return &scratch{lits: make([]uint64, nl), cands: make([]uint64, nr)}
	}
	return d
}

func skipped(r Row, skip []func(Row) bool) bool {
	for _, f := range skip {
		if f(r) {
			return true
		}
	}
	return false
}

// evalClasses is the order classes are printed in.
func evalClasses() []event.Class {
	return []event.Class{event.ClassHard, event.ClassSoft, event.ClassBlock, event.ClassComplaint, event.ClassAutoReply, event.ClassDelivered}
}

// holdoutHeader explains the leave-one-source-out figures where they are
// printed; it restates the definition at Holdout.
const holdoutHeader = `leave one source out: each source judged by the rules the other sources evidence
  A rule is evidenced by a source when it decides at least one of that source's
  rows right (class and label). A source's own rules are evidenced by it alone;
  its rows are classified again without them, so a row an own rule decided falls
  through to the next matching rule. Rules evidenced by no source are kept.
  "own rows" counts the rows own rules decided: the over-fitting signal.`

// Write prints the report: accuracies, by source (with each source's class
// errors), the leave-one-source-out view, the class confusion matrix, the
// false-hard count, and every wrong row (false-hard rows first, as they
// matter most).
func (r Report) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "rows %d (skipped %d)\n", r.Rows, r.Skipped)
	fmt.Fprintf(bw, "class accuracy %.1f%% (%d/%d)\n", 100*r.ClassAccuracy(), r.ClassCorrect, r.Rows)
	fmt.Fprintf(bw, "label accuracy %.1f%% (%d/%d)\n", 100*r.LabelAccuracy(), r.LabelCorrect, r.Rows)
	fmt.Fprintf(bw, "false hard %d of %d non-hard rows (%.1f%%)\n", r.FalseHard, r.NonHard, 100*r.FalseHardRate())

	if len(r.Sources) > 1 {
		names := sortedKeys(r.Sources)
		fmt.Fprintln(bw, "\nby source")
		for _, n := range names {
			t := r.Sources[n]
			fmt.Fprintf(bw, "  %-22s rows %4d  class %5.1f%%  label %5.1f%%  false hard %d of %d\n", n, t.Rows,
				100*ratio(t.ClassCorrect, t.Rows), 100*ratio(t.LabelCorrect, t.Rows), t.FalseHard, t.NonHard)
		}
		fmt.Fprintln(bw, "\nclass errors by source (expected→got rows)")
		for _, n := range names {
			fmt.Fprintf(bw, "  %-22s %s\n", n, confusionErrors(r.Sources[n].Confusion))
		}
		fmt.Fprintf(bw, "\n%s\n", holdoutHeader)
		fmt.Fprintf(bw, "  %-22s %4s %9s %8s  %-15s  %-15s  %s\n", "source", "rows", "own rules", "own rows", "class in→out", "label in→out", "false hard in→out")
		for _, n := range names {
			t, h := r.Sources[n], r.Holdout[n]
			if h == nil {
				continue
			}
			fmt.Fprintf(bw, "  %-22s %4d %9d %8d  %-15s  %-15s  %d→%d of %d\n", n, t.Rows, len(h.OwnRules), h.OwnRows,
				inOut(t.ClassCorrect, h.ClassCorrect, t.Rows), inOut(t.LabelCorrect, h.LabelCorrect, t.Rows),
				t.FalseHard, h.FalseHard, h.NonHard)
		}
		for _, n := range names {
			if h := r.Holdout[n]; h != nil && len(h.OwnRules) > 0 {
				fmt.Fprintf(bw, "  own rules of %s: %s\n", n, strings.Join(h.OwnRules, " "))
			}
		}
	}

	classes := evalClasses()
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

// inOut writes an in-sample and a held-out share of rows: "95.7%→81.1%".
func inOut(in, out, rows int) string {
	return fmt.Sprintf("%.1f%%→%.1f%%", 100*ratio(in, rows), 100*ratio(out, rows))
}

// confusionErrors writes the off-diagonal cells of a class confusion,
// largest first: "hard→soft 12, block→soft 3", or "none".
func confusionErrors(m map[event.Class]map[event.Class]int) string {
	type cell struct {
		want, got event.Class
		n         int
	}
	var cells []cell
	for want, row := range m {
		for got, n := range row {
			if want != got && n > 0 {
				cells = append(cells, cell{want, got, n})
			}
		}
	}
	if len(cells) == 0 {
		return "none"
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].n != cells[j].n {
			return cells[i].n > cells[j].n
		}
		if cells[i].want != cells[j].want {
			return cells[i].want < cells[j].want
		}
		return cells[i].got < cells[j].got
	})
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = fmt.Sprintf("%s→%s %d", c.want, c.got, c.n)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// JSONReport is the machine-readable form of a Report that WriteJSON
// prints, for CI and for generating the README's accuracy table. Rates are
// fractions in [0, 1]; counts are rows.
type JSONReport struct {
	Overall JSONTally `json:"overall"`
	Skipped int       `json:"skipped"`
	// Sources is the in-sample tally of each source_repo.
	Sources map[string]JSONTally `json:"sources"`
	// LeaveOneSourceOut is keyed by source_repo; Definition restates
	// the definition at Holdout.
	LeaveOneSourceOut JSONHoldouts `json:"leave_one_source_out"`
	Wrong             []JSONMiss   `json:"wrong"`
}

// JSONTally is a Tally with its rates. Confusion is keyed by expected
// class, then by the class the classifier gave; empty cells are left out.
type JSONTally struct {
	Rows          int                                 `json:"rows"`
	ClassCorrect  int                                 `json:"class_correct"`
	ClassAccuracy float64                             `json:"class_accuracy"`
	LabelCorrect  int                                 `json:"label_correct"`
	LabelAccuracy float64                             `json:"label_accuracy"`
	NonHard       int                                 `json:"non_hard"`
	FalseHard     int                                 `json:"false_hard"`
	FalseHardRate float64                             `json:"false_hard_rate"`
	Confusion     map[event.Class]map[event.Class]int `json:"confusion"`
}

// JSONHoldouts is the leave-one-source-out section of a JSONReport.
type JSONHoldouts struct {
	Definition string                 `json:"definition"`
	Sources    map[string]JSONHoldout `json:"sources"`
}

// JSONHoldout is one source's Holdout.
type JSONHoldout struct {
	OwnRules []string `json:"own_rules"`
	OwnRows  int      `json:"own_rows"`
	JSONTally
}

// JSONMiss is one wrong row.
type JSONMiss struct {
	Line      int         `json:"line"`
	Source    string      `json:"source"`
	WantClass event.Class `json:"want_class"`
	WantLabel event.Label `json:"want_label"`
	GotClass  event.Class `json:"got_class"`
	GotLabel  event.Label `json:"got_label"`
	Rule      string      `json:"rule"`
}

func jsonTally(t Tally) JSONTally {
	conf := t.Confusion
	if conf == nil {
		conf = map[event.Class]map[event.Class]int{}
	}
	return JSONTally{
		Rows: t.Rows, ClassCorrect: t.ClassCorrect, ClassAccuracy: ratio(t.ClassCorrect, t.Rows),
		LabelCorrect: t.LabelCorrect, LabelAccuracy: ratio(t.LabelCorrect, t.Rows),
		NonHard: t.NonHard, FalseHard: t.FalseHard, FalseHardRate: ratio(t.FalseHard, t.NonHard),
		Confusion: conf,
	}
}

// JSON returns the report in its machine-readable form.
func (r Report) JSON() JSONReport {
	out := JSONReport{
		Overall: jsonTally(Tally{Rows: r.Rows, ClassCorrect: r.ClassCorrect, LabelCorrect: r.LabelCorrect,
			NonHard: r.NonHard, FalseHard: r.FalseHard, Confusion: r.Confusion}),
		Skipped:           r.Skipped,
		Sources:           map[string]JSONTally{},
		LeaveOneSourceOut: JSONHoldouts{Definition: strings.Join(strings.Fields(holdoutHeader), " "), Sources: map[string]JSONHoldout{}},
		Wrong:             make([]JSONMiss, 0, len(r.Wrong)),
	}
	for n, t := range r.Sources {
		out.Sources[n] = jsonTally(*t)
	}
	for n, h := range r.Holdout {
		own := h.OwnRules
		if own == nil {
			own = []string{}
		}
		out.LeaveOneSourceOut.Sources[n] = JSONHoldout{OwnRules: own, OwnRows: h.OwnRows, JSONTally: jsonTally(h.Tally)}
	}
	for _, m := range r.Wrong {
		out.Wrong = append(out.Wrong, JSONMiss{Line: m.Row.Line, Source: m.Row.Source,
			WantClass: m.Row.Class, WantLabel: m.Row.Label, GotClass: m.Got.Class, GotLabel: m.Got.Label, Rule: m.Got.Rule})
	}
	return out
}

// WriteJSON prints the report as one indented JSON document (JSONReport).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.JSON()); err != nil {
		return fmt.Errorf("classify: write report as JSON: %w", err)
	}
	return nil
}
