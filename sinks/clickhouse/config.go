package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Defaults applied to zero fields of Config.
const (
	DefaultAddr        = "127.0.0.1:19000"
	DefaultDatabase    = "bounced"
	DefaultUsername    = "default"
	DefaultDialTimeout = 10 * time.Second
	DefaultBatchSize   = 100000
	DefaultMaxConns    = 8

	// DefaultDashboardMaxConns is the default of DashboardMaxConns.
	DefaultDashboardMaxConns = 2

	// DefaultInsertLinger is how long, by default, an INSERT of attempts
	// or outcomes waits for other partitions' rows (InsertLinger).
	DefaultInsertLinger = 50 * time.Millisecond

	// MaxInsertLinger bounds InsertLinger: the wait delays every flush.
	MaxInsertLinger = 5 * time.Second

	// DefaultRetention is bounced's configured default for Retention
	// (clickhouse.retention), the same 400 days as the TTL modern servers
	// get from the migrations.
	DefaultRetention = 400 * 24 * time.Hour

	// MaxBatchSize bounds BatchSize below the server's max_insert_block_size
	// (1,048,576) so one INSERT is one block: the server then writes it as a
	// unit, which the offset watermark relies on.
	MaxBatchSize = 1_000_000
)

// Config says where ClickHouse is and how to write to it. The zero value is
// valid: a local server started by scripts/clickhouse.sh. Field tags are the
// koanf keys under "clickhouse.".
type Config struct {
	// Addr is host:port of the native protocol (not HTTP). Default 127.0.0.1:19000.
	Addr string `koanf:"addr"`
	// Database holds bounced's tables; created when missing. Default "bounced".
	Database string `koanf:"database"`
	// Username defaults to "default".
	Username string `koanf:"username"`
	// Password is never logged. Default empty.
	Password string `koanf:"password"`
	// TLS enables TLS on the native connection (ClickHouse Cloud's 9440).
	TLS bool `koanf:"tls"`
	// TLSInsecureSkipVerify disables certificate verification; for tests only.
	TLSInsecureSkipVerify bool `koanf:"tls_insecure_skip_verify"`
	// TLSCAFile is a PEM file of the CA certificates the server's
	// certificate is verified against, instead of the system's. Needs TLS.
	TLSCAFile string `koanf:"tls_ca_file"`
	// TLSCertFile and TLSKeyFile are a PEM client certificate and its key,
	// for servers that authenticate clients by certificate; both or
	// neither. Need TLS.
	TLSCertFile string `koanf:"tls_cert_file"`
	TLSKeyFile  string `koanf:"tls_key_file"`
	// TLSServerName is the name the server's certificate must carry, when
	// it is not Addr's host (an address behind a load balancer, an IP).
	// Needs TLS.
	TLSServerName string `koanf:"tls_server_name"`
	// DialTimeout bounds connecting and the handshake. Default 10s.
	DialTimeout time.Duration `koanf:"dial_timeout"`
	// BatchSize is the most rows one INSERT carries; larger inputs are split.
	// Default 100000, at most MaxBatchSize. Every INSERT writes a part into
	// each table it feeds, and creating part files is most of what the
	// server spends on small INSERTs: in `bounced bench`, 10000-row INSERTs
	// cost the server 9 µs of CPU per attempts row, 110000-row ones 3.
	BatchSize int `koanf:"batch_size"`
	// InsertLinger is how long InsertAttempts waits for the calls of other
	// partitions (stage 2's other workers) to send their rows in the same
	// INSERT: fewer, larger parts in attempts, outcomes and every
	// materialized view (still at most BatchSize rows per INSERT). The wait
	// ends early once every partition that wrote in the last two seconds
	// has joined. Default 50ms; negative turns it off (one INSERT per call).
	InsertLinger time.Duration `koanf:"insert_linger"`
	// MaxConns bounds open connections (one per concurrently writing
	// partition is plenty). Default 8.
	MaxConns int `koanf:"max_conns"`
	// DashboardMaxConns bounds the separate pool the HTTP dashboard reads
	// through (ReadPool), so slow dashboard queries never hold the
	// connections stage 2 inserts with. Default 2.
	DashboardMaxConns int `koanf:"dashboard_max_conns"`
	// Retention is how long raw rows (attempts, outcomes) are kept after
	// their send, at least: `bounced run` drops, once a day, every monthly
	// partition whose month ended longer ago (DropPartitionsBefore), which is
	// how 18.16 expires data; modern servers also have a 400-day TTL from the
	// migrations. Rollups are kept. 0 keeps everything (the zero value);
	// bounced's configuration default is DefaultRetention.
	Retention time.Duration `koanf:"retention"`
	// Compression of the native protocol's data blocks: "lz4", "zstd",
	// "none", or "auto" (the default): none when Addr is a loopback
	// address, where compressing costs both ends CPU and saves no network,
	// lz4 otherwise.
	Compression string `koanf:"compression"`
	// Cluster is the name of a cluster in the servers' remote_servers
	// configuration. Empty (the default) is one server, as before. Set, every
	// migration runs ON CLUSTER, tables get the Replicated form of their
	// engine, inserts wait for InsertQuorum replicas and the watermark is read
	// with sequential consistency (cluster.go). With several shards each
	// Kafka partition's rows live on shard partition mod shards, in
	// <table>_local tables under Distributed ones (shards.go).
	Cluster string `koanf:"cluster"`
	// ReplicaPath is the ZooKeeper path prefix of the Replicated tables; the
	// table's path is <ReplicaPath>/<database>/<table>. Default
	// DefaultReplicaPath; the server expands the {shard} macro.
	ReplicaPath string `koanf:"replica_path"`
	// InsertQuorum, with Cluster set and 2 or more, is how many replicas
	// must have an INSERT of attempts or outcomes before it returns
	// (durability against losing a replica's disk). 0 (the default) or 1
	// waits for none: effectively-once does not need it (cluster.go), and
	// on 18.16 a quorum INSERT fails while the table's previous one is
	// unconfirmed, which can fail an INSERT half-way through its
	// materialized views.
	InsertQuorum int `koanf:"insert_quorum"`
}

