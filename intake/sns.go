package intake

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The SNS message types.
const (
	snsNotification   = "Notification"
	snsSubscription   = "SubscriptionConfirmation"
	snsUnsubscription = "UnsubscribeConfirmation"
)

const (
	// maxCerts bounds the certificate cache. SNS signs with one
	// certificate per region at a time, rotated rarely; 64 is plenty and
	// keeps a flood of distinct (matching) URLs from growing memory.
	maxCerts = 64
	// maxCertBytes bounds a fetched certificate (they are ~2 KB).
	maxCertBytes = 64 << 10
	// fetchTimeout bounds a certificate or SubscribeURL fetch when Deps
	// brings no client.
	fetchTimeout = 10 * time.Second
)

// snsMessage is the SNS HTTP(S) envelope: the fields the signature covers
// and those needed to check it. Documented at
// https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html and
// .../http-subscription-confirmation-json.html.
type snsMessage struct {
	Type, MessageID, Token, TopicArn, Message, Timestamp string
	Subject                                              string
	HasSubject                                           bool
	SignatureVersion, Signature, SigningCertURL          string
	SubscribeURL                                         string
}

// field is where key's value goes, by its exact (case-sensitive) name.
func (m *snsMessage) field(key string) *string {
	switch key {
	case "Type":
		return &m.Type
	case "MessageId":
		return &m.MessageID
	case "Token":
		return &m.Token
	case "TopicArn":
		return &m.TopicArn
	case "Subject":
		return &m.Subject
	case "Message":
		return &m.Message
	case "Timestamp":
		return &m.Timestamp
	case "SignatureVersion":
		return &m.SignatureVersion
	case "Signature":
		return &m.Signature
	case "SigningCertURL":
		return &m.SigningCertURL
	case "SubscribeURL":
		return &m.SubscribeURL
	}
	return nil
}

// parseSNS reads the envelope strictly. The body is produced unchanged and
// read again downstream, so it must not mean one thing here and another
// there: a key twice, or a signed key in another case (Go's encoding/json
// matches keys ignoring case, and takes the last of duplicates), is
// refused rather than guessed at.
func parseSNS(body []byte) (snsMessage, error) {
	var m snsMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return m, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return m, fmt.Errorf("reading a key: %w", err)
		}
		key, _ := tok.(string)
		lower := strings.ToLower(key)
		if seen[lower] {
			return m, fmt.Errorf("key %q appears twice (ignoring case)", clip(key, 64))
		}
		seen[lower] = true
		dst := m.field(key)
		if dst == nil {
			if m.field(canonicalSNSKey(lower)) != nil {
				return m, fmt.Errorf("key %q differs from SNS's %q only in case", clip(key, 64), canonicalSNSKey(lower))
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return m, fmt.Errorf("value of %q: %w", clip(key, 64), err)
			}
			continue
		}
		var v *string
		if err := dec.Decode(&v); err != nil {
			return m, fmt.Errorf("value of %q: want a string: %w", key, err)
		}
		if v != nil {
			*dst = *v
			if key == "Subject" {
				m.HasSubject = true
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return m, fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, errors.New("data after the JSON object")
	}
	return m, nil
}

// canonicalSNSKey is the SNS spelling of a lower-cased key, or "".
func canonicalSNSKey(lower string) string {
	for _, k := range []string{"Type", "MessageId", "Token", "TopicArn", "Subject", "Message", "Timestamp",
		"SignatureVersion", "Signature", "SigningCertURL", "SubscribeURL"} {
		if strings.ToLower(k) == lower {
			return k
		}
	}
	return ""
}

