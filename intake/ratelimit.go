package intake

import (
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens, refills at rate
// per second, and each request takes one. Time comes from the caller, so
// tests drive it with a fake clock.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second, > 0
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take takes a token at now. When none is left it reports how long until
// one will be.
func (b *bucket) take(now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		// A clock that stepped back refills nothing rather than draining.
		if dt := now.Sub(b.last).Seconds(); dt > 0 {
			b.tokens = min(b.burst, b.tokens+dt*b.rate)
		}
	}
	if now.After(b.last) || b.last.IsZero() {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second)), false
}
