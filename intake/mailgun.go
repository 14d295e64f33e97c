package intake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	// maxMailgunTokens bounds the replay memory: at the default rate (200/s)
	// and max_age (10m) it holds every token of the window; beyond that the
	// oldest are forgotten first.
	maxMailgunTokens = 1 << 17
	// maxTokenLen bounds a token kept in memory (Mailgun's are 50 hex).
	maxTokenLen = 256
)

// mailgunSignature is the "signature" object of a JSON (v3) webhook.
type mailgunSignature struct {
	Timestamp string // Unix seconds, as Mailgun sends it (a string)
	Token     string
	Signature string // hex HMAC-SHA256(signing key, timestamp + token)
}

// parseMailgun reads the signature of a JSON webhook body. The body must
// also carry "event-data", an object, or it is not a Mailgun event.
func parseMailgun(body []byte) (mailgunSignature, error) {
	var raw struct {
		Signature *struct {
			Timestamp json.RawMessage `json:"timestamp"`
			Token     string          `json:"token"`
			Signature string          `json:"signature"`
		} `json:"signature"`
		EventData json.RawMessage `json:"event-data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return mailgunSignature{}, fmt.Errorf("not a JSON webhook body (legacy form-encoded webhooks are not accepted): %w", err)
	}
	if raw.Signature == nil {
		return mailgunSignature{}, errors.New(`no "signature" object`)
	}
	if ed := bytes.TrimSpace(raw.EventData); len(ed) == 0 || ed[0] != '{' {
		return mailgunSignature{}, errors.New(`no "event-data" object`)
	}
	s := mailgunSignature{Token: raw.Signature.Token, Signature: raw.Signature.Signature}
	// Mailgun sends the timestamp as a string; accept a bare number too.
	ts := raw.Signature.Timestamp
	var str string
	if err := json.Unmarshal(ts, &str); err == nil {
		s.Timestamp = str
	} else if _, err := strconv.ParseInt(string(ts), 10, 64); err == nil {
		s.Timestamp = string(ts)
	} else {
		return mailgunSignature{}, errors.New(`"signature.timestamp" is not Unix seconds`)
	}
	switch {
	case s.Timestamp == "" || s.Token == "" || s.Signature == "":
		return mailgunSignature{}, errors.New(`"signature" lacks timestamp, token or signature`)
	case len(s.Token) > maxTokenLen:
		return mailgunSignature{}, fmt.Errorf(`"signature.token" is over %d bytes`, maxTokenLen)
	}
	return s, nil
}

// valid reports whether s.Signature is the HMAC of timestamp and token
// under key.
func (s mailgunSignature) valid(key []byte) bool {
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(s.Timestamp))
	mac.Write([]byte(s.Token))
	return hmac.Equal(mac.Sum(nil), got)
}

// mailgunVerifier checks Mailgun's webhook signature and refuses a token
// seen before. The signature covers only timestamp and token, not the
// event: the token memory is what stops a captured request being sent
// again.
type mailgunVerifier struct {
	key    []byte
	maxAge time.Duration
	now    func() time.Time
	tokens *tokenMemory
}

func newMailgunVerifier(cfg Mailgun, now func() time.Time) *mailgunVerifier {
	return &mailgunVerifier{key: []byte(cfg.SigningKey), maxAge: orDuration(cfg.MaxAge, DefaultMaxAge), now: now,
		tokens: newTokenMemory(maxMailgunTokens)}
}

func (v *mailgunVerifier) verify(_ context.Context, _ *http.Request, body []byte) (outcome, error) {
	s, err := parseMailgun(body)
	if err != nil {
		return outcome{}, refusef(http.StatusBadRequest, ResultMalformed, "mailgun: %v", err)
	}
	if !s.valid(v.key) {
		return outcome{}, refusef(http.StatusUnauthorized, ResultBadSignature, "signature does not verify against intake.mailgun.signing_key")
	}
	now := v.now()
	if err := checkAge(s.Timestamp, now, v.maxAge, "intake.mailgun.max_age"); err != nil {
		return outcome{}, err
	}
	// A timestamp is accepted up to maxAge ahead of now, and goes stale
	// maxAge after itself: remembered for 2×maxAge, a token outlives every
	// moment its request could pass checkAge again.
	switch v.tokens.reserve(s.Token, now, now.Add(2*v.maxAge)) {
	case tokenSeen:
		// 406 tells Mailgun to stop retrying: the first delivery was stored.
		return outcome{}, refusef(http.StatusNotAcceptable, ResultReplayed, "token already received")
	case tokenInFlight:
		// The first delivery is still being produced and may yet fail:
		// ask for a retry rather than dropping it for good.
		return outcome{}, refusef(http.StatusServiceUnavailable, ResultReplayed, "token being received by another request")
	}
	return outcome{
		commit: func() { v.tokens.commit(s.Token) },
		abort:  func() { v.tokens.release(s.Token) },
	}, nil
}

// The states reserve reports.
const (
	tokenNew = iota
	tokenSeen
	tokenInFlight
)

// tokenMemory remembers tokens until they expire, at most max of them. A
// token is reserved while its request is produced, remembered once the
// produce succeeded, and released if it failed, so the provider's retry
// is accepted.
type tokenMemory struct {
	mu    sync.Mutex
	max   int
	seen  map[string]tokenEntry
	queue []string // insertion order, for expiry and eviction
}

type tokenEntry struct {
	until    time.Time
	inFlight bool
}

func newTokenMemory(max int) *tokenMemory {
	return &tokenMemory{max: max, seen: map[string]tokenEntry{}}
}

// reserve marks token in flight until until, unless it is known.
func (m *tokenMemory) reserve(token string, now, until time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	if e, ok := m.seen[token]; ok && now.Before(e.until) {
		if e.inFlight {
			return tokenInFlight
		}
		return tokenSeen
	}
	m.seen[token] = tokenEntry{until: until, inFlight: true}
	m.queue = append(m.queue, token)
	return tokenNew
}

func (m *tokenMemory) commit(token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.seen[token]; ok {
		e.inFlight = false
		m.seen[token] = e
	}
}

func (m *tokenMemory) release(token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, token)
}

// prune drops expired tokens from the front of the queue, and the oldest
// ones while the memory is full. Expiries are nearly in insertion order
// (now + a constant), so the front is where they expire.
func (m *tokenMemory) prune(now time.Time) {
	for len(m.queue) > 0 {
		t := m.queue[0]
		e, ok := m.seen[t]
		switch {
		case !ok: // released
		case !now.Before(e.until) || len(m.seen) >= m.max:
			delete(m.seen, t)
		default:
			return
		}
		m.queue = m.queue[1:]
	}
}
