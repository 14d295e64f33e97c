package intake

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// produced is one call of Produce.
type produced struct {
	source string
	body   []byte
}

// fakeProducer records what it is given, failing with err when set.
type fakeProducer struct {
	mu    sync.Mutex
	err   error
	got   []produced
	tries int
}

func (p *fakeProducer) Produce(_ context.Context, source string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tries++
	if p.err != nil {
		return p.err
	}
	p.got = append(p.got, produced{source, bytes.Clone(body)})
	return nil
}

func (p *fakeProducer) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

func (p *fakeProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// snsFake is Amazon's side of SNS for tests: a signing key with its
// self-signed certificate, served (with SubscribeURLs) over TLS by an
// httptest server whose client the verifier is given.
type snsFake struct {
	key        *rsa.PrivateKey
	certPEM    []byte
	srv        *httptest.Server
	certFetch  atomic.Int32
	subscribed atomic.Int32
}

func newSNSFake(t *testing.T, notBefore, notAfter time.Time) *snsFake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.test"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := &snsFake{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cert.pem", func(w http.ResponseWriter, _ *http.Request) {
		f.certFetch.Add(1)
		_, _ = w.Write(f.certPEM)
	})
	mux.HandleFunc("GET /garbage.pem", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("not a cert")) })
	mux.HandleFunc("GET /missing.pem", http.NotFound)
	mux.HandleFunc("GET /redirect.pem", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/cert.pem", http.StatusFound)
	})
	mux.HandleFunc("GET /subscribe", func(w http.ResponseWriter, _ *http.Request) {
		f.subscribed.Add(1)
		_, _ = w.Write([]byte("<ConfirmSubscriptionResponse/>"))
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// pattern matches the fake's host only.
func (f *snsFake) pattern() string { return `127\.0\.0\.1` }

func (f *snsFake) url(path string) string { return f.srv.URL + path }

// envelope builds a signed SNS message as JSON.
func (f *snsFake) envelope(t *testing.T, m map[string]string, version string) []byte {
	t.Helper()
	if _, ok := m["SigningCertURL"]; !ok {
		m["SigningCertURL"] = f.url("/cert.pem")
	}
	m["SignatureVersion"] = version
	msg := snsMessage{Type: m["Type"], MessageID: m["MessageId"], Token: m["Token"], TopicArn: m["TopicArn"],
		Message: m["Message"], Timestamp: m["Timestamp"], SubscribeURL: m["SubscribeURL"]}
	msg.Subject, msg.HasSubject = m["Subject"]
	s, err := msg.stringToSign()
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(signRSA(t, f.key, version, []byte(s)))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signRSA(t *testing.T, key *rsa.PrivateKey, version string, data []byte) []byte {
	t.Helper()
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum(data)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256(data)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

const testTopic = "arn:aws:sns:us-east-1:123456789012:ses-bounces"

func notification() map[string]string {
	return map[string]string{
		"Type":           "Notification",
		"MessageId":      "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn":       testTopic,
		"Subject":        "Amazon SES Email Event Notification",
		"Message":        `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent"}}` + "\n",
		"Timestamp":      "2026-03-01T11:59:59.000Z",
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
	}
}

func subscription(f *snsFake) map[string]string {
	return map[string]string{
		"Type":         "SubscriptionConfirmation",
		"MessageId":    "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		"Token":        "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
		"TopicArn":     testTopic,
		"Message":      "You have chosen to subscribe to the topic " + testTopic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		"SubscribeURL": f.url("/subscribe"),
		"Timestamp":    "2026-03-01T11:59:59.000Z",
	}
}
