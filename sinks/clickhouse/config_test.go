package clickhouse_test

import (
	"testing"

	"github.com/bounced-dev/bounced/sinks/clickhouse"
)

func TestCompressionAuto(t *testing.T) {
	for _, tc := range []struct {
		addr, setting, want string
	}{
		{"", "", "none"}, // the default server on 127.0.0.1
		{"127.0.0.1:19000", "auto", "none"},
		{"localhost:9000", "", "none"},
		{"[::1]:9000", "", "none"},
		{"ch.internal:9000", "", "lz4"},
		{"10.0.0.5:9000", "auto", "lz4"},
		{"127.0.0.1:9000", "lz4", "lz4"},
		{"ch.internal:9000", "none", "none"},
		{"ch.internal:9000", "zstd", "zstd"},
	} {
		got := clickhouse.CompressionOf(clickhouse.Config{Addr: tc.addr, Compression: tc.setting})
		if got != tc.want {
			t.Errorf("addr %q compression %q: %s, want %s", tc.addr, tc.setting, got, tc.want)
		}
	}
}
