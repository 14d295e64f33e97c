package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// http.token comes from any layer, or from http.token_file; a weak or
// ambiguous token stops the load with the key named.
func TestHTTPToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte("  0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const tok = "s3cr3t-t0ken-0123456789"
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
		want    string // the token; ignored when err is set
		err     string
	}{
		{name: "default", want: ""},
		{name: "environment", environ: []string{"BOUNCED_HTTP_TOKEN=" + tok}, want: tok},
		{name: "set", args: []string{"--set", "http.token=" + tok}, want: tok},
		{name: "file, trimmed", args: []string{"--set", "http.token_file=" + good}, want: "0123456789abcdef0123"},
		{name: "file from environment", environ: []string{"BOUNCED_HTTP_TOKEN_FILE=" + good}, want: "0123456789abcdef0123"},
		{name: "both", args: []string{"--set", "http.token=" + tok, "--set", "http.token_file=" + good}, err: "http.token, http.token_file: both set"},
		{name: "short", args: []string{"--set", "http.token=hunter2"}, err: "http.token: the token is 7 characters; use at least 16"},
		{name: "space", args: []string{"--set", "http.token=0123456789 abcdef"}, err: "http.token: the token has a space"},
		{name: "missing file", args: []string{"--set", "http.token_file=" + filepath.Join(dir, "nope")}, err: "http.token_file: open "},
		{name: "empty file", args: []string{"--set", "http.token_file=" + empty}, err: "http.token_file: " + empty + " is empty"},
		{name: "short file", args: []string{"--set", "http.token_file=" + good + "x"}, err: "http.token_file: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.environ)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("load: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.HTTP.BearerToken()
			if err != nil || got != tc.want {
				t.Errorf("BearerToken() = %q, %v; want %q", got, err, tc.want)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
		})
	}
}
