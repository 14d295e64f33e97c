package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/idna"

	"github.com/bounced-dev/bounced/processor/event"
)

func tiny(t testing.TB, seed int64) *Stream {
	t.Helper()
	s, err := Generate(Tiny(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeterministic(t *testing.T) {
	a, b := tiny(t, 42), tiny(t, 42)
	if len(a.Records) != len(b.Records) {
		t.Fatalf("lengths differ: %d vs %d", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		if !reflect.DeepEqual(a.Records[i], b.Records[i]) {
			t.Fatalf("record %d differs:\n%.300s\n%.300s", i, a.Records[i].Value, b.Records[i].Value)
		}
	}
	if !reflect.DeepEqual(a.Truth, b.Truth) {
		t.Fatal("truth differs for the same seed")
	}
	c := tiny(t, 43)
	if reflect.DeepEqual(a.Values(), c.Values()) {
		t.Fatal("seeds 42 and 43 gave the same stream")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Recipients: -1}, {Campaigns: 25}, {Hosts: 101}, {Days: 21}, {Days: 400},
	} {
		if _, err := Generate(c); err == nil {
			t.Errorf("Generate(%+v) accepted an invalid config", c)
		}
	}
	for _, c := range []Config{{Recipients: 1}, {Recipients: 30, Campaigns: 24, Hosts: 1, Days: 22, BadRecords: -1}} {
		s, err := Generate(c)
		if err != nil {
			t.Errorf("Generate(%+v): %v", c, err)
			continue
		}
		if c.BadRecords < 0 && s.Truth.Bad != 0 {
			t.Errorf("BadRecords < 0 gave %d bad records", s.Truth.Bad)
		}
	}
}

func normalise(t testing.TB, addr string) string {
	t.Helper()
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		t.Fatalf("no @ in %q", addr)
	}
	d, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		t.Fatalf("domain of %q: %v", addr, err)
	}
	return strings.ToLower(addr[:at]) + "@" + strings.ToLower(d)
}

// strictDecode is what ingest must at least check for a canonical record.
func strictDecode(v []byte) (event.Attempt, error) {
	var a event.Attempt
	if len(v) > 1<<20 {
		return a, fmt.Errorf("%d bytes", len(v))
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return a, err
	}
	if a.OccurredAt.IsZero() || !a.Outcome.Valid() {
		return a, fmt.Errorf("occurred_at %v, outcome %q", a.OccurredAt, a.Outcome)
	}
	if strings.ContainsFunc(a.Recipient, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return a, fmt.Errorf("control characters in %q", a.Recipient)
	}
	if _, err := mail.ParseAddress(a.Recipient); err != nil || strings.Count(a.Recipient, "@") != 1 {
		return a, fmt.Errorf("recipient %q: %v", a.Recipient, err)
	}
	return a, nil
}

func TestRecordsDecode(t *testing.T) {
	s := tiny(t, 1)
	bad := 0
	for i, r := range s.Records {
		a, err := strictDecode(r.Value)
		if r.Bad != "" {
			bad++
			if err == nil {
				t.Errorf("record %d (%s) decodes cleanly: %.200s", i, r.Bad, r.Value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Value)
		}
		if a.Source.Host != r.Host {
			t.Errorf("record %d: key %q, source.host %q", i, r.Host, a.Source.Host)
		}
		if a.MessageID == "" || a.CampaignID == "" || a.Attempt < 1 || a.SentAt.IsZero() || a.SentAt.After(a.OccurredAt) {
			t.Errorf("record %d lacks send fields: %s", i, r.Value)
		}
		if got := normalise(t, a.Recipient); got != s.meta[i].norm {
			t.Errorf("record %d: %q normalises to %q, want %q", i, a.Recipient, got, s.meta[i].norm)
		}
	}
	if bad != s.Truth.Bad || bad != 20 {
		t.Errorf("%d bad records, truth says %d, want 20", bad, s.Truth.Bad)
	}
	kinds := map[string]bool{}
	for _, r := range s.Records {
		if r.Bad != "" {
			kinds[r.Bad] = true
		}
	}
	if len(kinds) != len(badKinds) {
		t.Errorf("%d kinds of bad record, want %d", len(kinds), len(badKinds))
	}
}

func TestTallies(t *testing.T) {
	s := tiny(t, 2)
	var attempts int
	camp, dom := map[string]Tally{}, map[string]Tally{}
	sends := map[string]bool{}
	for _, r := range s.Records {
		if r.Bad != "" {
			continue
		}
		a, err := strictDecode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		attempts++
		sends[a.SendKey()] = true
		n := normalise(t, a.Recipient)
		for _, mk := range []struct {
			m map[string]Tally
			k string
		}{{camp, a.CampaignID}, {dom, n[strings.IndexByte(n, '@')+1:]}} {
			x := mk.m[mk.k]
			x.add(a.Outcome)
			mk.m[mk.k] = x
		}
	}
	tr := s.Truth
	if attempts != tr.Attempts || len(sends) != tr.Sends {
		t.Errorf("attempts %d sends %d, truth %d %d", attempts, len(sends), tr.Attempts, tr.Sends)
	}
	if !maps.Equal(camp, tr.PerCampaign) {
		t.Errorf("per campaign:\n got %v\nwant %v", camp, tr.PerCampaign)
	}
	if !maps.Equal(dom, tr.PerDomain) {
		t.Errorf("per domain:\n got %v\nwant %v", dom, tr.PerDomain)
	}
	sum := Tally{}
	for _, x := range tr.PerCampaign {
		if x.Attempts != x.Delivered+x.Deferred+x.Bounced {
			t.Errorf("tally does not add up: %+v", x)
		}
		sum.Attempts += x.Attempts
	}
	if sum.Attempts != tr.Attempts {
		t.Errorf("campaign tallies sum to %d, want %d", sum.Attempts, tr.Attempts)
	}
	if _, ok := tr.PerDomain["xn--mnchen-3ya.example"]; !ok {
		t.Error("no IDN domain in the per-domain tally")
	}
	if len(tr.PerCampaign) != 6 {
		t.Errorf("%d campaigns, want 6", len(tr.PerCampaign))
	}
}

func TestOrder(t *testing.T) {
	s := tiny(t, 3)
	lastByHost := map[string]time.Time{}
	type send struct {
		rcpt          string
		sent, first   time.Time
		last          time.Time
		attempts      int
		final         bool
		host          string
		spelledAsSeen map[string]bool
	}
	sends := map[string]*send{}
	var order []string
	hostOf := map[string]string{}
	for i, r := range s.Records {
		if r.Bad != "" {
			continue
		}
		a, _ := strictDecode(r.Value)
		if a.OccurredAt.Before(lastByHost[r.Host]) {
			t.Fatalf("record %d goes back in time on host %s", i, r.Host)
		}
		lastByHost[r.Host] = a.OccurredAt
		n := s.meta[i].norm
		if h, ok := hostOf[n]; ok && h != r.Host {
			t.Fatalf("%s on hosts %s and %s", n, h, r.Host)
		}
		hostOf[n] = r.Host
		sd := sends[a.MessageID]
		if sd == nil {
			sd = &send{rcpt: n, sent: a.SentAt, first: a.OccurredAt}
			sends[a.MessageID] = sd
			order = append(order, a.MessageID)
		}
		if sd.final {
			t.Fatalf("attempt after the final one: %s", r.Value)
		}
		sd.attempts++
		if a.Attempt != sd.attempts {
			t.Fatalf("attempt %d, want %d: %s", a.Attempt, sd.attempts, r.Value)
		}
		sd.last, sd.final = a.OccurredAt, a.Outcome.Final()
	}
	// One recipient's sends never overlap: each ends before the next is queued.
	byRcpt := map[string][]*send{}
	for _, id := range order {
		sd := sends[id]
		if !sd.final {
			t.Fatalf("send %s never ends", id)
		}
		byRcpt[sd.rcpt] = append(byRcpt[sd.rcpt], sd)
	}
	for r, ss := range byRcpt {
		for i := 1; i < len(ss); i++ {
			if gap := ss[i].sent.Sub(ss[i-1].last); gap < 12*time.Hour {
				t.Errorf("%s: send queued %v after the previous one ended", r, gap)
			}
		}
	}
}

// fold is a reference implementation of the default policy of SPEC §5,
// driven by the labels a correct classifier gives. window is the soft
// window; atEnd counts a failed send when it ends instead of at its first
// soft failure.
func fold(s *Stream, window time.Duration, atEnd bool) map[string]Expect {
	type state struct {
		streak  []time.Time
		counted map[string]bool
		first   map[string]time.Time
	}
	states := map[string]*state{}
	out := map[string]Expect{}
	for i, r := range s.Records {
		m := s.meta[i]
		if r.Bad != "" {
			continue
		}
		if _, done := out[m.norm]; done {
			continue
		}
		st := states[m.norm]
		if st == nil {
			st = &state{counted: map[string]bool{}, first: map[string]time.Time{}}
			states[m.norm] = st
		}
		class, _, _ := m.label.Taxonomy()
		var a event.Attempt
		_ = json.Unmarshal(r.Value, &a)
		switch {
		case class == event.ClassHard || class == event.ClassComplaint:
			out[m.norm] = Expect{class, m.label}
		case class == event.ClassDelivered:
			st.streak, st.counted = nil, map[string]bool{}
		case class == event.ClassSoft && m.label != event.Greylisted:
			if _, ok := st.first[m.send]; !ok {
				st.first[m.send] = m.at
			}
			if st.counted[m.send] || atEnd && !a.Outcome.Final() {
				continue
			}
			st.counted[m.send] = true
			st.streak = append(st.streak, st.first[m.send])
			if n := len(st.streak); n >= 3 && st.streak[n-1].Sub(st.streak[n-3]) <= window {
				out[m.norm] = Expect{class, m.label}
			}
		}
	}
	return out
}

func TestTruthMatchesPolicy(t *testing.T) {
	for seed := range int64(5) {
		s := tiny(t, seed)
		got := fold(s, 14*24*time.Hour, false)
		if !maps.Equal(got, s.Truth.Suppressed) {
			for k, v := range s.Truth.Suppressed {
				if got[k] != v {
					t.Errorf("seed %d: %s (%s): truth %v, policy %v", seed, k, s.Truth.Fates[k], v, got[k])
				}
			}
			for k, v := range got {
				if _, ok := s.Truth.Suppressed[k]; !ok {
					t.Errorf("seed %d: %s (%s): policy suppresses (%v), truth does not", seed, k, s.Truth.Fates[k], v)
				}
			}
		}
		// Clear of the window's edge and of when a send counts.
		for _, w := range []time.Duration{8 * 24 * time.Hour, 19 * 24 * time.Hour} {
			for _, atEnd := range []bool{false, true} {
				if alt := fold(s, w, atEnd); !maps.Equal(alt, got) {
					t.Errorf("seed %d: truth depends on window %v / atEnd %v", seed, w, atEnd)
				}
			}
		}
	}
}

func TestEveryFate(t *testing.T) {
	s := tiny(t, 9)
	count := map[string]int{}
	for _, f := range s.Truth.Fates {
		count[f]++
	}
	for _, f := range []fate{fateHealthy, fateHard, fateNoDomain, fateSoftDead, fateRecovering, fateSoftSlow, fateRetried, fateBlocked, fateFullBounce} {
		if count[string(f)] == 0 {
			t.Errorf("no recipient with fate %s", f)
		}
	}
	seen := map[string]bool{}
	mixed := 0
	for i, r := range s.Records {
		if r.Bad == "" {
			seen[s.meta[i].norm] = true
			if a, _ := strictDecode(r.Value); a.Recipient != s.meta[i].norm && !strings.Contains(a.Recipient, "ü") {
				mixed++
			}
		}
	}
	for k := range s.Truth.Suppressed {
		if !seen[k] {
			t.Errorf("suppressed %s has no records", k)
		}
	}
	if len(seen) != 200 || len(s.Truth.Fates) != 200 {
		t.Errorf("%d recipients with records, %d with fates, want 200", len(seen), len(s.Truth.Fates))
	}
	if mixed == 0 {
		t.Error("no mixed-case or A-label spelling in the stream")
	}
}

func TestDefaultStream(t *testing.T) {
	if testing.Short() {
		t.Skip("default stream")
	}
	s, err := Generate(Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Truth
	byLabel := map[event.Label]int{}
	for _, e := range tr.Suppressed {
		byLabel[e.Label]++
	}
	hosts := map[string]int{}
	for _, r := range s.Records {
		hosts[r.Host]++
	}
	t.Logf("records %d, attempts %d, sends %d, bad %d, suppressed %d %v, hosts %v",
		len(s.Records), tr.Attempts, tr.Sends, tr.Bad, len(tr.Suppressed), byLabel, hosts)
	if tr.Attempts < 20_000 || tr.Attempts > 100_000 {
		t.Errorf("%d attempts, want tens of thousands", tr.Attempts)
	}
	if got := fold(s, 14*24*time.Hour, false); !maps.Equal(got, tr.Suppressed) {
		t.Error("default stream: truth differs from the policy")
	}
	labels := slices.Sorted(maps.Keys(byLabel))
	if !slices.Equal(labels, []event.Label{event.DomainUnknown, event.MailboxFull, event.MailboxInactive, event.MailboxUnknown}) {
		t.Errorf("suppression labels %v", labels)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"tiny", Tiny(1)}, {"default", Config{Seed: 1}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				s, err := Generate(c.cfg)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				for _, r := range s.Records {
					n += int64(len(r.Value))
				}
			}
			b.SetBytes(n)
		})
	}
}
