package intake

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPostmarkVerify(t *testing.T) {
	const user, pass, secret = "postmark", "correct horse battery", "0123456789abcdef-secret"
	basicOnly := Postmark{Username: user, Password: pass}
	headerOnly := Postmark{Secret: secret}
	both := Postmark{Username: user, Password: pass, SecretHeader: "X-Hook-Key", Secret: secret}
	tests := []struct {
		name   string
		cfg    Postmark
		user   string
		pass   string
		header map[string]string
		ok     bool
	}{
		{name: "basic auth", cfg: basicOnly, user: user, pass: pass, ok: true},
		{name: "basic auth wrong password", cfg: basicOnly, user: user, pass: pass + "x"},
		{name: "basic auth wrong user", cfg: basicOnly, user: "other", pass: pass},
		{name: "basic auth missing", cfg: basicOnly},
		{name: "header", cfg: headerOnly, header: map[string]string{DefaultSecretHeader: secret}, ok: true},
		{name: "header wrong", cfg: headerOnly, header: map[string]string{DefaultSecretHeader: secret[:len(secret)-1]}},
		{name: "header under another name", cfg: headerOnly, header: map[string]string{"X-Other": secret}},
		{name: "basic auth not configured", cfg: headerOnly, user: user, pass: secret},
		{name: "both configured, basic passes", cfg: both, user: user, pass: pass, ok: true},
		{name: "both configured, header passes", cfg: both, header: map[string]string{"X-Hook-Key": secret}, ok: true},
		{name: "both configured, neither passes", cfg: both, user: user, pass: "x", header: map[string]string{"X-Hook-Key": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/intake/postmark", nil)
			if tt.user != "" {
				r.SetBasicAuth(tt.user, tt.pass)
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			out, err := newPostmarkVerifier(tt.cfg).verify(context.Background(), r, nil)
			if tt.ok {
				checkOutcome(t, out, err, "", 0)
				return
			}
			checkOutcome(t, out, err, ResultUnauthorized, 401)
			var rf *refusal
			if errors.As(err, &rf) && (rf.challenge != "") != (tt.cfg.Username != "") {
				t.Errorf("WWW-Authenticate %q with basic auth configured %v", rf.challenge, tt.cfg.Username != "")
			}
		})
	}
}