// DefaultReplicaPath is Config.ReplicaPath's default.
const DefaultReplicaPath = "/clickhouse/tables/{shard}"

// Compression methods (Config.Compression).
const (
	CompressionAuto = "auto"
	CompressionNone = "none"
	CompressionLZ4  = "lz4"
	CompressionZSTD = "zstd"
)

// dbName is what ClickHouse accepts unquoted; anything else is more likely a
// typo than an intended name, and it keeps the DDL free of quoting rules.
var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports the first invalid setting, naming its configuration key.
// Zero values are valid: they mean the default.
func (c Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		host, port, err := net.SplitHostPort(c.Addr)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("clickhouse.addr: %q is not host:port: %w", c.Addr, err))
		case host == "":
			errs = append(errs, fmt.Errorf("clickhouse.addr: %q has no host", c.Addr))
		default:
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("clickhouse.addr: %q: port must be 1-65535 (the native protocol port, e.g. 9000 or 19000, not HTTP's 8123)", c.Addr))
			}
		}
	}
	if c.Database != "" && !dbName.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q: use letters, digits and underscores, not starting with a digit", c.Database))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dial_timeout: %s is negative", c.DialTimeout))
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("clickhouse.batch_size: %d: must be between 1 and %d (0 = default %d)", c.BatchSize, MaxBatchSize, DefaultBatchSize))
	}
	if c.InsertLinger > MaxInsertLinger {
		errs = append(errs, fmt.Errorf("clickhouse.insert_linger: %s: at most %s (it delays every flush; negative turns it off)", c.InsertLinger, MaxInsertLinger))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.retention: %s is negative (0 keeps everything)", c.Retention))
	}
	if c.Cluster != "" && !dbName.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse.cluster: %q: use letters, digits and underscores, not starting with a digit (a cluster name of remote_servers)", c.Cluster))
	}
	if c.ReplicaPath != "" && (!strings.HasPrefix(c.ReplicaPath, "/") || strings.HasSuffix(c.ReplicaPath, "/") || strings.ContainsAny(c.ReplicaPath, "'\\ ")) {
		errs = append(errs, fmt.Errorf("clickhouse.replica_path: %q: want a ZooKeeper path such as %s (leading slash, no trailing slash, no quotes or spaces)", c.ReplicaPath, DefaultReplicaPath))
	}
	if c.InsertQuorum < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.insert_quorum: %d is negative (0 = no quorum)", c.InsertQuorum))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.max_conns: %d is negative", c.MaxConns))
	}
	if c.DashboardMaxConns < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dashboard_max_conns: %d is negative", c.DashboardMaxConns))
	}
	switch c.Compression {
	case "", CompressionAuto, CompressionNone, CompressionLZ4, CompressionZSTD:
	default:
		errs = append(errs, fmt.Errorf("clickhouse.compression: %q: use auto, none, lz4 or zstd", c.Compression))
	}
	if !c.TLS {
		for _, s := range []struct {
			key string
			set bool
		}{
			{"tls_insecure_skip_verify", c.TLSInsecureSkipVerify},
			{"tls_ca_file", c.TLSCAFile != ""},
			{"tls_cert_file", c.TLSCertFile != ""},
			{"tls_key_file", c.TLSKeyFile != ""},
			{"tls_server_name", c.TLSServerName != ""},
		} {
			if s.set {
				errs = append(errs, fmt.Errorf("clickhouse.%s: set without clickhouse.tls (set clickhouse.tls: true to connect with TLS)", s.key))
			}
		}
	} else if _, err := c.tlsConfig(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tlsConfig builds the TLS settings of the native connection from the
// tls_* keys, reading the files; nil when TLS is off. Its errors name the
// key whose value is wrong.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // opt-in, for tests
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse.tls_ca_file: %s: no PEM certificate in it (want one or more -----BEGIN CERTIFICATE----- blocks)", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.tls_cert_file, clickhouse.tls_key_file: %s and %s: want a PEM certificate and its PEM private key: %w", c.TLSCertFile, c.TLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case c.TLSCertFile != "":
		return nil, errors.New("clickhouse.tls_cert_file: set without clickhouse.tls_key_file (a client certificate needs both)")
	case c.TLSKeyFile != "":
		return nil, errors.New("clickhouse.tls_key_file: set without clickhouse.tls_cert_file (a client certificate needs both)")
	}
	return tc, nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.DashboardMaxConns == 0 {
		c.DashboardMaxConns = DefaultDashboardMaxConns
	}
	if c.InsertLinger == 0 {
		c.InsertLinger = DefaultInsertLinger
	}
	if c.Compression == "" {
		c.Compression = CompressionAuto
	}
	if c.ReplicaPath == "" {
		c.ReplicaPath = DefaultReplicaPath
	}
	return c
}

