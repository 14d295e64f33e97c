package cli

import (
	"context"
	"fmt"

	"github.com/bounced-dev/bounced/topics"
)

// brokerCmd runs the embedded broker alone, so that several bounced members
// and outside clients (kcat, shippers) share one local broker: for local
// development and for tests that kill members while the broker lives on.
func brokerCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("broker", io)
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if !cfg.Kafka.Conn.Embedded() {
		return fmt.Errorf("%w: bounced broker runs the embedded broker; unset kafka.brokers", ErrUsage)
	}
	e, err := newEnv(ctx, cfg, io, startEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	created, err := topics.Ensure(ctx, e.adm, cfg.Kafka.Topics, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "embedded Kafka broker on %s, data in %s; topics created: %v\n", e.conn.Brokers[0], cfg.DataDir, created)
	fmt.Fprintf(io.Out, "members: bounced run --kafka.brokers %s\n", e.conn.Brokers[0])
	<-ctx.Done()
	return nil
}
