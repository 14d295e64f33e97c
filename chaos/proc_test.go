package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The bounced binary is built once per test binary (or taken from
// BOUNCED_CHAOS_BIN) and removed by TestMain.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// repoRoot is the module root: the parent of this package's directory.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		tb.Fatalf("module root not found above %s: %v", wd, err)
	}
	return root
}

// binary returns the path of the bounced binary. A build failure fails the
// test: it is never a reason to skip.
func binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("BOUNCED_CHAOS_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("BOUNCED_CHAOS_BIN: %v", err)
		}
		return p
	}
	root := repoRoot(tb)
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "bounced-chaos-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "bounced")
		gobin := "go"
		if g := os.Getenv("GOROOT"); g != "" {
			if _, err := os.Stat(filepath.Join(g, "bin", "go")); err == nil {
				gobin = filepath.Join(g, "bin", "go")
			}
		}
		cmd := exec.Command(gobin, "build", "-o", build.path, "./cmd/bounced")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/bounced: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// freePort returns a port nothing listens on right now.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one logical process (a broker, a member) across its restarts.
// Every incarnation appends its stdout and stderr to the same log file.
type proc struct {
	name string
	args []string
	log  string
	http string // member's HTTP address, empty for a broker

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current incarnation exits
	expected bool          // the current incarnation's exit is ours (kill or stop)
	starts   int
	exit     string // how the last incarnation ended

	maxRSS    atomic.Int64 // highest VmRSS seen over all incarnations, bytes
	windowRSS atomic.Int64 // highest VmRSS since resetWindow
}

// cluster owns every process a test starts and kills what is left in
// t.Cleanup, so that no child outlives the test.
type cluster struct {
	t    *testing.T
	ctx  context.Context
	bin  string
	dir  string // scratch root for data dirs
	logs string // where process logs go

	// diag, when set, describes the cluster's state for a failed wait.
	diag func() string
	// quiet: the cluster's part of the test passed (the clean run); keep
	// its logs out of a later failure's report.
	quiet bool

	mu         sync.Mutex
	procs      []*proc
	unexpected []string // exits nobody asked for
	finished   bool
}

func newCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: ctx, bin: binary(t), dir: t.TempDir()}
	c.logs = filepath.Join(c.dir, "logs")
	if keep := os.Getenv("BOUNCED_CHAOS_LOGS"); keep != "" {
		c.logs = filepath.Join(keep, fmt.Sprintf("%s-%s", t.Name(), time.Now().Format("20060102-150405")))
	}
	if err := os.MkdirAll(c.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cleanup)
	return c
}

// cleanup kills every process still running, then, when the test failed,
// dumps the end of every log and the warnings and errors in it.
func (c *cluster) cleanup() {
	c.mu.Lock()
	c.finished = true
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		if !p.kill9() {
			c.t.Errorf("%s (pid %d) still running 30s after SIGKILL", p.name, p.pid())
		}
	}
	if !c.t.Failed() || c.quiet {
		return
	}
	for _, p := range procs {
		c.t.Logf("---- %s: %s (%d starts; last exit: %s) ----\n%s", p.name, p.log, p.starts, p.exit, excerpt(p.log, 40, 30))
	}
	if os.Getenv("BOUNCED_CHAOS_LOGS") == "" {
		// The logs are under the test's temporary directory, about to go.
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("bounced-chaos-%s-%s", c.t.Name(), time.Now().Format("20060102-150405")))
		if err := os.CopyFS(keep, os.DirFS(c.logs)); err != nil {
			c.t.Logf("keep the logs: %v", err)
		} else {
			c.logs = keep
		}
	}
	c.t.Logf("process logs: %s", c.logs)
}

// excerpt returns the log's warnings and errors (the last maxProblems) and
// its last tail lines.
func excerpt(path string, tail, maxProblems int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var last, problems []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 600 {
			line = line[:600] + "…"
		}
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) || strings.HasPrefix(line, "panic") || strings.HasPrefix(line, "===") {
			problems = append(problems, line)
			if len(problems) > maxProblems {
				problems = problems[1:]
			}
		}
		last = append(last, line)
		if len(last) > tail {
			last = last[1:]
		}
	}
	return "warnings, errors and starts:\n  " + strings.Join(problems, "\n  ") + "\nlast lines:\n  " + strings.Join(last, "\n  ")
}

