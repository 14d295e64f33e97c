package classify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"no rules", `rules: []`, []string{"no rules"}},
		{"unknown field", "rules:\n  - id: a\n    label: unknown\n    phrase: [x]\n", []string{"phrase"}},
		{"missing id", "rules:\n  - label: unknown\n    phrases: [x]\n", []string{"rule 0", "id", "missing"}},
		{"unknown label", "rules:\n  - id: a.b\n    label: bogus\n    phrases: [x]\n", []string{"rule 0 (a.b)", "label", "bogus"}},
		{"empty match", "rules:\n  - id: a.b\n    label: unknown\n", []string{"rule 0 (a.b)", "match"}},
		{"empty phrase", "rules:\n  - id: a.b\n    label: unknown\n    phrases: [\"\"]\n", []string{"phrases", "empty"}},
		{"bad regex", "rules:\n  - id: a.b\n    label: unknown\n    phrases: [x]\n    regex: '(['\n", []string{"rule 0 (a.b)", "regex"}},
		{"regex without literal", "rules:\n  - id: a.b\n    label: unknown\n    codes: [5xx]\n    regex: 'x'\n", []string{"regex", "prefilter"}},
		{"bad code", "rules:\n  - id: a.b\n    label: unknown\n    codes: [5x0]\n", []string{"codes", "5x0"}},
		{"bad code class", "rules:\n  - id: a.b\n    label: unknown\n    codes: [\"650\"]\n", []string{"codes", "class"}},
		{"bad enhanced", "rules:\n  - id: a.b\n    label: unknown\n    enhanced: [5.1]\n", []string{"enhanced", "5.1"}},
		{"bad enhanced class", "rules:\n  - id: a.b\n    label: unknown\n    enhanced: [3.1.1]\n", []string{"enhanced", "class"}},
		{"bad command", "rules:\n  - id: a.b\n    label: unknown\n    command: [QUIT]\n", []string{"command", "QUIT"}},
		{"provider without condition", "rules:\n  - id: a.b\n    label: unknown\n    domains: [gmail.com]\n", []string{"provider rule"}},
		{"duplicate id", "rules:\n  - id: a.b\n    label: unknown\n    codes: [5xx]\n  - id: a.b\n    label: unknown\n    codes: [4xx]\n", []string{"rule 1 (a.b)", "duplicate of rule 0"}},
		{"retried hard label", "rules:\n  - id: a.b\n    label: mailbox_unknown\n    retried: true\n    codes: [5xx]\n", []string{"rule 0 (a.b)", "retried", "soft"}},
		{"not yaml", "rules: [", []string{"parse rules"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadNormalises(t *testing.T) {
	rules, err := Load([]byte("rules:\n  - id: a.b\n    label: mailbox_full\n    phrases: [\"Mailbox  FULL\"]\n    domains: [.Example.COM]\n    codes: [5xx]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rules[0].Phrases[0]; got != "mailbox full" {
		t.Errorf("phrase = %q, want folded", got)
	}
	if got := rules[0].Domains[0]; got != "example.com" {
		t.Errorf("domain = %q", got)
	}
	c, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Classify(Input{Text: "550 MAILBOX\tfull", Domain: "Sub.example.com"}); v.Rule != "a.b" {
		t.Errorf("verdict %+v, want rule a.b", v)
	}
}

func TestShippedRules(t *testing.T) {
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	tiers := map[Tier]int{}
	for _, r := range rules {
		tiers[r.Tier()]++
		if !strings.Contains(r.ID, ".") {
			t.Errorf("rule id %q is not dotted", r.ID)
		}
		if prefix := strings.SplitN(r.ID, ".", 2)[0]; prefix == "provider" && r.Tier() != TierProvider ||
			prefix == "enhanced" && r.Tier() != TierEnhanced || prefix == "code" && r.Tier() != TierCode ||
			prefix == "stage" && r.Tier() != TierStage {
			t.Errorf("rule %s is in tier %s, which its id does not say", r.ID, r.Tier())
		}
	}
	for tier := TierProvider; tier <= TierCode; tier++ {
		if tiers[tier] == 0 {
			t.Errorf("no rule in tier %s", tier)
		}
	}
}

func TestMerge(t *testing.T) {
	base := []Rule{
		{ID: "a", Label: event.MailboxUnknown, Phrases: []string{"gone"}},
		{ID: "b", Label: event.Unknown, Codes: []string{"5xx"}},
	}
	user := []Rule{
		{ID: "a", Label: event.RecipientFiltered, Phrases: []string{"gone"}},
		{ID: "c", Label: event.SenderBlocked, Phrases: []string{"go away"}},
	}
	got := Merge(base, user)
	if len(got) != 3 || got[0].ID != "a" || got[0].Label != event.RecipientFiltered || got[1].ID != "b" || got[2].ID != "c" {
		t.Fatalf("Merge = %+v", got)
	}
	if base[0].Label != event.MailboxUnknown {
		t.Error("Merge modified base")
	}
	c, err := New(got)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Classify(Input{Code: 550, Text: "550 gone"}); v.Rule != "a" || v.Class != event.ClassSoft {
		t.Errorf("override: %+v", v)
	}
	if v := c.Classify(Input{Code: 550, Text: "550 go away"}); v.Rule != "c" {
		t.Errorf("added rule: %+v", v)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte("rules:\n  - id: x.y\n    label: nope\n    codes: [5xx]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "x.y") {
		t.Errorf("LoadFile error = %v, want it to name the file and the rule", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New([]Rule{{ID: "a", Label: "nope", Codes: []string{"5xx"}}}); err == nil {
		t.Error("New accepted an unknown label")
	}
}
