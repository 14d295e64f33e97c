package postfix

import "time"

// key names one queue file: queue ids are unique per host (and reused over
// time, which "removed" and the TTL handle).
type key struct{ host, qid string }

// entry is what the Decoder remembers about one queued message. Times are
// Unix nanoseconds of log time, 0 when unknown, to keep entries small.
type entry struct {
	key         key
	first       int64 // first-queued time: SentAt of every attempt
	last        int64 // last line seen: drives the TTL
	messageID   string
	sender      string
	senderKnown bool // sender "" is then the null sender, not "unknown"
	bounce      bool // a DSN/bounce message: its deliveries are skipped
	headers     [][2]string
	rcpts       []*rcpt
	byAddr      map[string]*rcpt // index over rcpts once there are many

	prev, next *entry // recency list, least recently touched at the head
}

// rcpt is a recipient that was deferred at least once: only those need
// state (attempt counting, expiry fan-out); a first-try delivery costs none.
type rcpt struct {
	addr         string
	orig         string
	deferrals    int
	final        bool
	lastDeferral int64
	reason       string // last deferral's reason: the expiry event's diagnostic
	dsn          string
	local        bool
}

// Bounds that keep one message from growing the state without limit.
const (
	maxHeaders   = 16
	maxRecipents = 10_000
	maxReasonLen = 1024
	maxHeaderLen = 256
	maxHeaderKey = 80
	indexAfter   = 16 // recipients before a map index pays for itself
)

// state is the correlation table with its recency list.
type state struct {
	m          map[key]*entry
	head, tail *entry
	now        int64 // latest log time seen, the TTL's clock
}

func newState() state { return state{m: make(map[key]*entry)} }

func (s *state) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *state) pushBack(e *entry) {
	e.prev = s.tail
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
}

// touch marks e used at t and moves it to the tail.
func (s *state) touch(e *entry, t int64) {
	if t > e.last {
		e.last = t
	}
	if s.tail != e {
		s.unlink(e)
		s.pushBack(e)
	}
}

func (s *state) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
}

// get returns the live entry for k, or nil. An entry past its TTL that the
// lazy sweep has not reached yet counts as gone: the id may have been reused.
func (s *state) get(k key, ttl time.Duration) *entry {
	e := s.m[k]
	if e != nil && expired(e, s.now, ttl) {
		s.remove(e)
		return nil
	}
	return e
}

// getOrCreate returns the entry for k, creating it (and evicting the least
// recently touched entries beyond max) when absent.
func (s *state) getOrCreate(k key, t int64, ttl time.Duration, max int) *entry {
	if e := s.get(k, ttl); e != nil {
		s.touch(e, t)
		return e
	}
	e := &entry{key: k, last: t}
	s.m[k] = e
	s.pushBack(e)
	for len(s.m) > max && s.head != nil && s.head != e {
		s.remove(s.head)
	}
	return e
}

func expired(e *entry, now int64, ttl time.Duration) bool {
	return e.last != 0 && now-e.last > int64(ttl)
}

// sweep evicts expired entries from the head. The list is in touch order,
// which matches log time except for clock skew between hosts sharing a
// partition; a skewed entry may outlive its TTL a little, never the reverse
// harmfully (get re-checks). Amortised O(1) per line.
func (s *state) sweep(ttl time.Duration) {
	for s.head != nil && expired(s.head, s.now, ttl) {
		s.remove(s.head)
	}
}

// recipient returns the deferral record of addr, or nil.
func (e *entry) recipient(addr string) *rcpt {
	if e.byAddr != nil {
		return e.byAddr[addr]
	}
	for _, r := range e.rcpts {
		if r.addr == addr {
			return r
		}
	}
	return nil
}

// addRecipient records addr, or returns nil when the message already has
// maxRecipents of them (their attempts are then numbered as first tries).
func (e *entry) addRecipient(addr, orig string) *rcpt {
	if len(e.rcpts) >= maxRecipents {
		return nil
	}
	r := &rcpt{addr: addr, orig: orig}
	e.rcpts = append(e.rcpts, r)
	if e.byAddr != nil {
		e.byAddr[addr] = r
	} else if len(e.rcpts) > indexAfter {
		e.byAddr = make(map[string]*rcpt, len(e.rcpts)*2)
		for _, x := range e.rcpts {
			e.byAddr[x.addr] = x
		}
	}
	return r
}

// setHeader keeps a header_checks INFO/WARN value; a repeated header keeps
// its first value (Postfix logs each occurrence; the first is what a
// campaign rule means).
func (e *entry) setHeader(name, value string) {
	for _, h := range e.headers {
		if h[0] == name {
			return
		}
	}
	if len(e.headers) < maxHeaders {
		e.headers = append(e.headers, [2]string{name, value})
	}
}

// inherit gives a re-injected copy (or the same message seen again) the
// identity of the original: the original's first-queued time is earlier,
// its sender and message id are the ones the user submitted.
func (e *entry) inherit(o *entry) {
	if o.first != 0 && (e.first == 0 || o.first < e.first) {
		e.first = o.first
	}
	if o.messageID != "" {
		e.messageID = o.messageID
	}
	if o.senderKnown {
		e.sender, e.senderKnown = o.sender, true
	}
	e.bounce = e.bounce || o.bounce
	for _, h := range o.headers {
		e.setHeader(h[0], h[1])
	}
}
