// Package guard is the incident guard of stage 2 (docs/suppressions.md).
//
// When one recipient domain suddenly returns hard verdicts from one rule
// for an unusual share of its recipients, the cause is more likely the
// provider (an outage, a broken filter, a misread reply) than thousands of
// mailboxes gone at once. The guard then holds the domain: its new
// automatic suppressions are published with status held, not enforced,
// until an operator releases them (they become suppressions) or discards
// them (their recipients start afresh).
//
// Each attempts partition has its own Guard. It counts, per domain, the
// attempts with a verdict and the hard suppressions of each rule in an
// event-time window (Config.Window, 15 minutes by default). When one rule's
// suppressions reach Config.MinRecipients and Config.Share of the domain's
// attempts in the window, the partition holds the domain at once: the
// suppression in hand and the window's earlier ones of that rule become
// held, and Attempt returns a hold command the caller sends to every
// partition of the attempts topic, so every owner holds the domain in order
// with its own events. Recipients spread evenly over partitions, so a
// provider outage shows on every partition at once.
//
// The guard is a pure fold. It reads no clock (only the events' time), no
// Kafka and no metrics: it returns what a step produced (Effects) and the
// caller publishes it. The windows live in memory only; after a restart a
// partition starts fresh windows. The holds are decided state: the caller
// writes Holds to the changelog whenever Dirty, in offset order with the
// recipients' states, so a replay after a crash decides the same.
package guard

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

// Defaults of Config.
const (
	DefaultMinRecipients = 20
	DefaultShare         = 0.5
	DefaultWindow        = 15 * time.Minute
)

// maxWindows is how many domains' windows a guard keeps before it forgets
// the ones that ended long ago.
const maxWindows = 100000

// Config tunes the incident guard. The zero value is the defaults.
type Config struct {
	// Disabled turns the guard off: attempts are not counted and no domain
	// is held. Domain commands are still applied.
	Disabled bool `koanf:"disabled"`
	// Window is the event-time window the guard counts in. Default 15m.
	Window time.Duration `koanf:"window"`
	// MinRecipients is the fewest recipients of one domain, suppressed by
	// one rule within a window on one attempts partition, that can trigger
	// a hold. Recipients spread evenly over partitions, so a provider
	// outage shows on every partition at once. Default 20.
	MinRecipients int `koanf:"min_recipients"`
	// Share is the smallest share of the domain's attempts in the window
	// those suppressions must make up. Default 0.5.
	Share float64 `koanf:"share"`
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MinRecipients == 0 {
		c.MinRecipients = DefaultMinRecipients
	}
	if c.Share == 0 {
		c.Share = DefaultShare
	}
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Window < time.Minute {
		return fmt.Errorf("pipeline.guard.window: %s is shorter than 1m", c.Window)
	}
	if c.MinRecipients < 1 {
		return fmt.Errorf("pipeline.guard.min_recipients: %d must be at least 1", c.MinRecipients)
	}
	if c.Share <= 0 || c.Share > 1 {
		return fmt.Errorf("pipeline.guard.share: %v must be in (0, 1]", c.Share)
	}
	return nil
}

// Holds is a partition's incident-guard state, written to the changelog as
// one record: it is applied in offset order like everything else, so a
// replay after a crash decides the same.
type Holds struct {
	// Off is the offset of the last domain command applied (replay guard).
	Off     int64            `json:"off"`
	Domains map[string]*Hold `json:"domains"`
}

// Hold is one held domain.
type Hold struct {
	Since time.Time `json:"since"`
	// Rule is the rule whose verdicts triggered the hold.
	Rule string `json:"rule"`
	// Held lists this partition's recipients whose suppression is held.
	Held []string `json:"held"`
}

// NewHolds returns the holds of a partition that never held a domain.
func NewHolds() *Holds { return &Holds{Off: -1, Domains: map[string]*Hold{}} }

// DecodeHolds reads holds written by Encode; nil or empty b (a tombstone, or
// nothing yet) is NewHolds.
func DecodeHolds(b []byte) (*Holds, error) {
	h := NewHolds()
	if len(b) == 0 {
		return h, nil
	}
	if err := json.Unmarshal(b, h); err != nil {
		return nil, fmt.Errorf("decode holds: %w", err)
	}
	if h.Domains == nil {
		h.Domains = map[string]*Hold{}
	}
	return h, nil
}

// Encode returns the holds' changelog value.
func (h *Holds) Encode() ([]byte, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode holds: %w", err)
	}
	return b, nil
}

// States is a partition's recipient table as the guard reads and writes it.
type States interface {
	Get(key string) (streak.State, bool)
	Put(key string, s streak.State)
}

// Change is a suppression record to publish; Record nil is a tombstone.
type Change struct {
	Key    string
	Record *event.Suppression
}

