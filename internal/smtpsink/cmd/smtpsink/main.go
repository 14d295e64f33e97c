// Command smtpsink runs the scripted SMTP sink of package smtpsink, and
// turns an MTA's log and the sink's journal into the expectations that
// processor/ingest/{postfix,exim} check their adapters against. It is the
// helper of scripts/mta-logs, not part of bounced.
//
//	smtpsink serve -listen 127.0.0.1:2525 -greet421 127.0.0.1:2526 -journal sink.jsonl
//	smtpsink expect -mta postfix -log postfix.log -journal sink.jsonl > expected.jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/bounced-dev/bounced/internal/smtpsink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: serve or expect")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "expect":
		return expect(args[1:])
	}
	return fmt.Errorf("unknown subcommand %q; want serve or expect", args[0])
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2525", "address of the scripted listener")
	greet421 := fs.String("greet421", "127.0.0.1:2526", "address of a listener that answers 421 at the greeting (empty: none)")
	journal := fs.String("journal", "", "file the answers are appended to as JSON lines (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *journal == "" {
		return errors.New("serve: -journal is required")
	}
	f, err := os.OpenFile(*journal, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("serve: open journal: %w", err)
	}
	defer f.Close()
	j := &lockedWriter{w: f}
	servers := []struct {
		addr string
		cfg  smtpsink.Config
	}{
		{*listen, smtpsink.Config{Journal: j}},
		{*greet421, smtpsink.Config{Journal: j, Greeting: smtpsink.ReplyGreeting421}},
	}
	errc := make(chan error, len(servers))
	n := 0
	for _, s := range servers {
		if s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		n++
		go func() { errc <- smtpsink.New(s.cfg).Serve(ctx, ln) }()
	}
	fmt.Fprintf(os.Stderr, "smtpsink: listening on %s (scripted) and %s (421 at greeting)\n", *listen, *greet421)
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// lockedWriter lets two servers share one journal file.
type lockedWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func expect(args []string) error {
	fs := flag.NewFlagSet("expect", flag.ContinueOnError)
	mta := fs.String("mta", "", "whose log it is: postfix or exim")
	logPath := fs.String("log", "", "the MTA's log")
	journalPath := fs.String("journal", "", "the sink's journal of the same run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mta == "" || *logPath == "" || *journalPath == "" {
		return errors.New("expect: -mta, -log and -journal are required")
	}
	lf, err := os.Open(*logPath)
	if err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	defer lf.Close()
	jf, err := os.Open(*journalPath)
	if err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	defer jf.Close()
	xs, err := smtpsink.Expect(*mta, lf, jf)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, x := range xs {
		if err := enc.Encode(x); err != nil {
			return fmt.Errorf("expect: write: %w", err)
		}
	}
	return nil
}
