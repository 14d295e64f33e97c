package broker_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bounced-dev/bounced/broker"
)

// These tests run bounced's Kafka clients (kadm, the writers, kafka-go
// readers and consumer groups) against a kfake cluster that accepts only
// SCRAM-SHA-512 over TLS, with a CA made up for the test, and check that
// the ways a secured connection goes wrong fail fast with an error that
// says why.

const (
	scramUser = "bounced"
	scramPass = "s3cret-for-tests"
	// failFast bounds every negative case: a misconfigured client must
	// report its error, not retry until an operator notices.
	failFast = 8 * time.Second
)

// pki is a throwaway certificate authority and a server certificate for
// 127.0.0.1 signed by it.
type pki struct {
	caFile string // PEM of the CA, for kafka.tls.ca_file
	server tls.Certificate
}

func newPKI(t *testing.T, name string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kfake"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), name+"-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pki{
		caFile: caFile,
		server: tls.Certificate{Certificate: [][]byte{srvDER, caDER}, PrivateKey: srvKey},
	}
}

// secureCluster starts a kfake cluster that requires SCRAM-SHA-512 over
// TLS and returns its addresses and the CA its certificate chains to.
func secureCluster(t *testing.T) ([]string, pki, *kfake.Cluster) {
	t.Helper()
	p := newPKI(t, "trusted")
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(0),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", scramUser, scramPass),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), p, c
}

// config builds a broker.Config from the kafka.* keys an operator writes,
// so the test goes through the same names as bounced.yaml.
func config(t *testing.T, addrs []string, settings map[string]any) broker.Config {
	t.Helper()
	flat := map[string]any{"kafka.brokers": addrs}
	for k, v := range settings {
		flat["kafka."+k] = v
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(flat, "."), nil); err != nil {
		t.Fatal(err)
	}
	var c broker.Config
	if err := k.Unmarshal("kafka", &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate %v: %v", settings, err)
	}
	return c
}

func scramTLS(caFile, pass string) map[string]any {
	return map[string]any{
		"tls.enabled":    true,
		"tls.ca_file":    caFile,
		"sasl.mechanism": "SCRAM-SHA-512",
		"sasl.username":  scramUser,
		"sasl.password":  pass,
	}
}

