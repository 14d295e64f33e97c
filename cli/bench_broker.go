package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/config"
)

// brokerProc is the embedded broker the bench runs as a child process
// (`bounced broker`), as production runs its brokers apart from its
// members: /proc/self then holds the pipeline's CPU alone, and the broker's
// is read from the child's /proc entry and shown apart.
type brokerProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan struct{}
}

// startBrokerProcess starts `bounced broker` on a free loopback port with
// its data under cfg.DataDir and points cfg at it.
func startBrokerProcess(ctx context.Context, cfg *config.Config) (*brokerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find this executable to run the broker apart: %w", err)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("bench: a port for the broker: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(exe, "broker",
		"--data_dir", filepath.Join(cfg.DataDir, "broker"),
		"--log.level", "warn",
		"--set", "kafka.embedded_addr="+addr,
		"--set", "kafka.partitions="+strconv.Itoa(cfg.Kafka.Topics.Partitions))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	b := &brokerProc{cmd: cmd, addr: addr, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start the broker: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "embedded Kafka broker on") {
				close(ready)
				signalled = true
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-b.done:
		return nil, fmt.Errorf("bench: the broker exited during start-up: %s", strings.TrimSpace(b.stderr.String()))
	case <-time.After(60 * time.Second):
		b.close()
		return nil, errors.New("bench: the broker did not start within 60 s")
	case <-ctx.Done():
		b.close()
		return nil, ctx.Err()
	}
	cfg.Kafka.Conn.Brokers = []string{addr}
	return b, nil
}

func (b *brokerProc) pid() int { return b.cmd.Process.Pid }

// close stops the broker (SIGTERM, then SIGKILL after 10 s) and waits.
func (b *brokerProc) close() {
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
