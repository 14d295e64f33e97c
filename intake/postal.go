package intake

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Postal's signature headers, as sent by lib/postal/http.rb (postalserver/postal
// at 8ef89606bc34146fffba77a604dd824e6b1cdcc2): X-Postal-Signature is
// Signer#sha1_sign64 of the body (RSA PKCS#1 v1.5, SHA-1, strict base64),
// X-Postal-Signature-256 is Signer#sign64 (the same with SHA-256), both in
// lib/postal/signer.rb; X-Postal-Signature-KID names the key.
const (
	postalSignatureHeader    = "X-Postal-Signature"
	postalSignature256Header = "X-Postal-Signature-256"
)

// postalVerifier checks Postal's RSA signature of the raw body, SHA-256
// when Postal sends it and SHA-1 (older Postal) otherwise.
type postalVerifier struct {
	key *rsa.PublicKey
}

func newPostalVerifier(cfg Postal) (*postalVerifier, error) {
	key, err := parseRSAKey(cfg.PublicKey)
	if err != nil {
		return nil, err
	}
	return &postalVerifier{key: key}, nil
}

func (v *postalVerifier) verify(_ context.Context, r *http.Request, body []byte) (outcome, error) {
	header, hash := postalSignature256Header, crypto.SHA256
	sig64 := r.Header.Get(header)
	if sig64 == "" {
		// No downgrade is possible by dropping the SHA-256 header: the
		// SHA-1 signature still has to verify over the same body.
		header, hash = postalSignatureHeader, crypto.SHA1
		sig64 = r.Header.Get(header)
	}
	if sig64 == "" {
		return outcome{}, refusef(http.StatusUnauthorized, ResultUnauthorized, "no %s or %s header", postalSignature256Header, postalSignatureHeader)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return outcome{}, refusef(http.StatusUnauthorized, ResultBadSignature, "%s is not base64", header)
	}
	if !verifyPostal(v.key, hash, body, sig) {
		return outcome{}, refusef(http.StatusUnauthorized, ResultBadSignature, "%s does not verify against intake.postal.public_key", header)
	}
	return outcome{}, nil
}

func verifyPostal(key *rsa.PublicKey, hash crypto.Hash, body, sig []byte) bool {
	var digest []byte
	switch hash {
	case crypto.SHA256:
		d := sha256.Sum256(body)
		digest = d[:]
	case crypto.SHA1:
		d := sha1.Sum(body)
		digest = d[:]
	default:
		return false
	}
	return rsa.VerifyPKCS1v15(key, hash, digest, sig) == nil
}