func admin(t *testing.T, c broker.Config, addrs []string) *kadm.Client {
	t.Helper()
	opts, err := c.Kgo(addrs)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestSCRAMOverTLS(t *testing.T) {
	addrs, p, _ := secureCluster(t)
	cfg := config(t, addrs, scramTLS(p.caFile, scramPass))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	const topic, partitions, n = "bounced.attempts", 3, 30

	// kadm, as topics.Ensure uses it: create the topic, then see it.
	adm := admin(t, cfg, addrs)
	created, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil || created.Err != nil {
		t.Fatalf("create topic over SCRAM+TLS: %v / %v", err, created.Err)
	}
	listed, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("list topics over SCRAM+TLS: %v", err)
	}
	if d, ok := listed[topic]; !ok || len(d.Partitions) != partitions {
		t.Fatalf("listed topics %v, want %s with %d partitions", listed.Names(), topic, partitions)
	}

	// The keyed writer every producer in bounced uses.
	conn, err := cfg.Connect(addrs)
	if err != nil {
		t.Fatal(err)
	}
	w := conn.NewWriter()
	defer w.Close()
	w.Topic = topic
	want := make([]string, n)
	msgs := make([]kafka.Message, n)
	for i := range n {
		want[i] = fmt.Sprintf("bounce-%02d", i)
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "rcpt-%d@example.com", i), Value: []byte(want[i])}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce over SCRAM+TLS: %v", err)
	}

	t.Run("partition_reader", func(t *testing.T) {
		// The pipeline reads each owned partition with its own Reader
		// (processor/group.go newBatcher).
		var got []string
		for part := range partitions {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: conn.Brokers, Dialer: conn.Dialer, Topic: topic, Partition: part,
				MaxWait: 200 * time.Millisecond,
			})
			if err := r.SetOffset(kafka.FirstOffset); err != nil {
				t.Fatal(err)
			}
			end, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				r.Close()
				t.Fatal(err)
			}
			o, _ := end.Lookup(topic, int32(part))
			for range o.Offset {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					r.Close()
					t.Fatalf("read partition %d over SCRAM+TLS: %v", part, err)
				}
				got = append(got, string(m.Value))
			}
			r.Close()
		}
		sameSet(t, got, want)
	})

	t.Run("group_reader", func(t *testing.T) {
		const group = "bounced-reader"
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: conn.Brokers, Dialer: conn.Dialer, Topic: topic, GroupID: group,
			StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
			HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second,
		})
		defer r.Close()
		var got []string
		for range n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("group read over SCRAM+TLS: %v", err)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatalf("commit over SCRAM+TLS: %v", err)
			}
			got = append(got, string(m.Value))
		}
		sameSet(t, got, want)
		if err := r.Close(); err != nil {
			t.Fatalf("close group reader: %v", err)
		}
		committedAll(ctx, t, adm, group, topic, partitions, n)
	})

	t.Run("consumer_group", func(t *testing.T) {
		// The pipeline's own shape (processor/group.go runGroup): a
		// ConsumerGroup generation, a Reader per assigned partition,
		// offsets committed through the generation.
		const group = "bounced-pipeline"
		g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: group, Brokers: conn.Brokers, Dialer: conn.Dialer, Topics: []string{topic},
			SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second,
			JoinGroupBackoff: 200 * time.Millisecond, StartOffset: kafka.FirstOffset, Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gen, err := g.Next(ctx)
		if err != nil {
			t.Fatalf("join group over SCRAM+TLS: %v", err)
		}
		var got []string
		commits := map[string]map[int]int64{topic: {}}
		for _, a := range gen.Assignments[topic] {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: conn.Brokers, Dialer: conn.Dialer, Topic: topic, Partition: a.ID,
				MaxWait: 200 * time.Millisecond,
			})
			off := a.Offset
			if off < 0 {
				off = kafka.FirstOffset
			}
			if err := r.SetOffset(off); err != nil {
				t.Fatal(err)
			}
			end, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := end.Lookup(topic, int32(a.ID))
			for range o.Offset {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					r.Close()
					t.Fatalf("read partition %d in generation: %v", a.ID, err)
				}
				got = append(got, string(m.Value))
				commits[topic][a.ID] = m.Offset + 1
			}
			r.Close()
		}
		if len(gen.Assignments[topic]) != partitions {
			t.Fatalf("one member was assigned %d partitions, want all %d", len(gen.Assignments[topic]), partitions)
		}
		sameSet(t, got, want)
		if err := gen.CommitOffsets(commits); err != nil {
			t.Fatalf("commit through generation over SCRAM+TLS: %v", err)
		}
		committedAll(ctx, t, adm, group, topic, partitions, n)
	})
}

// committedAll checks through kadm that group committed every record of
// topic.
func committedAll(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, partitions int, n int64) {
	t.Helper()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s over SCRAM+TLS: %v", group, err)
	}
	var total int64
	for part := range partitions {
		o, ok := offs.Lookup(topic, int32(part))
		if !ok {
			t.Fatalf("group %s has no committed offset for %s/%d", group, topic, part)
		}
		if o.Err != nil {
			t.Fatalf("group %s offset for %s/%d: %v", group, topic, part, o.Err)
		}
		total += o.At
	}
	if total != n {
		t.Fatalf("group %s committed %d records in all, want %d", group, total, n)
	}
}

func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("read %d records %v, want %d %v", len(got), got, len(want), want)
	}
}

// failure is one misconfiguration and what each client's error must
// mention (any one of the words, lowercased; none: failing fast is enough).
type failure struct {
	name                        string
	settings                    map[string]any
	dialer, writer, group, kadm []string
}

var (
	saysAuth = []string{"sasl", "authenticat"}
	saysCert = []string{"certificate", "x509"}
)

