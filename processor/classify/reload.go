package classify

import (
	"sync/atomic"

	"github.com/bounced-dev/bounced/processor/event"
)

// Live is a Classifier whose rules can be replaced while events are being
// classified: Swap publishes a new rule set atomically, and every call sees
// either the old set or the new one, never a mix. Reloading on SIGHUP or when
// the rules file changes goes through it.
type Live struct {
	c atomic.Pointer[Classifier]
}

// NewLive starts with c.
func NewLive(c *Classifier) *Live {
	l := &Live{}
	l.c.Store(c)
	return l
}

// Swap replaces the classifier.
func (l *Live) Swap(c *Classifier) { l.c.Store(c) }

// Current returns the classifier in use.
func (l *Live) Current() *Classifier { return l.c.Load() }

// Attempt classifies a with the current rules.
func (l *Live) Attempt(a *event.Attempt) event.Verdict { return l.c.Load().Attempt(a) }
