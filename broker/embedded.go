package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka broker (kfake) that speaks the real wire
// protocol and persists its log under a data directory, so bounced runs on
// a laptop with nothing installed and keeps its topics across restarts.
type Embedded struct {
	cluster *kfake.Cluster
	addrs   []string
}

// EmbeddedConfig configures the embedded broker.
type EmbeddedConfig struct {
	// DataDir holds the broker's log; empty keeps everything in memory.
	DataDir string
	// Addr is where it listens; the host must be 127.0.0.1 (kfake binds
	// loopback only). Port 0 picks a free port.
	Addr string
	// Partitions for topics created implicitly. Default 1.
	Partitions int
}

// StartEmbedded starts the broker.
func StartEmbedded(cfg EmbeddedConfig, log *slog.Logger) (*Embedded, error) {
	port := 0
	if cfg.Addr != "" {
		host, p, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("embedded broker address %q: %w", cfg.Addr, err)
		}
		if host != "" && host != "127.0.0.1" && host != "localhost" {
			return nil, fmt.Errorf("embedded broker address %q: it listens on 127.0.0.1 only", cfg.Addr)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("embedded broker address %q: bad port", cfg.Addr)
		}
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.WithLogger(kfakeLogger{log}),
		kfake.BrokerConfigs(map[string]string{
			// Compact the changelog and suppression topics every minute
			// rather than kfake's hourly default.
			"log.cleaner.backoff.ms": "60000",
			// Accept records up to 8 MiB so that oversized ones reach
			// bounced and are dead-lettered with a reason, instead of
			// being refused at produce time where nobody sees them.
			"message.max.bytes": "8388608",
		}),
	}
	if cfg.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(cfg.Partitions))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	return &Embedded{cluster: c, addrs: c.ListenAddrs()}, nil
}

// Addrs are the broker's listen addresses.
func (e *Embedded) Addrs() []string { return e.addrs }

// Compact runs log compaction now (tests and `bounced demo` use it to show
// the compacted view).
func (e *Embedded) Compact() { e.cluster.Compact() }

// Close stops the broker and flushes its log to disk.
func (e *Embedded) Close() { e.cluster.Close() }

type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	lv := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	}
	if l.log.Enabled(context.Background(), lv) {
		l.log.Log(context.Background(), lv, "embedded broker: "+fmt.Sprintf(msg, args...))
	}
}