// stringToSign is the canonical string SNS signs: for each field in this
// fixed order, its name, a newline, its value, a newline. Notifications
// sign Message, MessageId, Subject (only when present), Timestamp,
// TopicArn, Type; subscription and unsubscribe confirmations sign
// Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type. As
// documented at
// https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message-verify-message-signature.html.
func (m *snsMessage) stringToSign() (string, error) {
	type kv struct{ k, v string }
	var fields []kv
	switch m.Type {
	case snsNotification:
		fields = append(fields, kv{"Message", m.Message}, kv{"MessageId", m.MessageID})
		if m.HasSubject {
			fields = append(fields, kv{"Subject", m.Subject})
		}
		fields = append(fields, kv{"Timestamp", m.Timestamp}, kv{"TopicArn", m.TopicArn}, kv{"Type", m.Type})
	case snsSubscription, snsUnsubscription:
		fields = []kv{{"Message", m.Message}, {"MessageId", m.MessageID}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type}}
	case "":
		return "", errors.New("no Type")
	default:
		return "", fmt.Errorf("Type %q is not Notification, SubscriptionConfirmation or UnsubscribeConfirmation", clip(m.Type, 64))
	}
	var b strings.Builder
	for _, f := range fields {
		if f.v == "" && f.k != "Subject" && f.k != "Message" {
			return "", fmt.Errorf("%s message without %s", m.Type, f.k)
		}
		b.WriteString(f.k)
		b.WriteByte('\n')
		b.WriteString(f.v)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// snsVerifier checks SES notifications delivered through SNS.
type snsVerifier struct {
	hosts   *regexp.Regexp
	topics  []string
	confirm bool
	client  *http.Client
	now     func() time.Time
	certs   *certCache
}

func newSNSVerifier(cfg SES, client *http.Client, now func() time.Time) (*snsVerifier, error) {
	hosts, err := hostPattern(cfg.CertHostPattern)
	if err != nil {
		return nil, fmt.Errorf("intake.ses.cert_host_pattern: %w", err)
	}
	c := &http.Client{Timeout: fetchTimeout}
	if client != nil {
		cp := *client
		c = &cp
		if c.Timeout == 0 {
			c.Timeout = fetchTimeout
		}
	}
	// A redirect would take the fetch to a host the pattern never saw.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &snsVerifier{hosts: hosts, topics: cfg.TopicARNs, confirm: cfg.ConfirmSubscriptions, client: c, now: now,
		certs: &certCache{certs: map[string]*x509.Certificate{}}}, nil
}

func (v *snsVerifier) verify(ctx context.Context, r *http.Request, body []byte) (outcome, error) {
	m, err := parseSNS(body)
	if strings.EqualFold(r.Header.Get("X-Amz-Sns-Rawdelivery"), "true") || (err == nil && m.Type == "" && m.Signature == "") {
		return outcome{}, refusef(http.StatusUnauthorized, ResultUnauthorized,
			"no SNS envelope (raw message delivery?): it cannot be verified; turn raw message delivery off on the SNS subscription")
	}
	if err != nil {
		return outcome{}, refusef(http.StatusBadRequest, ResultMalformed, "SNS envelope: %v", err)
	}
	if err := v.checkSignature(ctx, &m); err != nil {
		return outcome{}, err
	}
	if len(v.topics) > 0 && !slices.Contains(v.topics, m.TopicArn) {
		return outcome{}, refusef(http.StatusForbidden, ResultWrongTopic, "topic %s is not in intake.ses.topic_arns", clip(m.TopicArn, 256))
	}
	switch m.Type {
	case snsSubscription:
		if !v.confirm {
			return outcome{skip: ResultIgnored, reason: "subscription to " + m.TopicArn +
				" not confirmed: intake.ses.confirm_subscriptions is off; confirm it in the SNS console"}, nil
		}
		if err := v.confirmSubscription(ctx, m.SubscribeURL); err != nil {
			return outcome{}, err
		}
		return outcome{skip: ResultSubscriptionConfirmed, reason: "subscribed to " + m.TopicArn}, nil
	case snsUnsubscription:
		return outcome{skip: ResultIgnored, reason: "unsubscribed from " + m.TopicArn}, nil
	}
	return outcome{}, nil
}

