// Package broker says how bounced reaches Kafka: the connection settings a
// real cluster needs (brokers, TLS, SASL) turned into clients for kafka-go
// and kadm, and the embedded broker (kfake, persisted on disk) that runs
// when no cluster is configured.
package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kgo"
	kplain "github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how to reach a Kafka cluster. The zero value means "start the
// embedded broker".
type Config struct {
	// Brokers are the seed brokers, host:port. Empty starts the embedded
	// broker under data_dir.
	Brokers []string `koanf:"brokers"`
	// ClientID names bounced's connections in broker logs. Default "bounced".
	ClientID string `koanf:"client_id"`
	TLS      TLS    `koanf:"tls"`
	SASL     SASL   `koanf:"sasl"`
}

// TLS settings. Enabled with no files uses the system roots.
type TLS struct {
	Enabled            bool   `koanf:"enabled"`
	CAFile             string `koanf:"ca_file"`
	CertFile           string `koanf:"cert_file"`
	KeyFile            string `koanf:"key_file"`
	InsecureSkipVerify bool   `koanf:"insecure_skip_verify"`
}

// SASL settings. Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
type SASL struct {
	Mechanism string `koanf:"mechanism"`
	Username  string `koanf:"username"`
	Password  string `koanf:"password"`
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafka.brokers: %q is not host:port: %v", b, err)
		}
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
		if c.SASL.Username != "" {
			return errors.New("kafka.sasl.mechanism: set it (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when kafka.sasl.username is set")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASL.Username == "" {
			return errors.New("kafka.sasl.username: required with kafka.sasl.mechanism")
		}
	default:
		return fmt.Errorf("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("kafka.tls.cert_file and kafka.tls.key_file go together")
	}
	if len(c.Brokers) == 0 && (c.TLS.Enabled || c.SASL.Mechanism != "") {
		return errors.New("kafka.brokers: TLS or SASL is configured but no brokers are; the embedded broker uses neither")
	}
	return nil
}

// Embedded reports whether the embedded broker is to be started.
func (c Config) Embedded() bool { return len(c.Brokers) == 0 }

func (c Config) clientID() string {
	if c.ClientID == "" {
		return "bounced"
	}
	return c.ClientID
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS.Enabled && c.TLS.CAFile == "" && c.TLS.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLS.InsecureSkipVerify}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: c.SASL.Username, Password: c.SASL.Password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, c.SASL.Username, c.SASL.Password)
	default:
		return scram.Mechanism(scram.SHA512, c.SASL.Username, c.SASL.Password)
	}
}

// Clients are the connection objects every kafka-go user in bounced shares.
type Clients struct {
	Brokers   []string
	Dialer    *kafka.Dialer
	Transport *kafka.Transport
	// MaxMessageBytes bounds the produce batches of the writers it makes:
	// a broker measures a whole batch against a topic's max.message.bytes.
	// 0 means Kafka's default, 1 MiB.
	MaxMessageBytes int
}

// Connect builds the kafka-go dialer and transport for brokers (the
// configured ones, or the embedded broker's).
func (c Config) Connect(brokers []string) (*Clients, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	mech, err := c.mechanism()
	if err != nil {
		return nil, fmt.Errorf("kafka.sasl: %w", err)
	}
	return &Clients{
		Brokers: brokers,
		Dialer: &kafka.Dialer{
			ClientID: c.clientID(), Timeout: 10 * time.Second, DualStack: true,
			TLS: tc, SASLMechanism: mech,
		},
		Transport: &kafka.Transport{
			ClientID: c.clientID(), DialTimeout: 10 * time.Second, TLS: tc, SASL: mech,
			MetadataTTL: 10 * time.Second,
		},
	}, nil
}

// Kgo returns franz-go options for the admin client (kadm).
func (c Config) Kgo(brokers []string) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(c.clientID())}
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	a := kplain.Auth{User: c.SASL.Username, Pass: c.SASL.Password}
	s := kscram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(a.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(s.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(s.AsSha512Mechanism()))
	}
	return opts, nil
}