func TestSecureConnectFailures(t *testing.T) {
	addrs, p, _ := secureCluster(t)
	untrusted := newPKI(t, "untrusted")
	plaintext := scramTLS("", scramPass)
	delete(plaintext, "tls.enabled")
	delete(plaintext, "tls.ca_file")
	for _, f := range []failure{
		{
			// kfake hangs up on a wrong SCRAM proof where Kafka first
			// answers SASL_AUTHENTICATION_FAILED (see
			// TestWrongPasswordKafkaAnswer): kafka-go's Dialer (so
			// its readers and groups) reads the hang-up as a failed
			// authentication, its Transport (the writers) and
			// franz-go say only EOF.
			name: "wrong_password", settings: scramTLS(p.caFile, "not-the-password"),
			dialer: saysAuth, group: saysAuth,
		},
		{
			name: "untrusted_ca", settings: scramTLS(untrusted.caFile, scramPass),
			dialer: saysCert, writer: saysCert, group: saysCert, kadm: saysCert,
		},
		{
			// A TLS listener hangs up on a plaintext request; franz-go
			// alone guesses why ("is TLS missing?").
			name: "plaintext_to_tls_port", settings: plaintext,
			kadm: []string{"tls"},
		},
	} {
		t.Run(f.name, func(t *testing.T) {
			refused(t, config(t, addrs, f.settings), addrs, f)
		})
	}
}

// TestWrongPasswordKafkaAnswer refuses a wrong password the way Kafka does
// (SaslAuthenticate answered with SASL_AUTHENTICATION_FAILED and a message,
// KIP-152) rather than kfake's bare hang-up, and requires every client
// bounced builds to pass the reason on.
func TestWrongPasswordKafkaAnswer(t *testing.T) {
	addrs, p, c := secureCluster(t)
	c.ControlKey(kmsg.SASLAuthenticate.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		// Only the client-final message ("c=biws,r=…,p=proof") carries
		// the proof; every proof sent to this cluster is wrong.
		if !bytes.HasPrefix(r.SASLAuthBytes, []byte("c=")) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
		return resp, nil, true
	})
	refused(t, config(t, addrs, scramTLS(p.caFile, "not-the-password")), addrs, failure{
		dialer: saysAuth, writer: saysAuth, group: saysAuth, kadm: saysAuth,
	})
}

// refused requires kafka-go's Dialer, a writer, a consumer group and kadm,
// all built from cfg, to fail fast with an error that mentions what f expects.
func refused(t *testing.T, cfg broker.Config, addrs []string, f failure) {
	t.Helper()
	conn, err := cfg.Connect(addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dialer", func(t *testing.T) {
		failsFast(t, f.dialer, func(ctx context.Context) error {
			c, err := conn.Dialer.DialContext(ctx, "tcp", addrs[0])
			if err == nil {
				c.Close()
			}
			return err
		})
	})
	t.Run("writer", func(t *testing.T) {
		w := conn.NewWriter()
		defer w.Close()
		w.Topic = "bounced.suppressions"
		failsFast(t, f.writer, func(ctx context.Context) error {
			return w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")})
		})
	})
	t.Run("consumer_group", func(t *testing.T) {
		// runGroup logs a failed join and retries, so Next must
		// return the error rather than retry inside.
		g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID: "bounced-refused", Brokers: conn.Brokers, Dialer: conn.Dialer, Topics: []string{"bounced.attempts"},
			Timeout: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		failsFast(t, f.group, func(ctx context.Context) error {
			_, err := g.Next(ctx)
			return err
		})
	})
	t.Run("kadm", func(t *testing.T) {
		adm := admin(t, cfg, addrs)
		failsFast(t, f.kadm, func(ctx context.Context) error {
			_, err := adm.ListTopics(ctx)
			return err
		})
	})
}

// failsFast runs op with a deadline and requires an error that mentions
// one of mention, well before the deadline.
func failsFast(t *testing.T, mention []string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), failFast)
	defer cancel()
	start := time.Now()
	err := op(ctx)
	took := time.Since(start)
	if err == nil {
		t.Fatal("succeeded; want an error")
	}
	t.Logf("error after %v: %v", took.Round(time.Millisecond), err)
	if ctx.Err() != nil {
		t.Fatalf("ran into the %v deadline instead of failing on its own: %v", failFast, err)
	}
	if len(mention) == 0 {
		return
	}
	msg := strings.ToLower(err.Error())
	for _, m := range mention {
		if strings.Contains(msg, m) {
			return
		}
	}
	t.Fatalf("error %q does not say what went wrong: want it to mention one of %q", err, mention)
}
