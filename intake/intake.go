package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Producer takes a verified webhook body onward. Produce returns nil only
// once the body is durable (for Kafka: acknowledged); the handler answers
// 2xx only then, so a provider retries whatever was not stored. body is
// the request body exactly as received; source is the provider's name.
type Producer interface {
	Produce(ctx context.Context, source string, body []byte) error
}

// The sources, as they appear in the URL path, the metric label and the
// source given to Producer.Produce.
const (
	SourceSES      = "ses"
	SourceSendGrid = "sendgrid"
	SourceMailgun  = "mailgun"
	SourcePostmark = "postmark"
	SourcePostal   = "postal"
)

// Sources lists every source intake knows, in a stable order.
func Sources() []string {
	return []string{SourceSES, SourceSendGrid, SourceMailgun, SourcePostmark, SourcePostal}
}

// The values of the result label of bounced_intake_total. They are stable:
// dashboards and alerts select on them.
const (
	ResultAccepted              = "accepted"               // produced; answered 200
	ResultSubscriptionConfirmed = "subscription_confirmed" // SNS subscription confirmed; 200, nothing produced
	ResultIgnored               = "ignored"                // verified but nothing to produce (SNS unsubscribe, or a confirmation left to the operator); 200
	ResultNotConfigured         = "not_configured"         // the source's credential is not configured; 404
	ResultMethodNotAllowed      = "method_not_allowed"     // not a POST; 405
	ResultRateLimited           = "rate_limited"           // over intake.rate/burst; 429
	ResultTooLarge              = "too_large"              // body over intake.max_body_bytes; 413
	ResultMalformed             = "malformed"              // not the provider's format; 400
	ResultUnauthorized          = "unauthorized"           // credential or signature missing or wrong credential; 401
	ResultBadSignature          = "bad_signature"          // a signature that does not verify (or an unusable SNS certificate); 401
	ResultStale                 = "stale"                  // signed timestamp outside max_age; 401
	ResultReplayed              = "replayed"               // Mailgun token seen before; 406 (503 while the first is in flight)
	ResultWrongTopic            = "wrong_topic"            // SNS topic not in intake.ses.topic_arns; 403
	ResultFetchFailed           = "fetch_failed"           // SNS certificate or SubscribeURL unreachable; 503
	ResultProduceFailed         = "produce_failed"         // Producer.Produce failed; 503
)

// Results lists every result value, for documentation and tests.
func Results() []string {
	return []string{ResultAccepted, ResultSubscriptionConfirmed, ResultIgnored, ResultNotConfigured, ResultMethodNotAllowed,
		ResultRateLimited, ResultTooLarge, ResultMalformed, ResultUnauthorized, ResultBadSignature, ResultStale,
		ResultReplayed, ResultWrongTopic, ResultFetchFailed, ResultProduceFailed}
}

// Deps are what a Handler uses from its surroundings. The zero value
// works: logs discarded, metrics unregistered, a 10 s HTTP client, the
// wall clock.
type Deps struct {
	// Logger receives one line per refused or failed request: source,
	// result and a short reason, never a body or a secret.
	Logger *slog.Logger
	// Registerer gets bounced_intake_total and
	// bounced_intake_produce_seconds. Nil: unregistered.
	Registerer prometheus.Registerer
	// Client fetches SNS signing certificates and SubscribeURLs. Redirects
	// are never followed (a redirect could leave Amazon's hosts).
	Client *http.Client
	// Now is the clock for timestamp windows, replay memory, certificate
	// validity and rate limits.
	Now func() time.Time
}

// Handler serves POST /v1/intake/{source}. Create it with New.
type Handler struct {
	producer  Producer
	log       *slog.Logger
	now       func() time.Time
	maxBody   int64
	verifiers map[string]verifier // every known source; nil when not configured
	limits    map[string]*bucket
	total     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	mux       *http.ServeMux
}

// New builds the handler for cfg, which must have passed Validate.
func New(cfg Config, p Producer, deps Deps) (*Handler, error) {
	if p == nil {
		return nil, errors.New("intake: a Producer is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		producer: p,
		log:      deps.Logger,
		now:      deps.Now,
		maxBody:  cfg.MaxBodyBytes,
		limits:   map[string]*bucket{},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bounced_intake_total",
			Help: "Webhook requests by source and result (accepted, subscription_confirmed, ignored, not_configured, method_not_allowed, rate_limited, too_large, malformed, unauthorized, bad_signature, stale, replayed, wrong_topic, fetch_failed, produce_failed).",
		}, []string{"source", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bounced_intake_produce_seconds",
			Help:    "Time for a verified webhook body to be acknowledged by the producer, by source.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"source"}),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{h.total, h.latency} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("intake: registering metrics: %w", err)
			}
		}
	}
	var err error
	if h.verifiers, err = verifiers(cfg, deps.Client, h.now); err != nil {
		return nil, err
	}
	rate, burst := cfg.Rate, cfg.Burst
	if rate == 0 {
		rate = DefaultRate
	}
	if burst == 0 {
		burst = DefaultBurst
	}
	for _, s := range Sources() {
		h.limits[s] = newBucket(rate, burst)
	}
	h.mux = http.NewServeMux()
	h.Mount(h.mux)
	return h, nil
}

