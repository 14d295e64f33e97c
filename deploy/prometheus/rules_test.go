// Package prometheus holds bounced's Prometheus alerting rules
// (bounced-rules.yml) and their promtool unit tests; this test runs
// promtool check rules and promtool test rules on them.
package prometheus_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// promtool returns the promtool binary. Without one the test is skipped,
// except in CI (CI=true), where it fails: a CI run must not pass by
// skipping the rules' tests. Debian: apt-get install prometheus.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool not found on PATH (Debian: apt-get install prometheus; or a Prometheus release tarball)"
		if ci, _ := os.LookupEnv("CI"); strings.EqualFold(ci, "true") || ci == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

func TestAlertRulesPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "bounced-rules.yml"},
		{"test", "rules", "bounced-rules.test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
