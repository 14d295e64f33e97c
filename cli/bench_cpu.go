package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuMeter reads the CPU time (user + system) of this process and of the
// ClickHouse server from /proc, so the bench can divide each by the records
// a measure moved, and that of the broker the bench runs as a child process
// (brokerProc): production runs brokers apart from its members.
type cpuMeter struct {
	chPID     int    // 0 when the server's CPU cannot be read
	chWhy     string // what chPID is, or why there is none
	brokerPID int    // 0 when the broker runs in this process
	tick      time.Duration
}

// cpuUse is CPU time consumed so far, or between two readings.
type cpuUse struct {
	self, ch, broker       time.Duration
	selfOK, chOK, brokerOK bool
}

func newCPUMeter(chAddr string) cpuMeter {
	m := cpuMeter{tick: clockTick()}
	pid, why, err := clickhousePID(chAddr)
	if err != nil {
		m.chWhy = err.Error()
		return m
	}
	m.chPID, m.chWhy = pid, why
	return m
}

func (m cpuMeter) now() cpuUse {
	var u cpuUse
	if d, err := procCPU("self", m.tick); err == nil {
		u.self, u.selfOK = d, true
	}
	if m.chPID > 0 {
		if d, err := procCPU(strconv.Itoa(m.chPID), m.tick); err == nil {
			u.ch, u.chOK = d, true
		}
	}
	if m.brokerPID > 0 {
		if d, err := procCPU(strconv.Itoa(m.brokerPID), m.tick); err == nil {
			u.broker, u.brokerOK = d, true
		}
	}
	return u
}

// idle samples the ClickHouse server's CPU for d before the bench loads
// it: the server's CPU figures include whatever else it serves meanwhile.
func (m cpuMeter) idle(ctx context.Context, d time.Duration) string {
	if m.chPID == 0 {
		return ""
	}
	u0, t0 := m.now(), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	u := m.now().since(u0)
	if !u.chOK {
		return ""
	}
	pct := 100 * u.ch.Seconds() / time.Since(t0).Seconds()
	if pct < 10 {
		return fmt.Sprintf("; ClickHouse server idle (%.0f%% of a CPU)", pct)
	}
	return fmt.Sprintf("; ClickHouse server BUSY before the bench (%.0f%% of a CPU): other clients' work counts in its figures", pct)
}

// loadAverage is the 1-minute load average, "n/a" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "n/a"
}

// since is the CPU used from start to u.
func (u cpuUse) since(start cpuUse) cpuUse {
	return cpuUse{
		self: u.self - start.self, ch: u.ch - start.ch, broker: u.broker - start.broker,
		selfOK: u.selfOK && start.selfOK, chOK: u.chOK && start.chOK, brokerOK: u.brokerOK && start.brokerOK,
	}
}

func (u cpuUse) add(v cpuUse) cpuUse {
	return cpuUse{
		self: u.self + v.self, ch: u.ch + v.ch, broker: u.broker + v.broker,
		selfOK: u.selfOK && v.selfOK, chOK: u.chOK && v.chOK, brokerOK: u.brokerOK && v.brokerOK,
	}
}

// perRecord formats d per record in microseconds, one decimal.
func perRecord(d time.Duration, ok bool, records int) string {
	if !ok || records <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/float64(records))
}

// procCPU is utime + stime of /proc/<pid>/stat.
func procCPU(pid string, tick time.Duration) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after its closing parenthesis start with field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * tick, nil
}

// clockTick is the unit of /proc's CPU times: AT_CLKTCK from the auxiliary
// vector, 100 Hz (Linux's USER_HZ everywhere) when it cannot be read.
func clockTick() time.Duration {
	const atClkTck = 17
	if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
		for i := 0; i+16 <= len(b); i += 16 {
			k, v := binary.NativeEndian.Uint64(b[i:]), binary.NativeEndian.Uint64(b[i+8:])
			if k == atClkTck && v > 0 {
				return time.Second / time.Duration(v)
			}
			if k == 0 {
				break
			}
		}
	}
	return 10 * time.Millisecond
}

// clickhousePID finds the ClickHouse server that serves addr on this host:
// the process holding the socket that listens on addr's port (found through
// /proc/net/tcp{,6} and the processes' open sockets), else the only process
// whose command line is a ClickHouse server. why says which it is.
func clickhousePID(addr string) (pid int, why string, err error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, "", fmt.Errorf("clickhouse.addr %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, "", fmt.Errorf("clickhouse.addr %q: bad port", addr)
	}
	if !localHost(host) {
		return 0, "", fmt.Errorf("the ClickHouse server %s is not on this host: its CPU is not measured", addr)
	}
	inodes := listeningInodes(uint16(port))
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", fmt.Errorf("no /proc to read the ClickHouse server's CPU from: %w", err)
	}
	var servers []int
	for _, p := range procs {
		id, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if len(inodes) > 0 && ownsSocket(id, inodes) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", id))
			name := strings.TrimSpace(string(comm))
			if !strings.Contains(name, "clickhouse") {
				return 0, "", fmt.Errorf("%s is served by pid %d (%s), not a ClickHouse process (a proxy?): its CPU is not measured", addr, id, name)
			}
			return id, fmt.Sprintf("pid %d (%s), listening on %s", id, name, addr), nil
		}
		if isClickHouseServer(id) {
			servers = append(servers, id)
		}
	}
	if len(servers) == 1 {
		return servers[0], fmt.Sprintf("pid %d, the only ClickHouse server process (its socket on %s is not readable)", servers[0], addr), nil
	}
	return 0, "", fmt.Errorf("no process on this host found listening on %s (%d ClickHouse server processes): its CPU is not measured", addr, len(servers))
}

func localHost(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// listeningInodes are the inodes of the TCP sockets listening on port.
func listeningInodes(port uint16) map[string]bool {
	out := map[string]bool{}
	want := fmt.Sprintf(":%04X", port)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" || !strings.HasSuffix(fs[1], want) {
				continue
			}
			out[fs[9]] = true
		}
		f.Close()
	}
	return out
}

// ownsSocket reports whether pid has one of the socket inodes open.
func ownsSocket(pid int, inodes map[string]bool) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true
		}
	}
	return false
}

// isClickHouseServer reports whether pid runs clickhouse-server or
// `clickhouse server`.
func isClickHouseServer(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	base := filepath.Base(args[0])
	return base == "clickhouse-server" || base == "clickhouse" && len(args) > 1 && args[1] == "server"
}
