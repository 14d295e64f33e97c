package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/intake"
	"github.com/bounced-dev/bounced/topics"
)

// inputProducer writes bodies bounced received itself (webhooks, bounce
// mails) to the first input topic, unchanged, with the header naming their
// source. The writer is synchronous with acks=all, so Produce returns only
// once Kafka has the record: the webhook's 2xx, or the MTA's delivery,
// comes after that.
type inputProducer struct {
	w     *kafka.Writer
	topic string
}

// produceTimeout bounds one webhook's wait for Kafka, under the HTTP
// server's write timeout (api.WriteTimeout), so a provider gets a 503 and
// retries rather than a dropped connection.
const produceTimeout = 20 * time.Second

// Produce implements intake.Producer.
func (p inputProducer) Produce(ctx context.Context, source string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, produceTimeout)
	defer cancel()
	if err := p.w.WriteMessages(ctx, topics.IntakeMessage(p.topic, source, body)); err != nil {
		return fmt.Errorf("producing to %s: %w", p.topic, err)
	}
	return nil
}

// newIntake builds the webhook intake over e's Kafka connection. Bodies are
// held under the input topic's record limit, so one the handler accepted
// is one Kafka accepts. The returned writer must be closed after the HTTP
// server stopped.
func newIntake(e *env, reg prometheus.Registerer) (*intake.Handler, *kafka.Writer, error) {
	cfg := e.cfg.Intake
	tc := e.cfg.Kafka.Topics.WithDefaults()
	if limit := int64(mailLimit(tc.MaxMessageBytes, e.cfg.Ingest.MaxRecordBytes)); cfg.MaxBodyBytes == 0 || cfg.MaxBodyBytes > limit {
		cfg.MaxBodyBytes = limit
	}
	w := e.conn.NewInputWriter()
	h, err := intake.New(cfg, inputProducer{w: w, topic: tc.Input[0]}, intake.Deps{Logger: e.log, Registerer: reg})
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return h, w, nil
}

// intakeCmd runs the webhook intake alone: POST /v1/intake/{source} with
// each provider's signature checked, plus /metrics and /healthz, on
// http.addr. `bounced run` mounts the same endpoints when intake.enabled is
// set; a separate intake keeps the public webhook endpoint apart from the
// members.
func intakeCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("intake", io)
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: bounced intake takes no arguments", ErrUsage)
	}
	if cfg.HTTP.Addr == "" {
		return fmt.Errorf("%w: http.addr is empty; bounced intake serves its endpoints there", ErrUsage)
	}
	// Running the intake is what this command is for; intake.enabled only
	// says whether `bounced run` mounts it too.
	cfg.Intake.Enabled = true
	if on := intakeSources(cfg.Intake); len(on) == 0 {
		return fmt.Errorf("%w: no webhook source is configured; set at least one of intake.ses.topic_arns, intake.sendgrid.public_key, intake.mailgun.signing_key, intake.postmark.username/password or intake.postmark.secret, intake.postal.public_key", ErrUsage)
	}
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h, w, err := newIntake(e, reg)
	if err != nil {
		return err
	}
	defer w.Close()
	mux := http.NewServeMux()
	h.Mount(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: %w", err)
	}
	srv := api.NewServer(mux)
	e.log.Info("intake listening", "addr", ln.Addr().String(), "topic", cfg.Kafka.Topics.WithDefaults().Input[0], "sources", intakeSources(cfg.Intake))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Drain: requests in flight finish (each waits for its Kafka ack).
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// intakeSources lists the webhook sources whose credentials are set: the
// endpoints that exist.
func intakeSources(c intake.Config) []string {
	var on []string
	if len(c.SES.TopicARNs) > 0 {
		on = append(on, intake.SourceSES)
	}
	if c.SendGrid.PublicKey != "" {
		on = append(on, intake.SourceSendGrid)
	}
	if c.Mailgun.SigningKey != "" {
		on = append(on, intake.SourceMailgun)
	}
	if c.Postmark.Secret != "" || c.Postmark.Username != "" {
		on = append(on, intake.SourcePostmark)
	}
	if c.Postal.PublicKey != "" {
		on = append(on, intake.SourcePostal)
	}
	return on
}
