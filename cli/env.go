package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/processor/decide"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

// env is what a command needs at run time, built from the configuration.
type env struct {
	cfg      *config.Config
	log      *slog.Logger
	embedded *broker.Embedded // non-nil when this process runs the broker
	conn     *broker.Clients
	kgo      *kgo.Client
	adm      *kadm.Client
	ch       *clickhouse.Client
}

// kafkaMode says how a command reaches Kafka when no brokers are configured.
type kafkaMode int

const (
	// startEmbedded runs the embedded broker in this process.
	startEmbedded kafkaMode = iota
	// dialEmbedded expects a running `bounced run` (or `bounced broker`)
	// and connects to its embedded broker's address.
	dialEmbedded
)

func newEnv(ctx context.Context, cfg *config.Config, io IO, mode kafkaMode) (*env, error) {
	e := &env{cfg: cfg, log: cfg.Logger(os.Stderr)}
	for _, w := range cfg.Warnings {
		e.log.Warn(w)
	}
	brokers := cfg.Kafka.Conn.Brokers
	if cfg.Kafka.Conn.Embedded() {
		switch mode {
		case startEmbedded:
			if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
				return nil, fmt.Errorf("data_dir: %w", err)
			}
			emb, err := broker.StartEmbedded(broker.EmbeddedConfig{
				DataDir: cfg.DataDir, Addr: cfg.Kafka.EmbeddedAddr, Partitions: cfg.Kafka.Topics.Partitions,
			}, e.log)
			if err != nil {
				return nil, fmt.Errorf("%w (is another bounced already running on kafka.embedded_addr %s?)", err, cfg.Kafka.EmbeddedAddr)
			}
			e.embedded = emb
			brokers = emb.Addrs()
			e.log.Info("embedded Kafka broker started", "addr", brokers, "data_dir", cfg.DataDir)
		case dialEmbedded:
			c, err := net.DialTimeout("tcp", cfg.Kafka.EmbeddedAddr, 2*time.Second)
			if err != nil {
				return nil, fmt.Errorf("no Kafka broker: kafka.brokers is empty and nothing listens on kafka.embedded_addr %s; start `bounced run` (it embeds a broker) or set kafka.brokers", cfg.Kafka.EmbeddedAddr)
			}
			c.Close()
			brokers = []string{cfg.Kafka.EmbeddedAddr}
		}
	}
	conn, err := cfg.Kafka.Conn.Connect(brokers)
	if err != nil {
		e.close()
		return nil, err
	}
	conn.MaxMessageBytes = cfg.Kafka.Topics.WithDefaults().MaxMessageBytes
	e.conn = conn
	opts, err := cfg.Kafka.Conn.Kgo(brokers)
	if err != nil {
		e.close()
		return nil, err
	}
	if e.kgo, err = kgo.NewClient(opts...); err != nil {
		e.close()
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	e.adm = kadm.NewClient(e.kgo)
	return e, nil
}

// connect loads the configuration of a command that talks to an existing
// cluster (or a running member's embedded broker) and connects to it.
func connect(ctx context.Context, fs *pflag.FlagSet, args []string, io IO) (*env, error) {
	cfg, err := load(fs, args, io)
	if err != nil {
		return nil, err
	}
	return newEnv(ctx, cfg, io, dialEmbedded)
}

// openClickHouse connects and applies migrations.
func (e *env) openClickHouse(ctx context.Context) error {
	ch, err := clickhouse.Open(ctx, e.cfg.ClickHouse, e.log)
	if err != nil {
		return err
	}
	applied, err := ch.Migrate(ctx)
	if err != nil {
		ch.Close()
		return err
	}
	if len(applied) > 0 {
		e.log.Info("clickhouse migrations applied", "migrations", applied)
	}
	e.ch = ch
	return nil
}

// openClickHouseReadOnly connects for a command that only reads: nothing
// is created or migrated, and a schema behind this version is an error
// naming the missing migrations.
func (e *env) openClickHouseReadOnly(ctx context.Context) error {
	ch, err := clickhouse.OpenReadOnly(ctx, e.cfg.ClickHouse, e.log)
	if err != nil {
		return err
	}
	e.ch = ch
	return nil
}

func (e *env) close() {
	if e.ch != nil {
		e.ch.Close()
	}
	if e.kgo != nil {
		e.kgo.Close()
	}
	if e.embedded != nil {
		e.embedded.Close()
	}
}

// store adapts the ClickHouse client to the pipeline's Store.
type store struct{ c *clickhouse.Client }

func (s store) Assign(ctx context.Context, topic string, partition int32) error {
	_, err := s.c.Watermark(ctx, topic, partition)
	return err
}

func (s store) Revoke(topic string, partition int32) { s.c.ForgetWatermark(topic, partition) }

func (s store) WriteAttempts(ctx context.Context, rows []decide.Row) error {
	out := make([]clickhouse.AttemptRow, len(rows))
	for i, r := range rows {
		out[i] = clickhouse.AttemptRow{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Attempt: r.Attempt,
			SendDelivered: r.Send.Delivered, SendBounced: r.Send.Bounced}
	}
	return s.c.InsertAttempts(ctx, out)
}

func (s store) WriteAlerts(ctx context.Context, as []event.Alert) error {
	return s.c.InsertAlerts(ctx, as)
}

func (s store) WriteSuppressions(ctx context.Context, changes []decide.Change) error {
	out := make([]clickhouse.SuppressionRow, len(changes))
	for i, c := range changes {
		out[i] = clickhouse.SuppressionRow{Address: c.Address, Record: c.Record, Version: c.Version}
	}
	return s.c.InsertSuppressions(ctx, out)
}

var errStopped = errors.New("stopped")
