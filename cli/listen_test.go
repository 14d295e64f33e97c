package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bounced-dev/bounced/api"
)

// TestListen: the HTTP server gets its bounds and the token, and a member
// that listens beyond its host without a token says so at start.
func TestListen(t *testing.T) {
	const token = "0123456789abcdef0123"
	for _, tc := range []struct {
		name     string
		args     []string
		warn     bool
		needAuth bool
	}{
		{"loopback, no token", []string{"--http.addr", "127.0.0.1:0"}, false, false},
		{"any address, no token", []string{"--http.addr", ":0"}, true, false},
		{"any address, token", []string{"--http.addr", "0.0.0.0:0", "--set", "http.token=" + token}, false, true},
		{"loopback, token from the environment", []string{"--http.addr", "127.0.0.1:0"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var environ []string
			if strings.Contains(tc.name, "environment") {
				environ = []string{"BOUNCED_HTTP_TOKEN=" + token}
			}
			cfg, err := load(flags("run", IO{Err: io.Discard}), tc.args, IO{Environ: append(environ, "BOUNCED_LOG_LEVEL=info")})
			if err != nil {
				t.Fatal(err)
			}
			logs := &bytes.Buffer{}
			n := &node{e: &env{cfg: cfg, log: slog.New(slog.NewTextHandler(logs, nil))}, reg: prometheus.NewRegistry()}
			if err := n.listen(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer n.ln.Close()
			if warned := strings.Contains(logs.String(), "without a token"); warned != tc.warn {
				t.Errorf("warning %v, want %v: %s", warned, tc.warn, logs)
			}
			if n.srv.WriteTimeout != api.WriteTimeout || n.srv.ReadTimeout != api.ReadTimeout || n.srv.IdleTimeout != api.IdleTimeout ||
				n.srv.MaxHeaderBytes != api.MaxHeaderBytes || n.srv.ReadHeaderTimeout != api.ReadHeaderTimeout {
				t.Errorf("server bounds: %+v", n.srv)
			}
			go n.srv.Serve(n.ln)
			defer n.srv.Close()
			url := "http://" + n.ln.Addr().String()
			for path, want := range map[string]int{"/healthz": 200, "/dashboard/app.js": 200} {
				if tc.needAuth && path != "/healthz" {
					want = http.StatusUnauthorized
				}
				resp, err := http.Get(url + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
				}
			}
		})
	}
}
