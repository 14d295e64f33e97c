package intake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	ecKey, rsaPub := base64.StdEncoding.EncodeToString(ecDER), base64.StdEncoding.EncodeToString(rsaDER)
	tests := []struct {
		name string
		cfg  Config
		key  string // the key the error must name; "" for valid
	}{
		{name: "zero value", cfg: Config{}},
		{name: "everything set", cfg: Config{Enabled: true, MaxBodyBytes: 1 << 20, Rate: 5, Burst: 10,
			SES:      SES{CertHostPattern: `sns\.eu-west-1\.amazonaws\.com`, TopicARNs: []string{"arn:aws:sns:eu-west-1:1:t"}, ConfirmSubscriptions: true},
			SendGrid: SendGrid{PublicKey: ecKey, MaxAge: time.Minute},
			Mailgun:  Mailgun{SigningKey: "k", MaxAge: time.Minute},
			Postmark: Postmark{Username: "u", Password: "0123456789abcdef", Secret: "0123456789abcdef"},
			Postal:   Postal{PublicKey: rsaPub}}},
		{name: "negative body", cfg: Config{MaxBodyBytes: -1}, key: "intake.max_body_bytes"},
		{name: "negative rate", cfg: Config{Rate: -1}, key: "intake.rate"},
		{name: "negative burst", cfg: Config{Burst: -1}, key: "intake.burst"},
		{name: "bad pattern", cfg: Config{SES: SES{CertHostPattern: "("}}, key: "intake.ses.cert_host_pattern"},
		{name: "bad topic", cfg: Config{SES: SES{TopicARNs: []string{"ses-bounces"}}}, key: "intake.ses.topic_arns[0]"},
		{name: "sendgrid key is RSA", cfg: Config{SendGrid: SendGrid{PublicKey: rsaPub}}, key: "intake.sendgrid.public_key"},
		{name: "sendgrid key garbage", cfg: Config{SendGrid: SendGrid{PublicKey: "not a key!"}}, key: "intake.sendgrid.public_key"},
		{name: "sendgrid negative age", cfg: Config{SendGrid: SendGrid{MaxAge: -time.Second}}, key: "intake.sendgrid.max_age"},
		{name: "mailgun negative age", cfg: Config{Mailgun: Mailgun{MaxAge: -time.Second}}, key: "intake.mailgun.max_age"},
		{name: "postmark user alone", cfg: Config{Postmark: Postmark{Username: "u"}}, key: "intake.postmark.password"},
		{name: "postmark password alone", cfg: Config{Postmark: Postmark{Password: "0123456789abcdef"}}, key: "intake.postmark.username"},
		{name: "postmark short password", cfg: Config{Postmark: Postmark{Username: "u", Password: "short"}}, key: "intake.postmark.password"},
		{name: "postmark short secret", cfg: Config{Postmark: Postmark{Secret: "short"}}, key: "intake.postmark.secret"},
		{name: "postmark bad header", cfg: Config{Postmark: Postmark{SecretHeader: "X Secret:"}}, key: "intake.postmark.secret_header"},
		{name: "postal key is ECDSA", cfg: Config{Postal: Postal{PublicKey: ecKey}}, key: "intake.postal.public_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.key == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.key != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.key+":")):
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.key)
			}
		})
	}
}

func TestDefaultHostPattern(t *testing.T) {
	re, err := hostPattern("")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"sns.us-east-1.amazonaws.com":                 true,
		"sns.cn-north-1.amazonaws.com.cn":             true,
		"sns.us-gov-west-1.amazonaws.com":             true,
		"sns.us-east-1.amazonaws.com.evil.example":    false,
		"evil.example/sns.us-east-1.amazonaws.com":    false,
		"sqs.us-east-1.amazonaws.com":                 false,
		"xsns.us-east-1.amazonaws.com":                false,
		"sns.us-east-1.amazonaws.comx":                false,
		"sns.us-east-1.amazonaws.com.cn.evil.example": false,
	} {
		if got := re.MatchString(host); got != want {
			t.Errorf("%s: match %v, want %v", host, got, want)
		}
	}
}

// TestDefaultsCoverConfig: every koanf key of Config has a default, so
// the config package knows it.
func TestDefaultsCoverConfig(t *testing.T) {
	d := Defaults()
	for _, k := range []string{"enabled", "max_body_bytes", "rate", "burst", "ses.cert_host_pattern", "ses.topic_arns",
		"ses.confirm_subscriptions", "sendgrid.public_key", "sendgrid.max_age", "mailgun.signing_key", "mailgun.max_age",
		"postmark.username", "postmark.password", "postmark.secret_header", "postmark.secret", "postal.public_key"} {
		if _, ok := d["intake."+k]; !ok {
			t.Errorf("no default for intake.%s", k)
		}
	}
	if len(d) != 16 {
		t.Errorf("%d defaults, want 16", len(d))
	}
}
