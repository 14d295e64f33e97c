package intake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// publicKeyDER turns a key as providers show it into DER: PEM, a DKIM
// record's p= tag (Postal publishes its signing key that way), or bare
// base64 (SendGrid's settings page, Postal's).
func publicKeyDER(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("starts like PEM but holds no PEM block")
		}
		return block.Bytes, nil
	}
	if strings.Contains(s, "p=") {
		for tag := range strings.SplitSeq(s, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(tag), "p="); ok {
				s = v
				break
			}
		}
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("not PEM and not base64 (%v); paste the key as the provider shows it", err)
	}
	return der, nil
}

func parsePublicKey(s string) (any, error) {
	der, err := publicKeyDER(s)
	if err != nil {
		return nil, err
	}
	if key, err := x509.ParsePKIXPublicKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return key, nil
	}
	return nil, errors.New("not a DER public key (SubjectPublicKeyInfo or PKCS#1)")
}

// parseECDSAKey reads SendGrid's verification key: ECDSA on P-256.
func parseECDSAKey(s string) (*ecdsa.PublicKey, error) {
	key, err := parsePublicKey(s)
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, want an ECDSA P-256 public key", key)
	}
	return ec, nil
}

// parseRSAKey reads Postal's signing key: RSA.
func parseRSAKey(s string) (*rsa.PublicKey, error) {
	key, err := parsePublicKey(s)
	if err != nil {
		return nil, err
	}
	r, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an RSA public key", key)
	}
	return r, nil
}
