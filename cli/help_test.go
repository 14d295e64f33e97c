package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp: help goes to standard output and exits 0, lists only the
// flags a command uses, and never connects to anything.
func TestHelp(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		has     []string
		hasNot  []string
		onError bool // the text is on standard error
	}{
		{args: []string{"--help"}, has: []string{"Available Commands:", "history", "intake", "mail", "completion"}},
		{args: []string{"help"}, has: []string{"Available Commands:"}},
		{args: []string{"run", "--help"}, has: []string{"Usage:\n  bounced run [flags]", "--pipeline.stage", "--clickhouse.addr", "Examples:"}},
		{args: []string{"help", "run"}, has: []string{"bounced run [flags]", "--kafka.brokers"}},
		{args: []string{"classify", "--help"}, has: []string{"--eval", "--set"}, hasNot: []string{"--clickhouse.addr", "--kafka.brokers", "--http.addr"}},
		{args: []string{"suppress", "--help"}, has: []string{"lift", "release", "sync"}},
		{args: []string{"suppress", "get", "--help"}, has: []string{"bounced suppress get ADDRESS [flags]", "--kafka.brokers"}, hasNot: []string{"--clickhouse.addr"}},
		{args: []string{"help", "suppress", "lift"}, has: []string{"--reason"}},
		{args: []string{"mail", "-h"}, has: []string{"--timeout"}, hasNot: []string{"--clickhouse.addr"}},
		{args: []string{"version"}, has: []string{"bounced " + release}},
		{args: []string{"completion", "bash"}, has: []string{"bash completion", "bounced"}},
		{args: []string{"nonsense"}, code: 2, has: []string{`unknown command "nonsense"`}, onError: true},
		{args: []string{"decode", "--bogus"}, code: 2, has: []string{"unknown flag: --bogus", "--help"}, onError: true},
		{args: nil, code: 2, has: []string{"Available Commands:"}, onError: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			// kafka.embedded_addr points nowhere: a command that tried to
			// connect would fail, not print help.
			code := Main(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb,
				Environ: []string{"BOUNCED_KAFKA_EMBEDDED_ADDR=127.0.0.1:1"}})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			text, other := out.String(), errb.String()
			if tt.onError {
				text, other = other, text
			}
			for _, s := range tt.has {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in:\n%s", s, text)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(text, s) {
					t.Errorf("has %q, which the command does not use:\n%s", s, text)
				}
			}
			if other != "" && !tt.onError {
				t.Errorf("wrote to standard error: %q", other)
			}
		})
	}
}