func (c *cluster) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.finished {
		c.t.Logf(format, args...)
	}
}

// newProc declares a process; start runs it.
func (c *cluster) newProc(name string, args ...string) *proc {
	p := &proc{name: name, args: args, log: filepath.Join(c.logs, name+".log")}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// start runs a new incarnation of p in its own process group. The child
// gets SIGKILL if the test process dies.
func (c *cluster) start(p *proc) {
	c.t.Helper()
	if err := c.launch(p); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) launch(p *proc) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s: started while running", p.name)
		}
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(f, "=== %s start #%d at %s: bounced %s\n", p.name, p.starts, time.Now().Format(time.RFC3339Nano), strings.Join(p.args, " "))
	cmd := exec.Command(c.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected = cmd, done, false
	go p.sampleRSS(cmd.Process.Pid, done)
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== %s exited: %s at %s\n", p.name, exitString(err), time.Now().Format(time.RFC3339Nano))
		f.Close()
		p.mu.Lock()
		expected := p.expected
		p.exit = exitString(err)
		p.mu.Unlock()
		close(done)
		if expected {
			return
		}
		// Nobody asked for this exit: record it, and restart the process
		// as a supervisor (systemd, Kubernetes) would.
		msg := fmt.Sprintf("%s exited on its own (%s) at %s", p.name, exitString(err), time.Now().Format(time.TimeOnly))
		c.mu.Lock()
		c.unexpected = append(c.unexpected, msg)
		finished := c.finished
		c.mu.Unlock()
		c.logf("%s; restarting it in 1s; log %s:\n%s", msg, p.log, excerpt(p.log, 15, 10))
		if finished {
			return
		}
		time.Sleep(time.Second)
		c.mu.Lock()
		finished = c.finished
		c.mu.Unlock()
		if !finished && !p.running() {
			if err := c.launch(p); err != nil {
				c.logf("restart %s: %v", p.name, err)
			}
		}
	}()
	return nil
}

// exits lists the exits nobody asked for.
func (c *cluster) exits() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.unexpected...)
}

// cleanEnv drops BOUNCED_* settings of the test's own environment, so that
// a child's configuration is exactly its command line.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOUNCED_") {
			env = append(env, kv)
		}
	}
	return env
}

func exitString(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}

// running reports whether the current incarnation is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// signal sends sig to the process group of the current incarnation and
// waits up to wait for it to exit; it reports whether it did.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	done := p.done
	if done == nil || p.cmd == nil {
		p.mu.Unlock()
		return true
	}
	select {
	case <-done:
		p.mu.Unlock()
		return true
	default:
	}
	p.expected = true
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// kill9 kills the process group with SIGKILL and waits for the exit; it
// reports whether the process is gone.
func (p *proc) kill9() bool {
	return p.signal(syscall.SIGKILL, 30*time.Second)
}

// stop asks for a graceful stop (SIGTERM: drain, commit, leave the group)
// and kills after wait.
func (p *proc) stop(wait time.Duration) (graceful bool) {
	if p.signal(syscall.SIGTERM, wait) {
		return true
	}
	p.signal(syscall.SIGKILL, 30*time.Second)
	return false
}

