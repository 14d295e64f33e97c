package esp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoders' output")

// decoder is what the tests need of the providers.
type decoder interface {
	Decode(raw.Record) ([]event.Attempt, string, error)
	Kind() string
}

func decoders(cfg Config) map[string]decoder {
	return map[string]decoder{
		KindSES:      NewSES(cfg),
		KindSendGrid: NewSendGrid(cfg),
		KindMailgun:  NewMailgun(cfg),
		KindPostmark: NewPostmark(cfg),
		KindPostal:   NewPostal(cfg),
	}
}

// readSample returns a testdata body without its leading "#" source note.
func readSample(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for line := range strings.Lines(string(b)) {
		if len(body) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		body = append(body, line)
	}
	return []byte(strings.Join(body, ""))
}

// render writes a Decode result as JSON lines: one attempt per line, or one
// {"skip": …} or {"error": …} line.
func render(t testing.TB, as []event.Attempt, skip string, err error) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	switch {
	case err != nil:
		var re *raw.Error
		if !errors.As(err, &re) {
			t.Fatalf("error %v is not a *raw.Error", err)
		}
		enc.Encode(map[string]string{"error": re.Reason, "detail": re.Err.Error()})
	case skip != "":
		enc.Encode(map[string]string{"skip": skip})
	}
	for i := range as {
		if err := enc.Encode(&as[i]); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestGolden decodes every real body in testdata with the decoder its file
// name starts with and compares the attempts with testdata/golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	ds := decoders(Config{})
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			kind, _, _ := strings.Cut(name, "_")
			d := ds[kind]
			if d == nil {
				t.Fatalf("no decoder for %q", kind)
			}
			as, skip, err := d.Decode(raw.Record{Payload: readSample(t, f)})
			got := render(t, as, skip, err)
			golden := filepath.Join("testdata", "golden", name+".jsonl")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n got: %s\nwant: %s", golden, got, want)
			}
		})
	}
}

// TestClassifierContract runs the shipped classifier over the golden
// samples and the table cases: an upstream suppression must come out as
// label suppressed (never new evidence, docs/classification.md), a spam report must have
// outcome complaint (never a delivery, docs/formats.md) and verdict complaint. The decoders keep dropped events free of reply text precisely
// so that no text rule can say otherwise.
func TestClassifierContract(t *testing.T) {
	cls, err := classify.Default()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, a *event.Attempt) {
		t.Helper()
		v := cls.Attempt(a)
		switch {
		case a.Outcome == event.Dropped && v.Label != event.Suppressed:
			t.Errorf("%s dropped %s: verdict %s/%s, want suppressed", a.Source.Kind, a.Recipient, v.Label, v.Rule)
		case a.Outcome == event.Complaint && (!isComplaintCase(a) || v.Class != event.ClassComplaint):
			t.Errorf("%s complaint %s: source %+v, verdict %s/%s, want complaint", a.Source.Kind, a.Recipient, a.SourceClassification, v.Label, v.Rule)
		case a.Outcome != event.Complaint && isComplaintCase(a):
			t.Errorf("%s %s: a spam report with outcome %s, want complaint", a.Source.Kind, a.Recipient, a.Outcome)
		case a.Outcome == event.Delivered && v.Class != event.ClassDelivered:
			t.Errorf("%s delivered %s: verdict %s/%s", a.Source.Kind, a.Recipient, v.Label, v.Rule)
		}
	}
	files, _ := filepath.Glob("testdata/*.txt")
	ds := decoders(Config{})
	for _, f := range files {
		kind, _, _ := strings.Cut(filepath.Base(f), "_")
		as, _, _ := ds[kind].Decode(raw.Record{Payload: readSample(t, f)})
		for i := range as {
			check(t, &as[i])
		}
	}
	for _, tc := range tableCases() {
		kind, _, _ := strings.Cut(tc.kind, ":")
		as, _, _ := ds[kind].Decode(raw.Record{Payload: []byte(tc.body)})
		for i := range as {
			check(t, &as[i])
		}
	}
}

// isComplaintCase reports whether a's source classification is a spam
// complaint, whatever its outcome: the decoders must then say outcome
// complaint (docs/formats.md), and the classifier must still read the evidence.
func isComplaintCase(a *event.Attempt) bool {
	sc := a.SourceClassification
	if sc == nil {
		return false
	}
	return sc.Scheme == "ses_complaint" || sc.Value == "spamreport" || sc.Value == "complained" || sc.Value == "SpamComplaint"
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{CampaignKeys: []string{"job"}, TagCampaign: "never"}, ""},
		{Config{CampaignKeys: []string{"job", " "}}, "ingest.esp.campaign_keys[1]"},
		{Config{CampaignKeys: []string{"Campaign", "campaign"}}, "ingest.esp.campaign_keys[1]"},
		{Config{CampaignKeys: []string{strings.Repeat("k", 129)}}, "ingest.esp.campaign_keys[0]"},
		{Config{TagCampaign: "always"}, "ingest.esp.tag_campaign"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1534110422.389832", "2018-08-12T21:47:02.389832Z"},
		{"1461095250", "2016-04-19T19:47:30Z"},
		{"1.5e9", "2017-07-14T02:40:00Z"},
	} {
		got, err := parseEpoch(tc.in)
		if err != nil || got.Format("2006-01-02T15:04:05.999999999Z07:00") != tc.want {
			t.Errorf("parseEpoch(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "abc", "1e30", "12.3x"} {
		if _, err := parseEpoch(bad); err == nil {
			t.Errorf("parseEpoch(%q) succeeded", bad)
		}
	}
}

// TestSamplesDetect: raw.Detect names every sample's provider, so a body
// reaches the decoder its tests hold it to.
func TestSamplesDetect(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, f := range files {
		kind, _, _ := strings.Cut(filepath.Base(f), "_")
		if got := raw.Detect(raw.Record{Payload: readSample(t, f)}); got != kind {
			t.Errorf("%s: Detect = %q, want %q", f, got, kind)
		}
	}
}
