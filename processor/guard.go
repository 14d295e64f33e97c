package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
)

// Incident guard defaults.
const (
	DefaultGuardMinRecipients = 20
	DefaultGuardShare         = 0.5
	defaultGuardWindow        = 15 * time.Minute
)

// GuardConfig tunes the incident guard (SPEC §5): when one recipient domain
// suddenly returns hard verdicts from one rule for an unusual share of its
// recipients, the domain's new suppressions are held until an operator
// releases or discards them.
type GuardConfig struct {
	// Disabled turns the guard off.
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

func (g GuardConfig) withDefaults() GuardConfig {
	if g.Window == 0 {
		g.Window = defaultGuardWindow
	}
	if g.MinRecipients == 0 {
		g.MinRecipients = DefaultGuardMinRecipients
	}
	if g.Share == 0 {
		g.Share = DefaultGuardShare
	}
	return g
}

func (g GuardConfig) validate() error {
	g = g.withDefaults()
	if g.Window < time.Minute {
		return fmt.Errorf("pipeline.guard.window: %s is shorter than 1m", g.Window)
	}
	if g.MinRecipients < 1 {
		return fmt.Errorf("pipeline.guard.min_recipients: %d must be at least 1", g.MinRecipients)
	}
	if g.Share <= 0 || g.Share > 1 {
		return fmt.Errorf("pipeline.guard.share: %v must be in (0, 1]", g.Share)
	}
	return nil
}

// holdsKey is the changelog key of a partition's holds; not an address.
const holdsKey = "\x00holds"

// holds is the partition's incident-guard state, in the changelog under
// holdsKey: it is applied in offset order like everything else, so a replay
// after a crash decides the same.
type holds struct {
	// Off is the offset of the last domain command applied (replay guard).
	Off     int64            `json:"off"`
	Domains map[string]*hold `json:"domains"`
}

type hold struct {
	Since time.Time `json:"since"`
	Rule  string    `json:"rule"`
	// Held lists this partition's recipients whose suppression is held.
	Held []string `json:"held"`
}

func newHolds() *holds { return &holds{Off: -1, Domains: map[string]*hold{}} }

// watch counts one domain's attempts and hard suppressions in the current
// window of one partition. It lives in memory only: after a restart the
// guard starts a fresh window, and holds already decided come back from the
// changelog.
type watch struct {
	start    int64 // window start, event time (Unix ns)
	attempts int
	hard     map[string][]pendingRec // rule -> suppressions published in the window
}

type pendingRec struct {
	key string
	rec *event.Suppression
}

// guard is one partition's incident guard.
type guard struct {
	cfg     GuardConfig
	holds   *holds
	watches map[string]*watch
	dirty   bool // holds changed since the last changelog write
}

func newGuard(cfg GuardConfig, h *holds) *guard {
	if h == nil {
		h = newHolds()
	}
	return &guard{cfg: cfg.withDefaults(), holds: h, watches: map[string]*watch{}}
}

func domainOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return ""
}

// observe counts an attempt at its domain, and returns the watch.
func (g *guard) observe(a *event.Attempt) *watch {
	d := domainOf(a.RecipientNorm)
	at := a.OccurredAt.UnixNano()
	w := g.watches[d]
	if w == nil || at >= w.start+int64(g.cfg.Window) {
		if len(g.watches) > 100000 {
			g.prune(at)
		}
		w = &watch{start: at, hard: map[string][]pendingRec{}}
		g.watches[d] = w
	}
	w.attempts++
	return w
}

// prune forgets windows that ended long before at.
func (g *guard) prune(at int64) {
	for d, w := range g.watches {
		if at >= w.start+2*int64(g.cfg.Window) {
			delete(g.watches, d)
		}
	}
}

// outcome is what the guard made of a suppression about to be published.
type outcome struct {
	held    bool            // the record was turned into a held one
	trigger *streak.Control // a new hold this partition detected: send to every partition
	retro   []pendingRec    // earlier suppressions of the window, now held
}

