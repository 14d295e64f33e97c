package config

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestEveryKeyDocumented: every configuration key bounced knows appears in
// docs/configuration.md's table, so the reference cannot fall behind the
// code. The table's first column may abbreviate: `kafka.tls.{enabled,ca_file}`
// expands to both keys, and a name without a dot after a full key shares
// its prefix (`clickhouse.database`, `username` = clickhouse.username).
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line, "|", 3)[1]
		prefix := ""
		for _, m := range tick.FindAllStringSubmatch(cell, -1) {
			for _, k := range expand(m[1]) {
				if !strings.Contains(k, ".") && prefix != "" {
					k = prefix + k
				}
				if i := strings.LastIndexByte(k, '.'); i >= 0 {
					prefix = k[:i+1]
				}
				documented[k] = true
			}
		}
	}
	var missing []string
	for k := range defaults() {
		if !documented[k] && !underDocumentedMap(k, documented) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/configuration.md does not document %d key(s):\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// expand turns "a.{b,c}" into a.b and a.c, and "a.<x>" into the map key a.
func expand(s string) []string {
	if i := strings.Index(s, ".<"); i >= 0 {
		return []string{s[:i]}
	}
	open, close := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
	if open < 0 || close < open {
		return []string{s}
	}
	var out []string
	for _, part := range strings.Split(s[open+1:close], ",") {
		out = append(out, s[:open]+strings.TrimSpace(part)+s[close+1:])
	}
	return out
}

// underDocumentedMap reports whether k is a free-form map key (policy.labels)
// documented as `policy.labels.<label>`.
func underDocumentedMap(k string, documented map[string]bool) bool {
	for _, m := range mapKeys {
		if k == m && documented[m] {
			return true
		}
	}
	return false
}
