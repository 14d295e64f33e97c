// Command bounced is the bounce processor; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bounced-dev/bounced/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal drains; after it the default handlers are back, so a
	// second one stops the process at once.
	go func() { <-ctx.Done(); stop() }()
	code := cli.Main(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