// verifiers builds one verifier per configured source. With intake
// disabled every source is off.
func verifiers(cfg Config, client *http.Client, now func() time.Time) (map[string]verifier, error) {
	vs := map[string]verifier{}
	for _, s := range Sources() {
		vs[s] = nil
	}
	if !cfg.Enabled {
		return vs, nil
	}
	var err error
	if len(cfg.SES.TopicARNs) > 0 {
		if vs[SourceSES], err = newSNSVerifier(cfg.SES, client, now); err != nil {
			return nil, err
		}
	}
	if cfg.SendGrid.PublicKey != "" {
		if vs[SourceSendGrid], err = newSendGridVerifier(cfg.SendGrid, now); err != nil {
			return nil, err
		}
	}
	if cfg.Mailgun.SigningKey != "" {
		vs[SourceMailgun] = newMailgunVerifier(cfg.Mailgun, now)
	}
	if cfg.Postmark.Secret != "" || cfg.Postmark.Username != "" {
		vs[SourcePostmark] = newPostmarkVerifier(cfg.Postmark)
	}
	if cfg.Postal.PublicKey != "" {
		if vs[SourcePostal], err = newPostalVerifier(cfg.Postal); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// Mount registers the intake routes on mux: POST /v1/intake/{source},
// and the same path for every other method, which answers 405.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/intake/{source}", h.receive)
	mux.HandleFunc("/v1/intake/{source}", h.wrongMethod)
}

// ServeHTTP serves the routes Mount registers; anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) wrongMethod(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	if _, known := h.verifiers[source]; !known {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Allow", http.MethodPost)
	h.refuse(w, source, refusef(http.StatusMethodNotAllowed, ResultMethodNotAllowed, "%s is not allowed; webhooks are POSTed", r.Method))
}

// receive is one webhook: configured? within the rate? within the size?
// genuine? Then produced, and only then answered 200.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	v, known := h.verifiers[source]
	switch {
	case !known:
		// Not counted: the label would take any value a client sends.
		http.NotFound(w, r)
		return
	case v == nil:
		h.refuse(w, source, refusef(http.StatusNotFound, ResultNotConfigured, "intake for %s is not configured", source))
		return
	}
	if wait, ok := h.limits[source].take(h.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		h.refuse(w, source, refusef(http.StatusTooManyRequests, ResultRateLimited, "over intake.rate for %s", source))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			h.refuse(w, source, refusef(http.StatusRequestEntityTooLarge, ResultTooLarge, "body over intake.max_body_bytes (%d)", h.maxBody))
			return
		}
		h.refuse(w, source, refusef(http.StatusBadRequest, ResultMalformed, "reading the body: %v", err))
		return
	}
	out, err := v.verify(r.Context(), r, body)
	if err != nil {
		h.refuse(w, source, asRefusal(err))
		return
	}
	if out.skip != "" {
		h.count(source, out.skip)
		h.log.Info("intake: verified, nothing to produce", "source", source, "result", out.skip, "reason", out.reason)
		writeText(w, http.StatusOK, out.skip)
		return
	}
	start := h.now()
	err = h.producer.Produce(r.Context(), source, body)
	h.latency.WithLabelValues(source).Observe(h.now().Sub(start).Seconds())
	if err != nil {
		if out.abort != nil {
			out.abort()
		}
		h.count(source, ResultProduceFailed)
		h.log.Error("intake: produce failed; the provider will retry", "source", source, "result", ResultProduceFailed, "err", err)
		writeText(w, http.StatusServiceUnavailable, ResultProduceFailed)
		return
	}
	if out.commit != nil {
		out.commit()
	}
	h.count(source, ResultAccepted)
	writeText(w, http.StatusOK, ResultAccepted)
}

func (h *Handler) count(source, result string) {
	h.total.WithLabelValues(source, result).Inc()
}

func (h *Handler) refuse(w http.ResponseWriter, source string, rf *refusal) {
	h.count(source, rf.result)
	h.log.Warn("intake: refused", "source", source, "result", rf.result, "status", rf.status, "reason", rf.reason)
	if rf.challenge != "" {
		w.Header().Set("WWW-Authenticate", rf.challenge)
	}
	writeText(w, rf.status, rf.result+": "+rf.reason)
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text+"\n")
}

// A verifier checks that one provider's request is genuine.
type verifier interface {
	// verify returns a *refusal when the request must not be produced.
	verify(ctx context.Context, r *http.Request, body []byte) (outcome, error)
}

// outcome is what a verified request needs around its produce.
type outcome struct {
	// skip, when set, is the result of a genuine request that carries
	// nothing to produce (SNS confirmations); it is answered 200.
	skip string
	// reason says why nothing was produced, for the log.
	reason string
	// commit runs after Produce succeeded, abort after it failed.
	commit, abort func()
}

// refusal is why a request is refused: its HTTP status, the stable result
// label and a short reason for the log and the response.
type refusal struct {
	status    int
	result    string
	reason    string
	challenge string // WWW-Authenticate, for basic auth
}

func (r *refusal) Error() string { return r.result + ": " + r.reason }

func refusef(status int, result, format string, args ...any) *refusal {
	return &refusal{status: status, result: result, reason: fmt.Sprintf(format, args...)}
}

// asRefusal keeps the contract that only refusals leave a verifier; any
// other error is a bug, answered as retryable rather than accepted.
func asRefusal(err error) *refusal {
	if rf := (*refusal)(nil); errors.As(err, &rf) {
		return rf
	}
	return refusef(http.StatusServiceUnavailable, ResultFetchFailed, "%v", err)
}