// Effects is what one step of the guard produced.
type Effects struct {
	// Changes are records to publish again (retro-held, released,
	// discarded), in order, before Record.
	Changes []Change
	// Record, when not nil, replaces the record the attempt itself is
	// about to publish (it is now held).
	Record *event.Suppression
	// Command is a hold this partition detected: the caller sends it to
	// every partition of the attempts topic.
	Command *streak.Control
	// Alert is the guard's alert (only when the guard was built with
	// alerts true).
	Alert *event.Alert
	// Held counts suppressions turned into held ones in this step.
	Held int
	// Replay: the domain command was applied before (offset at or below
	// Holds.Off).
	Replay bool
}

// Guard is one partition's incident guard. It is not safe for concurrent
// use: one partition worker owns it.
type Guard struct {
	cfg     Config
	alerts  bool
	holds   *Holds
	windows map[string]*window
	dirty   bool // holds changed since the last MarkSaved
}

// window counts one domain's attempts and hard suppressions in the current
// window of one partition.
type window struct {
	start    int64 // event time (Unix ns)
	attempts int
	hard     map[string][]published // rule -> suppressions published in the window
}

// published is an automatic suppression as it was published.
type published struct {
	key string
	rec *event.Suppression
}

// New builds a partition's guard around its persisted holds (nil: none).
// alerts says this partition raises the guard's alerts: every partition
// applies the same domain commands, and one alert per change group-wide
// is enough (partition 0 raises them).
func New(cfg Config, h *Holds, alerts bool) *Guard {
	if h == nil {
		h = NewHolds()
	}
	if h.Domains == nil {
		h.Domains = map[string]*Hold{}
	}
	return &Guard{cfg: cfg.WithDefaults(), alerts: alerts, holds: h, windows: map[string]*window{}}
}

// Holds returns the guard's holds, to write to the changelog or a
// checkpoint.
func (g *Guard) Holds() *Holds { return g.holds }

// Dirty reports whether the holds changed since the last MarkSaved: the
// caller then writes Holds to the changelog.
func (g *Guard) Dirty() bool { return g.dirty }

// MarkSaved records that the holds as they are now are written.
func (g *Guard) MarkSaved() { g.dirty = false }

// Attempt is called for every attempt the fold applied at offset off, after
// states.Put(key, s) of the state the fold returned, with the fold's
// result. It does nothing for duplicates, replays, attempts without a
// verdict, or when the guard is disabled.
//
// It counts the attempt at its domain. When the attempt published an
// automatic suppression and the domain is held, that suppression is held
// (Effects.Record). Otherwise a hard suppression is counted, and when it
// completes an incident the domain is held at once: the suppression in hand
// and the window's earlier ones of the same rule (Effects.Changes) become
// held, and Effects.Command is the hold for the other partitions.
func (g *Guard) Attempt(states States, a *event.Attempt, key string, res streak.Result, off int64) Effects {
	if a == nil || res.Replay || res.Duplicate || a.Verdict == nil || g.cfg.Disabled {
		return Effects{}
	}
	w := g.observe(a)
	r := res.Record
	if !res.Publish || r == nil || r.Source != event.OriginAuto || r.Status != event.StatusSuppressed {
		return Effects{}
	}
	d := domainOf(key)
	if h := g.holds.Domains[d]; h != nil {
		g.dirty = true
		h.Held = append(h.Held, key)
		return Effects{Record: holdOwn(states, key, r, a.OccurredAt), Held: 1}
	}
	if r.Class != event.ClassHard {
		return Effects{}
	}
	w.hard[r.Rule] = append(w.hard[r.Rule], published{key: key, rec: r})
	n := len(w.hard[r.Rule])
	if n < g.cfg.MinRecipients || float64(n) < g.cfg.Share*float64(w.attempts) {
		return Effects{}
	}
	c := &streak.Control{Op: streak.OpHold, Domain: d, Rule: r.Rule, At: a.OccurredAt,
		Reason: fmt.Sprintf("%d of %d attempts at %s in %s were hard bounces from rule %s", n, w.attempts, d, g.cfg.Window, r.Rule)}
	h := g.hold(d, r.Rule, a.OccurredAt)
	h.Held = append(h.Held, key)
	e := Effects{Record: holdOwn(states, key, r, a.OccurredAt), Held: 1, Command: c}
	changes, held := holdAll(states, g.earlier(h, d, r.Rule, key), a.OccurredAt, off)
	e.Changes, e.Held = changes, e.Held+held
	e.Alert = g.alert(*c, event.AlertFiring)
	return e
}