// compression is the method Compression names, auto resolved against Addr.
func (c Config) compression() *ch.Compression {
	switch c.Compression {
	case CompressionNone:
		return nil
	case CompressionZSTD:
		return &ch.Compression{Method: ch.CompressionZSTD}
	case CompressionLZ4:
		return &ch.Compression{Method: ch.CompressionLZ4}
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err == nil {
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return &ch.Compression{Method: ch.CompressionLZ4}
}

// LogValue implements slog.LogValuer so a logged Config never shows the password.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("database", c.Database),
		slog.String("username", c.Username),
		slog.String("password", pw),
		slog.Bool("tls", c.TLS),
		slog.String("tls_ca_file", c.TLSCAFile),
		slog.String("tls_cert_file", c.TLSCertFile),
		slog.String("tls_server_name", c.TLSServerName),
		slog.Duration("dial_timeout", c.DialTimeout),
		slog.Int("batch_size", c.BatchSize),
		slog.Duration("insert_linger", c.InsertLinger),
		slog.Int("max_conns", c.MaxConns),
		slog.Int("dashboard_max_conns", c.DashboardMaxConns),
		slog.Duration("retention", c.Retention),
		slog.String("cluster", c.Cluster),
		slog.Int("insert_quorum", c.InsertQuorum),
	)
}