// sampleRSS records the resident set size of pid every 100ms until done.
func (p *proc) sampleRSS(pid int, done <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	path := fmt.Sprintf("/proc/%d/status", pid)
	for {
		if b, err := os.ReadFile(path); err == nil {
			if rss := vmRSS(b); rss > 0 {
				raise(&p.maxRSS, rss)
				raise(&p.windowRSS, rss)
			}
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func raise(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// vmRSS parses "VmRSS:   12345 kB" out of /proc/PID/status, in bytes.
func vmRSS(status []byte) int64 {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// waitFor polls cond every interval until it returns true, fails the test
// at the deadline (or when the context ends) naming what it waited for.
func (c *cluster) waitFor(what string, timeout, interval time.Duration, cond func() (bool, error)) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			state := ""
			if c.diag != nil {
				state = "\n" + c.diag()
			}
			c.t.Fatalf("timed out after %s waiting for %s (last error: %v)%s", timeout, what, lastErr, state)
		case <-time.After(interval):
		}
	}
}

// broker declares `bounced broker` on 127.0.0.1:port with its log under dataDir.
func (c *cluster) broker(name, dataDir string, port int) *proc {
	p := c.newProc(name, "broker", "--data_dir", dataDir,
		"--set", fmt.Sprintf("kafka.embedded_addr=127.0.0.1:%d", port), "--set", "log.level=info")
	return p
}

// startBroker starts (or restarts) a broker and waits until it serves.
func (c *cluster) startBroker(p *proc) {
	c.t.Helper()
	before := countIn(p.log, "embedded Kafka broker on")
	c.start(p)
	c.waitFor(p.name+" to serve", 60*time.Second, 50*time.Millisecond, func() (bool, error) {
		if !p.running() {
			c.t.Fatalf("%s exited during start-up:\n%s", p.name, excerpt(p.log, 20, 10))
		}
		return countIn(p.log, "embedded Kafka broker on") > before, nil
	})
}

func countIn(path, s string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte(s))
}

// memberConfig is what distinguishes one member from another.
type memberConfig struct {
	brokers, chAddr, database, dataDir string
}

// member declares a `bounced run` member (both stages) with its own
// data_dir and HTTP port.
func (c *cluster) member(name string, mc memberConfig) *proc {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(c.t))
	p := c.newProc(name, "run",
		"--kafka.brokers", mc.brokers,
		"--clickhouse.addr", mc.chAddr, "--clickhouse.database", mc.database,
		"--data_dir", mc.dataDir, "--http.addr", httpAddr,
		"--set", "pipeline.session_timeout="+sessionTimeout.String(),
		"--set", "log.level=info")
	p.http = httpAddr
	return p
}

// sessionTimeout of the consumer groups: a member killed with -9 holds its
// partitions until it expires.
const sessionTimeout = 6 * time.Second

// gauge sums a metric over its label sets from the member's /metrics, with
// an optional label filter ("stage=\"decide\"").
func gauge(p *proc, name, filter string) (float64, error) {
	if p.http == "" {
		return 0, errors.New("no HTTP address")
	}
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + p.http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		if filter != "" && !strings.Contains(line, filter) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// clickhouseServer is a throwaway ClickHouse of the test's own, started and
// stopped with scripts/clickhouse.sh, so stopping it affects no other test.
type clickhouseServer struct {
	script            string
	dir               string
	tcpPort, httpPort int
}

func (c *cluster) clickhouse() *clickhouseServer {
	c.t.Helper()
	s := &clickhouseServer{
		script:   filepath.Join(repoRoot(c.t), "scripts", "clickhouse.sh"),
		dir:      filepath.Join(c.dir, "clickhouse"),
		tcpPort:  freePort(c.t),
		httpPort: freePort(c.t),
	}
	c.t.Cleanup(func() {
		if out, err := s.do(context.Background(), "stop"); err != nil {
			c.t.Errorf("stop the test's ClickHouse: %v\n%s", err, out)
		}
	})
	return s
}

func (s *clickhouseServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.tcpPort) }

func (s *clickhouseServer) do(ctx context.Context, verb string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", s.script, verb)
	cmd.Env = append(cleanEnv(),
		"BOUNCED_CH_DIR="+s.dir,
		"BOUNCED_CH_TCP_PORT="+strconv.Itoa(s.tcpPort),
		"BOUNCED_CH_HTTP_PORT="+strconv.Itoa(s.httpPort))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *clickhouseServer) start(t *testing.T, ctx context.Context) {
	t.Helper()
	if out, err := s.do(ctx, "start"); err != nil {
		t.Fatalf("start ClickHouse in %s: %v\n%s", s.dir, err, out)
	}
}

func (s *clickhouseServer) stop(t *testing.T, ctx context.Context) {
	t.Helper()
	if out, err := s.do(ctx, "stop"); err != nil {
		t.Fatalf("stop ClickHouse in %s: %v\n%s", s.dir, err, out)
	}
}
