package intake

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Defaults applied to zero fields of Config.
const (
	// DefaultMaxBodyBytes leaves 64 KiB of Kafka's default 1 MiB message
	// for the record's key, headers and batch framing. The caller clamps
	// it to kafka.max_message_bytes.
	DefaultMaxBodyBytes = 1<<20 - 64<<10
	// DefaultRate is the sustained requests per second allowed per source.
	DefaultRate = 200
	// DefaultBurst is how many requests a source may send at once above
	// the rate.
	DefaultBurst = 400
	// DefaultMaxAge bounds how old (or how far in the future) a signed
	// SendGrid or Mailgun timestamp may be.
	DefaultMaxAge = 10 * time.Minute
	// DefaultCertHostPattern matches the hosts SNS serves its signing
	// certificates and SubscribeURLs from: sns.<region>.amazonaws.com
	// and, in the China regions, sns.<region>.amazonaws.com.cn.
	DefaultCertHostPattern = `sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?`
	// DefaultSecretHeader is the default of Postmark.SecretHeader.
	DefaultSecretHeader = "X-Bounced-Secret"
	// MinSecretLen is the shortest Postmark shared secret or password
	// accepted: anything shorter is guessable by a patient client.
	MinSecretLen = 16
)

// Config is the intake.* section: which providers' webhooks bounced
// receives and how it checks that they are genuine. The zero value is
// valid: intake disabled, every provider's endpoint off. A provider's
// endpoint exists only when its credential is set (for SES, the topics it
// accepts: the SNS signature is Amazon's, but any AWS account's topic gets
// one).
type Config struct {
	// Enabled mounts the endpoints. Default false.
	Enabled bool `koanf:"enabled"`
	// MaxBodyBytes bounds a request body; larger answers 413. Default
	// 1 MiB − 64 KiB (DefaultMaxBodyBytes).
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// Rate is the requests per second each source may sustain; more
	// answer 429 with Retry-After. Default 200.
	Rate float64 `koanf:"rate"`
	// Burst is the requests a source may send at once. Default 400.
	Burst int `koanf:"burst"`

	SES      SES      `koanf:"ses"`
	SendGrid SendGrid `koanf:"sendgrid"`
	Mailgun  Mailgun  `koanf:"mailgun"`
	Postmark Postmark `koanf:"postmark"`
	Postal   Postal   `koanf:"postal"`
}

// SES is intake.ses: Amazon SES notifications delivered by an SNS HTTPS
// subscription. The endpoint is on when TopicARNs lists a topic.
type SES struct {
	// CertHostPattern is a regular expression the host of SigningCertURL
	// and SubscribeURL must match in full. Default
	// DefaultCertHostPattern.
	CertHostPattern string `koanf:"cert_host_pattern"`
	// TopicARNs are the only topics accepted; others answer 403. Empty
	// (the default) turns the endpoint off: a valid SNS signature proves
	// only that some AWS account's topic sent the message, and anyone can
	// create a topic and subscribe this endpoint.
	TopicARNs []string `koanf:"topic_arns"`
	// ConfirmSubscriptions visits the SubscribeURL of a verified
	// SubscriptionConfirmation. Default true (in the config package's
	// defaults; the Go zero value, false, leaves confirming to the
	// operator).
	ConfirmSubscriptions bool `koanf:"confirm_subscriptions"`
}

// SendGrid is intake.sendgrid: the signed Event Webhook.
type SendGrid struct {
	// PublicKey is the verification key as SendGrid's settings page
	// shows it (base64 of the DER public key) or PEM. Empty: endpoint off.
	PublicKey string `koanf:"public_key"`
	// MaxAge bounds the signed timestamp's distance from now. Default 10m.
	MaxAge time.Duration `koanf:"max_age"`
}

// Mailgun is intake.mailgun: JSON (v3) webhooks.
type Mailgun struct {
	// SigningKey is the account's HTTP webhook signing key. Empty:
	// endpoint off.
	SigningKey string `koanf:"signing_key"`
	// MaxAge bounds the signed timestamp's distance from now and how long
	// a token is remembered against replays. Default 10m.
	MaxAge time.Duration `koanf:"max_age"`
}

// Postmark is intake.postmark. Postmark does not sign webhooks; it sends
// basic-auth credentials embedded in the webhook URL, or custom headers.
// Either way configured is accepted. Nothing set: endpoint off.
type Postmark struct {
	// Username and Password are the basic-auth credentials. Default empty.
	Username string `koanf:"username"`
	// Password is never logged. Default empty.
	Password string `koanf:"password"`
	// SecretHeader names the header carrying Secret. Default
	// "X-Bounced-Secret".
	SecretHeader string `koanf:"secret_header"`
	// Secret is the header's value, at least 16 characters. Default empty.
	Secret string `koanf:"secret"`
}