// checkSignature verifies m's Signature against the certificate at its
// SigningCertURL.
func (v *snsVerifier) checkSignature(ctx context.Context, m *snsMessage) error {
	s, err := m.stringToSign()
	if err != nil {
		return refusef(http.StatusBadRequest, ResultMalformed, "SNS envelope: %v", err)
	}
	if m.Signature == "" || m.SigningCertURL == "" {
		return refusef(http.StatusUnauthorized, ResultUnauthorized, "SNS envelope without Signature or SigningCertURL")
	}
	var hash crypto.Hash
	var digest []byte
	switch m.SignatureVersion {
	case "1":
		d := sha1.Sum([]byte(s))
		hash, digest = crypto.SHA1, d[:]
	case "2":
		d := sha256.Sum256([]byte(s))
		hash, digest = crypto.SHA256, d[:]
	default:
		return refusef(http.StatusUnauthorized, ResultBadSignature, "SignatureVersion %q; want 1 or 2", clip(m.SignatureVersion, 16))
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return refusef(http.StatusUnauthorized, ResultBadSignature, "Signature is not base64")
	}
	u, rf := v.checkURL(m.SigningCertURL, "SigningCertURL")
	if rf != nil {
		return rf
	}
	cert, err := v.certs.get(ctx, v.client, u.String())
	if err != nil {
		return err
	}
	now := v.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return refusef(http.StatusUnauthorized, ResultBadSignature, "signing certificate valid %s to %s, not now",
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), hash, digest, sig); err != nil {
		return refusef(http.StatusUnauthorized, ResultBadSignature, "SNS signature does not verify")
	}
	return nil
}

// checkURL accepts only https URLs on hosts matching cert_host_pattern.
func (v *snsVerifier) checkURL(raw, what string) (*url.URL, *refusal) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || !v.hosts.MatchString(u.Hostname()) {
		host := ""
		if err == nil {
			host = u.Hostname()
		}
		return nil, refusef(http.StatusUnauthorized, ResultBadSignature,
			"%s is not https on a host matching intake.ses.cert_host_pattern (host %q)", what, host)
	}
	return u, nil
}

// confirmSubscription visits the SubscribeURL of a verified confirmation.
// The URL carries a token, so it is never logged.
func (v *snsVerifier) confirmSubscription(ctx context.Context, raw string) error {
	u, rf := v.checkURL(raw, "SubscribeURL")
	if rf != nil {
		return rf
	}
	if _, err := fetch(ctx, v.client, u.String(), maxCertBytes); err != nil {
		return refusef(http.StatusServiceUnavailable, ResultFetchFailed, "confirming the subscription at %s: %v", u.Host, err)
	}
	return nil
}

// fetch GETs target and reads at most limit bytes of a 200 answer.
func fetch(ctx context.Context, client *http.Client, target string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a token
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("answer over %d bytes", limit)
	}
	return b, nil
}

// certCache holds parsed SNS signing certificates by URL, at most
// maxCerts; a full cache forgets its oldest entry.
type certCache struct {
	mu    sync.Mutex
	certs map[string]*x509.Certificate
	order []string
}

// get returns the certificate at key (its URL), fetching it on first use. Only
// certificates that parse and hold an RSA key are cached.
func (c *certCache) get(ctx context.Context, client *http.Client, key string) (*x509.Certificate, error) {
	c.mu.Lock()
	cert, ok := c.certs[key]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	b, err := fetch(ctx, client, key, maxCertBytes)
	if err != nil {
		return nil, refusef(http.StatusServiceUnavailable, ResultFetchFailed, "fetching the SNS signing certificate: %v", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, refusef(http.StatusUnauthorized, ResultBadSignature, "SigningCertURL does not serve a PEM certificate")
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, refusef(http.StatusUnauthorized, ResultBadSignature, "SNS signing certificate: %v", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, refusef(http.StatusUnauthorized, ResultBadSignature, "SNS signing certificate holds a %T, want RSA", cert.PublicKey)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.certs[key]; !ok {
		if len(c.order) >= maxCerts {
			delete(c.certs, c.order[0])
			c.order = c.order[1:]
		}
		c.certs[key] = cert
		c.order = append(c.order, key)
	}
	return cert, nil
}
