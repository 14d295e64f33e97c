package intake

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// The test vector published with SendGrid's own Go library,
// github.com/sendgrid/sendgrid-go helpers/eventwebhook/eventwebhook_test.go:
// its key, timestamp and signature over the payload its
// generateTestPayload builds (json.Marshal of a map, so keys sorted).
const (
	sendGridVectorKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	sendGridVectorTimestamp = "1588788367"
	sendGridVectorSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
	sendGridVectorPayload   = `{"category":"example_payload","event":"test_event","message_id":"message_id"}`
)

func TestSendGridPublishedVector(t *testing.T) {
	now := func() time.Time { return time.Unix(1588788367+60, 0) }
	v, err := newSendGridVerifier(SendGrid{PublicKey: sendGridVectorKey}, now)
	if err != nil {
		t.Fatal(err)
	}
	req := sendGridRequest(sendGridVectorSignature, sendGridVectorTimestamp)
	out, err := v.verify(context.Background(), req, []byte(sendGridVectorPayload))
	checkOutcome(t, out, err, "", 0)

	_, err = v.verify(context.Background(), req, []byte("this is not valid payload for the given signature"))
	checkOutcome(t, outcome{}, err, ResultBadSignature, 401)
}

func sendGridRequest(sig, ts string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/intake/sendgrid", nil)
	if sig != "" {
		r.Header.Set(sendGridSignatureHeader, sig)
	}
	if ts != "" {
		r.Header.Set(sendGridTimestampHeader, ts)
	}
	return r
}

func signSendGrid(t *testing.T, key *ecdsa.PrivateKey, ts string, body []byte) string {
	t.Helper()
	d := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestSendGridVerify(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	body := []byte(`[{"email":"a@example.com","event":"bounce","timestamp":1772366400}]`)
	now := strconv.FormatInt(t0.Unix(), 10)
	old := strconv.FormatInt(t0.Add(-11*time.Minute).Unix(), 10)
	ahead := strconv.FormatInt(t0.Add(11*time.Minute).Unix(), 10)
	within := strconv.FormatInt(t0.Add(-9*time.Minute).Unix(), 10)
	tests := []struct {
		name   string
		sig    string
		ts     string
		body   []byte
		result string
		status int
	}{
		{name: "valid", sig: signSendGrid(t, key, now, body), ts: now, body: body},
		{name: "valid within the window", sig: signSendGrid(t, key, within, body), ts: within, body: body},
		{name: "stale", sig: signSendGrid(t, key, old, body), ts: old, body: body, result: ResultStale, status: 401},
		{name: "from the future", sig: signSendGrid(t, key, ahead, body), ts: ahead, body: body, result: ResultStale, status: 401},
		{name: "timestamp changed", sig: signSendGrid(t, key, old, body), ts: now, body: body, result: ResultBadSignature, status: 401},
		{name: "body changed", sig: signSendGrid(t, key, now, body), ts: now, body: append([]byte(" "), body...), result: ResultBadSignature, status: 401},
		{name: "other key", sig: signSendGrid(t, other, now, body), ts: now, body: body, result: ResultBadSignature, status: 401},
		{name: "not base64", sig: "!!", ts: now, body: body, result: ResultBadSignature, status: 401},
		{name: "no signature", ts: now, body: body, result: ResultUnauthorized, status: 401},
		{name: "no timestamp", sig: signSendGrid(t, key, now, body), body: body, result: ResultUnauthorized, status: 401},
		{name: "timestamp not a number", sig: signSendGrid(t, key, "soon", body), ts: "soon", body: body, result: ResultStale, status: 401},
		{name: "huge timestamp", sig: signSendGrid(t, key, "9223372036854775807", body), ts: "9223372036854775807", body: body, result: ResultStale, status: 401},
	}
	for _, pubKey := range []string{
		base64.StdEncoding.EncodeToString(der),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	} {
		v, err := newSendGridVerifier(SendGrid{PublicKey: pubKey}, newClock().now)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, err := v.verify(context.Background(), sendGridRequest(tt.sig, tt.ts), tt.body)
				checkOutcome(t, out, err, tt.result, tt.status)
			})
		}
	}
}