// suppressed is called for every automatic suppression a partition is
// about to publish. When the domain is held, the record is held; otherwise
// the suppression is counted, and when it completes an incident the domain
// is held here at once and the hold is returned for the other partitions.
func (g *guard) suppressed(a *event.Attempt, key string, st *streak.State, rec *event.Suppression, w *watch) outcome {
	d := domainOf(key)
	if h := g.holds.Domains[d]; h != nil {
		holdRecord(st, rec)
		h.Held = append(h.Held, key)
		g.dirty = true
		return outcome{held: true}
	}
	if g.cfg.Disabled || rec.Class != event.ClassHard || w == nil {
		return outcome{}
	}
	w.hard[rec.Rule] = append(w.hard[rec.Rule], pendingRec{key: key, rec: rec})
	n := len(w.hard[rec.Rule])
	if n < g.cfg.MinRecipients || float64(n) < g.cfg.Share*float64(w.attempts) {
		return outcome{}
	}
	c := &streak.Control{Op: streak.OpHold, Domain: d, Rule: rec.Rule, At: a.OccurredAt,
		Reason: fmt.Sprintf("%d of %d attempts at %s in %s were hard bounces from rule %s", n, w.attempts, d, g.cfg.Window, rec.Rule)}
	return outcome{held: true, trigger: c, retro: g.hold(d, rec.Rule, a.OccurredAt, key, st, rec)}
}

// hold starts holding domain d: the suppression in hand (key, st, rec; key
// empty when there is none) and the window's earlier suppressions from rule
// become held. It returns the earlier ones, to publish again.
func (g *guard) hold(d, rule string, at time.Time, key string, st *streak.State, rec *event.Suppression) []pendingRec {
	h := &hold{Since: at.UTC(), Rule: rule}
	g.holds.Domains[d] = h
	g.dirty = true
	if key != "" {
		holdRecord(st, rec)
		h.Held = append(h.Held, key)
	}
	var retro []pendingRec
	if w := g.watches[d]; w != nil {
		for _, p := range w.hard[rule] {
			if p.key == key || slices.Contains(h.Held, p.key) {
				continue
			}
			retro = append(retro, p)
			h.Held = append(h.Held, p.key)
		}
		delete(w.hard, rule)
	}
	return retro
}

// holdRecord turns a suppression about to be published into a held one.
func holdRecord(st *streak.State, rec *event.Suppression) {
	rec.Status = event.StatusHeld
	if st.Mark != nil {
		m := *st.Mark
		m.Status = event.StatusHeld
		held := *rec
		m.Held = &held
		st.Mark = &m
	}
}

// holdsRecord is the changelog record of the partition's holds.
func (p *Pipeline) holdsRecord(partition int, h *holds) (kafka.Message, error) {
	v, err := json.Marshal(h)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode holds: %w", err)
	}
	return kafka.Message{Topic: p.topics.State, Partition: partition, Key: []byte(holdsKey), Value: v}, nil
}

// NewPartitionWriter returns a writer that sends each message to the
// partition it names (Message.Partition), as domain commands need.
func NewPartitionWriter(conn *broker.Clients) *kafka.Writer {
	return newWriter(conn, kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition }))
}

// DomainMessages turns domain commands (hold, release, discard) into one
// record per partition of the attempts topic, for a writer from
// NewPartitionWriter: every stage-2 owner applies them in order with its
// own events, whichever partitions it owns.
func DomainMessages(ctx context.Context, conn *broker.Clients, attempts string, cs ...streak.Control) ([]kafka.Message, error) {
	n, err := conn.Partitions(ctx, attempts)
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, c := range cs {
		v, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode %s of %s: %w", c.Op, c.Domain, err)
		}
		for i := range n {
			out = append(out, kafka.Message{Topic: attempts, Partition: i, Key: []byte("\x00domain:" + c.Domain), Value: v,
				Headers: []kafka.Header{{Key: ControlHeader, Value: []byte(c.Op)}}})
		}
	}
	return out, nil
}

