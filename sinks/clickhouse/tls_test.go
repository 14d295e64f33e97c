package clickhouse

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsFiles writes a CA certificate, a client certificate signed by it and
// the client's key as PEM files, and a file that is not PEM.
type tlsFiles struct{ ca, cert, key, junk, dir string }

func writeTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bounced test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "bounced"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := tlsFiles{dir: dir, ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "client.pem"),
		key: filepath.Join(dir, "client-key.pem"), junk: filepath.Join(dir, "junk.pem")}
	for path, data := range map[string][]byte{
		f.ca:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		f.cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		f.key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		f.junk: []byte("not a certificate\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestValidateTLS: each tls_* key is checked at start, and the error names
// the key that is wrong.
func TestValidateTLS(t *testing.T) {
	f := writeTLSFiles(t)
	missing := filepath.Join(f.dir, "missing.pem")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // a substring of the error; empty: valid
	}{
		{"off", Config{}, ""},
		{"on, system roots", Config{TLS: true}, ""},
		{"ca", Config{TLS: true, TLSCAFile: f.ca}, ""},
		{"client cert", Config{TLS: true, TLSCertFile: f.cert, TLSKeyFile: f.key}, ""},
		{"everything", Config{TLS: true, TLSCAFile: f.ca, TLSCertFile: f.cert, TLSKeyFile: f.key, TLSServerName: "ch.internal"}, ""},
		{"ca without tls", Config{TLSCAFile: f.ca}, "clickhouse.tls_ca_file: set without clickhouse.tls"},
		{"cert without tls", Config{TLSCertFile: f.cert, TLSKeyFile: f.key}, "clickhouse.tls_cert_file: set without clickhouse.tls"},
		{"key without tls", Config{TLSKeyFile: f.key}, "clickhouse.tls_key_file: set without clickhouse.tls"},
		{"server name without tls", Config{TLSServerName: "ch.internal"}, "clickhouse.tls_server_name: set without clickhouse.tls"},
		{"skip verify without tls", Config{TLSInsecureSkipVerify: true}, "clickhouse.tls_insecure_skip_verify: set without clickhouse.tls"},
		{"ca missing", Config{TLS: true, TLSCAFile: missing}, "clickhouse.tls_ca_file: open " + missing},
		{"ca not pem", Config{TLS: true, TLSCAFile: f.junk}, "clickhouse.tls_ca_file: " + f.junk + ": no PEM certificate"},
		{"cert without key", Config{TLS: true, TLSCertFile: f.cert}, "clickhouse.tls_cert_file: set without clickhouse.tls_key_file"},
		{"key without cert", Config{TLS: true, TLSKeyFile: f.key}, "clickhouse.tls_key_file: set without clickhouse.tls_cert_file"},
		{"cert not pem", Config{TLS: true, TLSCertFile: f.junk, TLSKeyFile: f.key}, "clickhouse.tls_cert_file, clickhouse.tls_key_file"},
		{"key is the cert", Config{TLS: true, TLSCertFile: f.cert, TLSKeyFile: f.cert}, "clickhouse.tls_cert_file, clickhouse.tls_key_file"},
		{"cert missing", Config{TLS: true, TLSCertFile: missing, TLSKeyFile: f.key}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate: nil, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestTLSConfig: the tls.Config handed to the driver carries what the keys
// say, and nothing when TLS is off.
func TestTLSConfig(t *testing.T) {
	f := writeTLSFiles(t)
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		cfg        Config
		nilConfig  bool
		roots      bool // RootCAs holds the test CA (else nil: the system's)
		clientCert bool
		serverName string
		skip       bool
	}{
		{name: "off", cfg: Config{}, nilConfig: true},
		{name: "on", cfg: Config{TLS: true}},
		{name: "ca", cfg: Config{TLS: true, TLSCAFile: f.ca}, roots: true},
		{name: "client cert", cfg: Config{TLS: true, TLSCertFile: f.cert, TLSKeyFile: f.key}, clientCert: true},
		{name: "server name", cfg: Config{TLS: true, TLSServerName: "ch.internal"}, serverName: "ch.internal"},
		{name: "skip verify", cfg: Config{TLS: true, TLSInsecureSkipVerify: true}, skip: true},
		{name: "everything", cfg: Config{TLS: true, TLSCAFile: f.ca, TLSCertFile: f.cert, TLSKeyFile: f.key, TLSServerName: "ch.internal"},
			roots: true, clientCert: true, serverName: "ch.internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.tlsConfig()
			if err != nil {
				t.Fatal(err)
			}
			if o := options(tc.cfg.withDefaults(), "", nil); o.TLS != nil != !tc.nilConfig {
				t.Errorf("driver options: TLS %v, want set %v", o.TLS, !tc.nilConfig)
			}
			if tc.nilConfig {
				if got != nil {
					t.Fatalf("tls.Config %+v, want nil", got)
				}
				return
			}
			if got.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion %x, want TLS 1.2", got.MinVersion)
			}
			if got.ServerName != tc.serverName {
				t.Errorf("ServerName %q, want %q", got.ServerName, tc.serverName)
			}
			if got.InsecureSkipVerify != tc.skip {
				t.Errorf("InsecureSkipVerify %v, want %v", got.InsecureSkipVerify, tc.skip)
			}
			if tc.roots {
				want := x509.NewCertPool()
				want.AddCert(ca)
				if got.RootCAs == nil || !got.RootCAs.Equal(want) {
					t.Errorf("RootCAs: not the test CA")
				}
			} else if got.RootCAs != nil {
				t.Errorf("RootCAs set, want nil (the system's)")
			}
			if n := len(got.Certificates); tc.clientCert != (n == 1) {
				t.Errorf("%d client certificates, want one: %v", n, tc.clientCert)
			}
		})
	}
}
