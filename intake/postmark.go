package intake

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// postmarkVerifier checks the credentials Postmark is told to send: basic
// auth in the webhook URL (https://user:pass@host/...) or a custom header.
// Postmark signs nothing, so these prove only that the sender knows the
// secret.
type postmarkVerifier struct {
	user, pass [32]byte // SHA-256, compared in constant time
	basic      bool
	header     string
	secret     [32]byte
	hasSecret  bool
}

func newPostmarkVerifier(cfg Postmark) *postmarkVerifier {
	v := &postmarkVerifier{header: cfg.SecretHeader}
	if v.header == "" {
		v.header = DefaultSecretHeader
	}
	if cfg.Username != "" {
		v.basic = true
		v.user, v.pass = sha256.Sum256([]byte(cfg.Username)), sha256.Sum256([]byte(cfg.Password))
	}
	if cfg.Secret != "" {
		v.hasSecret = true
		v.secret = sha256.Sum256([]byte(cfg.Secret))
	}
	return v
}

func (v *postmarkVerifier) verify(_ context.Context, r *http.Request, _ []byte) (outcome, error) {
	if v.basic {
		if user, pass, ok := r.BasicAuth(); ok && equalHashed(v.user, user) && equalHashed(v.pass, pass) {
			return outcome{}, nil
		}
	}
	if v.hasSecret {
		if got := r.Header.Get(v.header); got != "" && equalHashed(v.secret, got) {
			return outcome{}, nil
		}
	}
	rf := refusef(http.StatusUnauthorized, ResultUnauthorized, "no valid credentials (basic auth or %s)", v.header)
	if v.basic {
		rf.challenge = `Basic realm="bounced intake"`
	}
	return outcome{}, rf
}

// equalHashed compares in constant time; hashing first hides the length.
func equalHashed(want [32]byte, got string) bool {
	g := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(want[:], g[:]) == 1
}