// domainControl applies a domain command read at offset off of partition.
func (p *Pipeline) domainControl(ps *partState, partition int, c streak.Control, off int64, pubs []pending, alerts []event.Alert, dirty map[string]struct{}) ([]pending, []event.Alert) {
	g := ps.guard
	if off <= g.holds.Off {
		p.m.Replays.Inc()
		return pubs, alerts
	}
	g.holds.Off = off
	g.dirty = true
	h := g.holds.Domains[c.Domain]
	switch c.Op {
	case streak.OpHold:
		if h != nil {
			return pubs, alerts // this partition detected it first
		}
		retro := g.hold(c.Domain, c.Rule, c.At, "", nil, nil)
		pubs = p.holdRetro(ps, retro, off, pubs, dirty)
		return pubs, p.guardAlert(alerts, partition, c, event.AlertFiring)
	case streak.OpRelease, streak.OpDiscard:
		if h == nil {
			return pubs, alerts
		}
		for _, key := range h.Held {
			st, ok := ps.table.Get(key)
			if !ok || st.Mark == nil || st.Mark.Status != event.StatusHeld {
				continue // lifted or changed since
			}
			if c.Op == streak.OpDiscard {
				st, res, _ := streak.ApplyControl(st, streak.Control{Op: streak.OpLift, Address: key, At: c.At}, off)
				ps.table.Put(key, st)
				dirty[key] = struct{}{}
				pubs = append(pubs, pending{key: key, rec: res.Record, off: off})
				continue
			}
			rec := *st.Mark.Held
			rec.Status = event.StatusSuppressed
			rec.UpdatedAt = c.At.UTC()
			m := *st.Mark
			m.Status, m.Held = event.StatusSuppressed, nil
			st.Mark = &m
			ps.table.Put(key, st)
			dirty[key] = struct{}{}
			pubs = append(pubs, pending{key: key, rec: &rec, off: off})
		}
		delete(g.holds.Domains, c.Domain)
		return pubs, p.guardAlert(alerts, partition, c, event.AlertResolved)
	}
	return pubs, alerts
}

// holdRetro turns the window's earlier suppressions of a newly held domain
// into held ones and queues them for publishing again.
func (p *Pipeline) holdRetro(ps *partState, retro []pendingRec, off int64, pubs []pending, dirty map[string]struct{}) []pending {
	for _, r := range retro {
		st, ok := ps.table.Get(r.key)
		if !ok || st.Mark == nil || st.Mark.Status != event.StatusSuppressed || st.Mark.Source != event.OriginAuto {
			continue
		}
		rec := *r.rec
		holdRecord(&st, &rec)
		ps.table.Put(r.key, st)
		dirty[r.key] = struct{}{}
		p.m.Held.Inc()
		pubs = append(pubs, pending{key: r.key, rec: &rec, off: off})
	}
	return pubs
}

// guardAlert adds the incident guard's alert for a hold that started or
// ended. Only partition 0 raises it: every partition applies the same
// domain command, and one alert per change is enough.
func (p *Pipeline) guardAlert(alerts []event.Alert, partition int, c streak.Control, state string) []event.Alert {
	if partition != 0 {
		return alerts
	}
	a := event.Alert{At: c.At.UTC(), Rule: "incident_guard", Scope: "domain", Subject: c.Domain, Severity: "critical", State: state}
	switch c.Op {
	case streak.OpHold:
		a.Message = fmt.Sprintf("Suppressions for %s are held: %s. Decide with `bounced suppress release %s` or `bounced suppress discard %s`.", c.Domain, c.Reason, c.Domain, c.Domain)
	default:
		a.Message = fmt.Sprintf("The hold on %s ended: an operator chose %s.", c.Domain, c.Op)
	}
	if state == event.AlertFiring {
		p.m.Holds.Inc()
	}
	return append(alerts, a)
}

// AlertMessages are the alerts topic's records of as, keyed by Alert.Key.
func AlertMessages(topic string, as []event.Alert) ([]kafka.Message, error) {
	out := make([]kafka.Message, len(as))
	for i := range as {
		v, err := json.Marshal(&as[i])
		if err != nil {
			return nil, fmt.Errorf("encode alert: %w", err)
		}
		out[i] = kafka.Message{Topic: topic, Key: []byte(as[i].Key()), Value: v}
	}
	return out, nil
}