// Command applies a domain command (c.Domain set: hold, release or discard)
// read at offset off of this partition.
//
// A hold detected by another partition holds the domain here too, with
// this partition's earlier suppressions of the rule in the window. A
// release publishes the held suppressions again, enforced; a discard
// publishes tombstones and resets their recipients. Either ends the hold.
func (g *Guard) Command(states States, c streak.Control, off int64) Effects {
	if off <= g.holds.Off {
		return Effects{Replay: true}
	}
	g.holds.Off = off
	g.dirty = true
	h := g.holds.Domains[c.Domain]
	switch c.Op {
	case streak.OpHold:
		if h != nil {
			return Effects{} // this partition detected it first
		}
		h = g.hold(c.Domain, c.Rule, c.At)
		changes, held := holdAll(states, g.earlier(h, c.Domain, c.Rule, ""), c.At, off)
		return Effects{Changes: changes, Held: held, Alert: g.alert(c, event.AlertFiring)}
	case streak.OpRelease, streak.OpDiscard:
		if h == nil {
			return Effects{}
		}
		var e Effects
		for _, key := range h.Held {
			st, ok := states.Get(key)
			if !ok {
				continue
			}
			st, res, err := streak.ApplyControl(st, streak.Control{Op: c.Op, Address: key, At: c.At}, off)
			if err != nil || !res.Publish {
				continue // lifted or changed since
			}
			states.Put(key, st)
			e.Changes = append(e.Changes, Change{Key: key, Record: res.Record})
		}
		delete(g.holds.Domains, c.Domain)
		e.Alert = g.alert(c, event.AlertResolved)
		return e
	}
	return Effects{}
}

// observe counts an attempt at its domain, and returns the domain's window.
func (g *Guard) observe(a *event.Attempt) *window {
	d := domainOf(a.RecipientNorm)
	at := a.OccurredAt.UnixNano()
	w := g.windows[d]
	if w == nil || at >= w.start+int64(g.cfg.Window) {
		if len(g.windows) > maxWindows {
			g.prune(at)
		}
		w = &window{start: at, hard: map[string][]published{}}
		g.windows[d] = w
	}
	w.attempts++
	return w
}

// prune forgets windows that ended long before at.
func (g *Guard) prune(at int64) {
	for d, w := range g.windows {
		if at >= w.start+2*int64(g.cfg.Window) {
			delete(g.windows, d)
		}
	}
}

// hold starts holding domain d for rule.
func (g *Guard) hold(d, rule string, at time.Time) *Hold {
	h := &Hold{Since: at.UTC(), Rule: rule}
	g.holds.Domains[d] = h
	g.dirty = true
	return h
}

// earlier returns the window's suppressions of rule at d, but for key and
// those already held, adds them to h and empties the window's count of
// the rule.
func (g *Guard) earlier(h *Hold, d, rule, key string) []published {
	w := g.windows[d]
	if w == nil {
		return nil
	}
	var out []published
	for _, p := range w.hard[rule] {
		if p.key == key || slices.Contains(h.Held, p.key) {
			continue
		}
		out = append(out, p)
		h.Held = append(h.Held, p.key)
	}
	delete(w.hard, rule)
	return out
}

// holdOwn holds the suppression the attempt just published for key, in the
// state the caller stored: the hold is part of the attempt's own step.
func holdOwn(states States, key string, rec *event.Suppression, at time.Time) *event.Suppression {
	st, _ := states.Get(key)
	st, res, err := streak.ApplyControl(st, streak.Control{Op: streak.OpHold, Address: key, Record: rec, At: at}, -1)
	if err != nil || !res.Publish {
		// The table refused the key (longer than any address): there is
		// no state to hold, but the record goes out held all the same.
		held := *rec
		held.Status = event.StatusHeld
		return &held
	}
	states.Put(key, st)
	return res.Record
}

// holdAll holds earlier suppressions at offset off; those no longer
// automatic suppressions (lifted, suppressed by hand, upgraded and held
// since) are left alone. It returns the records to publish again.
func holdAll(states States, ps []published, at time.Time, off int64) ([]Change, int) {
	var out []Change
	for _, p := range ps {
		st, ok := states.Get(p.key)
		if !ok {
			continue
		}
		st, res, err := streak.ApplyControl(st, streak.Control{Op: streak.OpHold, Address: p.key, Record: p.rec, At: at}, off)
		if err != nil || !res.Publish {
			continue
		}
		states.Put(p.key, st)
		out = append(out, Change{Key: p.key, Record: res.Record})
	}
	return out, len(out)
}

// alert is the guard's alert for a hold that started (firing) or ended
// (resolved); nil on partitions that raise no alerts.
func (g *Guard) alert(c streak.Control, state string) *event.Alert {
	if !g.alerts {
		return nil
	}
	a := &event.Alert{At: c.At.UTC(), Rule: "incident_guard", Scope: "domain", Subject: c.Domain, Severity: "critical", State: state}
	switch c.Op {
	case streak.OpHold:
		a.Message = fmt.Sprintf("Suppressions for %s are held: %s. Decide with `bounced suppress release %s` or `bounced suppress discard %s`.", c.Domain, c.Reason, c.Domain, c.Domain)
	default:
		a.Message = fmt.Sprintf("The hold on %s ended: an operator chose %s.", c.Domain, c.Op)
	}
	return a
}

// domainOf is the domain of a normalised address: what follows its last @.
func domainOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return ""
}
