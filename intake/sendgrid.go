package intake

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// The headers of SendGrid's signed Event Webhook.
const (
	sendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// sendGridVerifier checks SendGrid's signed Event Webhook: an ECDSA P-256
// signature (ASN.1, base64) over SHA-256 of the timestamp header followed
// by the raw body.
type sendGridVerifier struct {
	key    *ecdsa.PublicKey
	maxAge time.Duration
	now    func() time.Time
}

func newSendGridVerifier(cfg SendGrid, now func() time.Time) (*sendGridVerifier, error) {
	key, err := parseECDSAKey(cfg.PublicKey)
	if err != nil {
		return nil, err
	}
	return &sendGridVerifier{key: key, maxAge: orDuration(cfg.MaxAge, DefaultMaxAge), now: now}, nil
}

func (v *sendGridVerifier) verify(_ context.Context, r *http.Request, body []byte) (outcome, error) {
	sig64, ts := r.Header.Get(sendGridSignatureHeader), r.Header.Get(sendGridTimestampHeader)
	if sig64 == "" || ts == "" {
		return outcome{}, refusef(http.StatusUnauthorized, ResultUnauthorized,
			"no %s or %s header: turn on Signed Event Webhook in SendGrid", sendGridSignatureHeader, sendGridTimestampHeader)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return outcome{}, refusef(http.StatusUnauthorized, ResultBadSignature, "%s is not base64", sendGridSignatureHeader)
	}
	if !verifySendGrid(v.key, ts, body, sig) {
		return outcome{}, refusef(http.StatusUnauthorized, ResultBadSignature, "signature does not verify against intake.sendgrid.public_key")
	}
	// Checked after the signature, so "stale" always means a genuine but
	// old (or clock-skewed) request.
	if err := checkAge(ts, v.now(), v.maxAge, "intake.sendgrid.max_age"); err != nil {
		return outcome{}, err
	}
	return outcome{}, nil
}

// verifySendGrid reports whether sig signs timestamp followed by body.
func verifySendGrid(key *ecdsa.PublicKey, timestamp string, body, sig []byte) bool {
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	return ecdsa.VerifyASN1(key, h.Sum(nil), sig)
}

// checkAge refuses a Unix timestamp (seconds) further than maxAge from now,
// either way.
func checkAge(ts string, now time.Time, maxAge time.Duration, key string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refusef(http.StatusUnauthorized, ResultStale, "timestamp %q is not Unix seconds", clip(ts, 32))
	}
	// Compare in seconds: a signed int64 from outside could overflow
	// time.Duration.
	age := now.Unix() - sec
	if age < 0 {
		age = -age
	}
	if age > int64(maxAge/time.Second) {
		return refusef(http.StatusUnauthorized, ResultStale, "timestamp %d is %ds from now, over %s (%s)", sec, now.Unix()-sec, key, maxAge)
	}
	return nil
}

// clip shortens an untrusted value for a log line.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
