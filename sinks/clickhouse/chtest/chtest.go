// Package chtest gives tests a real ClickHouse server: the address of a
// running one and a throwaway database on it. There is no mock on purpose;
// start a server with scripts/clickhouse.sh start.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultAddr is where scripts/clickhouse.sh start puts the server.
const DefaultAddr = "127.0.0.1:19000"

// Addr returns the native-protocol address from BOUNCED_CLICKHOUSE_ADDR
// (default 127.0.0.1:19000) once a ClickHouse server answers there. Without
// one the test is skipped, except in CI (CI=true), where it fails: a CI run
// must not pass by skipping its ClickHouse tests.
func Addr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("BOUNCED_CLICKHOUSE_ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	if err := ping(addr); err != nil {
		msg := "no ClickHouse at " + addr + " (" + err.Error() + "); start one with scripts/clickhouse.sh start or set BOUNCED_CLICKHOUSE_ADDR"
		if ci, _ := os.LookupEnv("CI"); strings.EqualFold(ci, "true") || ci == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return addr
}

func ping(addr string) error {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// Database returns the address of a running server (see Addr) and the name of
// a fresh, uniquely named database on it, dropped when the test ends. The
// database is created so tests can connect to it directly.
func Database(tb testing.TB) (addr, database string) {
	tb.Helper()
	addr = Addr(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	database = "bounced_test_" + hex.EncodeToString(b[:])
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		tb.Fatalf("chtest: open %s: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		conn.Close()
		tb.Fatalf("chtest: create database %s: %v", database, err)
	}
	tb.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
			tb.Errorf("chtest: drop database %s: %v", database, err)
		}
	})
	return addr, database
}