// Postal is intake.postal.
type Postal struct {
	// PublicKey is the server's signing key as Postal shows it (base64 of
	// the DER public key, or the whole "v=DKIM1; ... p=..." record) or
	// PEM. Empty: endpoint off.
	PublicKey string `koanf:"public_key"`
}

// Defaults are the intake.* keys with their default values, for the
// config package's defaults map (which also makes them the known keys).
func Defaults() map[string]any {
	return map[string]any{
		"intake.enabled":                   false,
		"intake.max_body_bytes":            DefaultMaxBodyBytes,
		"intake.rate":                      DefaultRate,
		"intake.burst":                     DefaultBurst,
		"intake.ses.cert_host_pattern":     DefaultCertHostPattern,
		"intake.ses.topic_arns":            []string{},
		"intake.ses.confirm_subscriptions": true,
		"intake.sendgrid.public_key":       "",
		"intake.sendgrid.max_age":          DefaultMaxAge.String(),
		"intake.mailgun.signing_key":       "",
		"intake.mailgun.max_age":           DefaultMaxAge.String(),
		"intake.postmark.username":         "",
		"intake.postmark.password":         "",
		"intake.postmark.secret_header":    DefaultSecretHeader,
		"intake.postmark.secret":           "",
		"intake.postal.public_key":         "",
	}
}

// Validate reports the first setting that cannot work, named by its key.
func (c *Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("intake.max_body_bytes: %d is negative; want a byte count (0 for the default %d)", c.MaxBodyBytes, DefaultMaxBodyBytes)
	case c.Rate < 0:
		return fmt.Errorf("intake.rate: %g is negative; want requests per second (0 for the default %d)", c.Rate, DefaultRate)
	case c.Burst < 0:
		return fmt.Errorf("intake.burst: %d is negative; want a request count (0 for the default %d)", c.Burst, DefaultBurst)
	}
	if _, err := hostPattern(c.SES.CertHostPattern); err != nil {
		return fmt.Errorf("intake.ses.cert_host_pattern: %w", err)
	}
	for i, arn := range c.SES.TopicARNs {
		if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":sns:") {
			return fmt.Errorf("intake.ses.topic_arns[%d]: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", i, arn)
		}
	}
	if c.SendGrid.PublicKey != "" {
		if _, err := parseECDSAKey(c.SendGrid.PublicKey); err != nil {
			return fmt.Errorf("intake.sendgrid.public_key: %w", err)
		}
	}
	if c.SendGrid.MaxAge < 0 {
		return fmt.Errorf("intake.sendgrid.max_age: %s is negative; want a duration such as 10m", c.SendGrid.MaxAge)
	}
	if c.Mailgun.MaxAge < 0 {
		return fmt.Errorf("intake.mailgun.max_age: %s is negative; want a duration such as 10m", c.Mailgun.MaxAge)
	}
	if err := c.Postmark.validate(); err != nil {
		return err
	}
	if c.Postal.PublicKey != "" {
		if _, err := parseRSAKey(c.Postal.PublicKey); err != nil {
			return fmt.Errorf("intake.postal.public_key: %w", err)
		}
	}
	return nil
}

func (p Postmark) validate() error {
	switch {
	case p.Username != "" && p.Password == "":
		return errors.New("intake.postmark.password: required with intake.postmark.username")
	case p.Password != "" && p.Username == "":
		return errors.New("intake.postmark.username: required with intake.postmark.password")
	case p.Password != "" && len(p.Password) < MinSecretLen:
		return fmt.Errorf("intake.postmark.password: %d characters; want at least %d", len(p.Password), MinSecretLen)
	case p.Secret != "" && len(p.Secret) < MinSecretLen:
		return fmt.Errorf("intake.postmark.secret: %d characters; want at least %d", len(p.Secret), MinSecretLen)
	case strings.ContainsAny(p.SecretHeader, " \t\r\n:"):
		return fmt.Errorf("intake.postmark.secret_header: %q is not a header name", p.SecretHeader)
	}
	return nil
}

// hostPattern compiles pattern (default DefaultCertHostPattern) anchored
// at both ends, so "sns.us-east-1.amazonaws.com.evil.example" does not
// match by its prefix.
func hostPattern(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		pattern = DefaultCertHostPattern
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%q is not a regular expression: %w", pattern, err)
	}
	return re, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
