package intake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
)

// signPostal signs as Postal's Signer does: RSA PKCS#1 v1.5 over the raw
// body, "1" for SHA-1 (X-Postal-Signature), "2" for SHA-256
// (X-Postal-Signature-256), strict base64.
func signPostal(t *testing.T, key *rsa.PrivateKey, version string, body []byte) string {
	return base64.StdEncoding.EncodeToString(signRSA(t, key, version, body))
}

func TestPostalVerify(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	body := []byte(`{"event":"MessageBounced","timestamp":1772366400.0,"payload":{"original_message":{"to":"a@example.com"}},"uuid":"u"}`)
	tests := []struct {
		name         string
		sha1, sha256 string
		result       string
		status       int
	}{
		{name: "both headers", sha1: signPostal(t, key, "1", body), sha256: signPostal(t, key, "2", body)},
		{name: "sha256 only", sha256: signPostal(t, key, "2", body)},
		{name: "sha1 only (older Postal)", sha1: signPostal(t, key, "1", body)},
		{name: "bad sha256 is not rescued by a good sha1", sha1: signPostal(t, key, "1", body), sha256: signPostal(t, other, "2", body), result: ResultBadSignature, status: 401},
		{name: "sha1 signature in the sha256 header", sha256: signPostal(t, key, "1", body), result: ResultBadSignature, status: 401},
		{name: "other key", sha1: signPostal(t, other, "1", body), result: ResultBadSignature, status: 401},
		{name: "body changed", sha256: signPostal(t, key, "2", append(body, ' ')), result: ResultBadSignature, status: 401},
		{name: "not base64", sha256: "%%%", result: ResultBadSignature, status: 401},
		{name: "no header", result: ResultUnauthorized, status: 401},
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	for _, shown := range map[string]string{
		"base64 DER":  base64.StdEncoding.EncodeToString(pkix),
		"DKIM record": "v=DKIM1; t=s; h=sha256; p=" + base64.StdEncoding.EncodeToString(pkix) + ";",
		"PEM":         string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})),
		"PKCS#1 PEM":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)})),
	} {
		v, err := newPostalVerifier(Postal{PublicKey: shown})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodPost, "/v1/intake/postal", nil)
				if tt.sha1 != "" {
					r.Header.Set(postalSignatureHeader, tt.sha1)
				}
				if tt.sha256 != "" {
					r.Header.Set(postalSignature256Header, tt.sha256)
				}
				out, err := v.verify(context.Background(), r, body)
				checkOutcome(t, out, err, tt.result, tt.status)
			})
		}
	}
}
