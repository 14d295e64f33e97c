package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	netmail "net/mail"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/idna"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/ingest/mail"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/schemas"
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
	if _, err := netmail.ParseAddress(a.Recipient); err != nil || strings.Count(a.Recipient, "@") != 1 {
		return a, fmt.Errorf("recipient %q: %v", a.Recipient, err)
	}
	return a, nil
}

// decodeMail is what processor/ingest/mail, with its default settings,
// makes of a mail record: exactly one attempt, or an error.
func decodeMail(v []byte) (event.Attempt, error) {
	if f := raw.Detect(raw.Record{Payload: v}); f != raw.FormatMail {
		return event.Attempt{}, fmt.Errorf("detected as %q, want %q", f, raw.FormatMail)
	}
	as, skip, err := mail.New(mail.Config{}).Decode(raw.Record{Payload: v})
	switch {
	case err != nil:
		return event.Attempt{}, err
	case skip != "":
		return event.Attempt{}, fmt.Errorf("skipped as %s", skip)
	case len(as) != 1:
		return event.Attempt{}, fmt.Errorf("%d attempts, want 1", len(as))
	}
	return as[0], nil
}

// decodeGood decodes good record i of s: canonical JSON strictly, a mail
// through processor/ingest/mail.
func decodeGood(s *Stream, i int) (event.Attempt, error) {
	if s.meta[i].mail {
		return decodeMail(s.Records[i].Value)
	}
	return strictDecode(s.Records[i].Value)
}

// stage1 is stage 1's record logic with the default rules: what `bounced
// decode` and the pipeline make of a record.
func stage1(t testing.TB) *ingest.Session {
	t.Helper()
	rules, err := classify.DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	cls, err := classify.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{}, classify.NewLive(cls), schemas.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	return in.NewSession("bounced.input")
}

// TestMailRecords reads every mail record of a few streams through stage 1
// (format detection, the mail decoder, campaign rules, classification) and
// checks it becomes the attempt the truth assumes: the send it is about,
// its campaign, recipient, times and verdict.
func TestMailRecords(t *testing.T) {
	sess := stage1(t)
	seen := map[event.Label]int{}
	for seed := range int64(4) {
		s := tiny(t, seed)
		sent := map[string]event.Attempt{} // message id → its delivery
		for i, r := range s.Records {
			m := s.meta[i]
			if r.Bad != "" {
				continue
			}
			if !m.mail {
				a, err := strictDecode(r.Value)
				if err != nil {
					t.Fatal(err)
				}
				if a.Outcome == event.Delivered {
					sent[a.MessageID] = a
				}
				continue
			}
			if !bytes.Contains(r.Value, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(r.Value, []byte("\r\n"), nil), []byte("\n")) {
				t.Errorf("seed %d record %d: not CRLF throughout", seed, i)
			}
			as, skip, err := sess.Decode(r.Value, time.Time{})
			if err != nil || skip != "" || len(as) != 1 {
				t.Fatalf("seed %d record %d: %d attempts, skip %q, err %v:\n%s", seed, i, len(as), skip, err, r.Value)
			}
			a := as[0]
			orig, ok := sent[m.send]
			switch {
			case !ok:
				t.Errorf("seed %d record %d: a mail about %s, which was never delivered before it", seed, i, m.send)
			case a.MessageID != orig.MessageID || a.CampaignID != orig.CampaignID || !a.SentAt.Equal(orig.SentAt):
				t.Errorf("seed %d record %d: message %s campaign %s sent %v; the send: %s %s %v",
					seed, i, a.MessageID, a.CampaignID, a.SentAt, orig.MessageID, orig.CampaignID, orig.SentAt)
			case !a.OccurredAt.Equal(m.at) || !a.OccurredAt.After(orig.OccurredAt):
				t.Errorf("seed %d record %d: occurred_at %v, want %v, after the delivery at %v", seed, i, a.OccurredAt, m.at, orig.OccurredAt)
			}
			if a.RecipientNorm != m.norm {
				t.Errorf("seed %d record %d: recipient %q normalises to %q, want %q", seed, i, a.Recipient, a.RecipientNorm, m.norm)
			}
			want := event.Bounced
			if m.label == event.LabelComplaint {
				want = event.Complaint
			}
			if a.Outcome != want || a.Verdict == nil || a.Verdict.Label != m.label {
				t.Errorf("seed %d record %d: outcome %s verdict %+v, want %s %s:\n%s", seed, i, a.Outcome, a.Verdict, want, m.label, r.Value)
			}
			if want == event.Bounced && (a.SMTP.Enhanced != "5.1.1" || a.SMTP.Code != 550 || a.SMTP.RemoteHost == "") {
				t.Errorf("seed %d record %d: smtp %+v, want 550 5.1.1 and the remote MTA", seed, i, a.SMTP)
			}
			seen[m.label]++
		}
	}
	if seen[event.LabelComplaint] == 0 || seen[event.MailboxUnknown] == 0 {
		t.Errorf("mail records by label %v, want complaints and late bounces", seen)
	}
}

func TestRecordsDecode(t *testing.T) {
	s := tiny(t, 1)
	bad := 0
	mails := 0
	for i, r := range s.Records {
		if r.Bad != "" {
			bad++
			if _, err := strictDecode(r.Value); err == nil {
				t.Errorf("record %d (%s) decodes cleanly: %.200s", i, r.Bad, r.Value)
			}
			continue
		}
		a, err := decodeGood(s, i)
		if err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Value)
		}
		if s.meta[i].mail {
			// A mail names the send it is about; the reporting host is
			// the remote's, and the key is the recipient's MTA host.
			mails++
			if a.MessageID == "" || a.Metadata["header.x-campaign-id"] == "" || a.SentAt.IsZero() || a.SentAt.After(a.OccurredAt) {
				t.Errorf("record %d lacks send fields: %+v", i, a)
			}
			if got := normalise(t, a.Recipient); got != s.meta[i].norm {
				t.Errorf("record %d: %q normalises to %q, want %q", i, a.Recipient, got, s.meta[i].norm)
			}
			continue
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
	if mails == 0 {
		t.Error("no mail records in the stream")
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
	sess := stage1(t)
	var attempts, complaints int
	camp, dom := map[string]Tally{}, map[string]Tally{}
	sends := map[string]bool{}
	for _, r := range s.Records {
		if r.Bad != "" {
			continue
		}
		// Through stage 1, as the pipeline counts them: a mail's campaign
		// comes from the original's X-Campaign-ID by ingest's rules.
		as, _, err := sess.Decode(r.Value, time.Time{})
		if err != nil || len(as) != 1 {
			t.Fatalf("%d attempts, %v: %.300s", len(as), err, r.Value)
		}
		a := as[0]
		if a.Outcome == event.Complaint {
			complaints++
		} else {
			attempts++
		}
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
	if attempts != tr.Attempts || len(sends) != tr.Sends || complaints != tr.Complaints {
		t.Errorf("attempts %d sends %d complaints %d, truth %d %d %d", attempts, len(sends), complaints, tr.Attempts, tr.Sends, tr.Complaints)
	}
	if complaints == 0 {
		t.Error("no complaint in the stream")
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
		sum.Complaints += x.Complaints
	}
	if sum.Attempts != tr.Attempts || sum.Complaints != tr.Complaints {
		t.Errorf("campaign tallies sum to %d attempts %d complaints, want %d %d", sum.Attempts, sum.Complaints, tr.Attempts, tr.Complaints)
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
		delivered     bool
		mails         int
		host          string
		spelledAsSeen map[string]bool
	}
	sends := map[string]*send{}
	var order []string
	hostOf := map[string]string{}
	mails := 0
	for i, r := range s.Records {
		if r.Bad != "" {
			continue
		}
		a, err := decodeGood(s, i)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if a.OccurredAt.Before(lastByHost[r.Host]) {
			t.Fatalf("record %d goes back in time on host %s", i, r.Host)
		}
		lastByHost[r.Host] = a.OccurredAt
		n := s.meta[i].norm
		if h, ok := hostOf[n]; ok && h != r.Host {
			t.Fatalf("%s on hosts %s and %s", n, h, r.Host)
		}
		hostOf[n] = r.Host
		if s.meta[i].mail {
			// A mail comes after its send was delivered, on the same key.
			mails++
			sd := sends[a.MessageID]
			if sd == nil || !sd.final || !sd.delivered || sd.rcpt != n {
				t.Fatalf("record %d: a mail about a send not delivered before it: %s", i, a.MessageID)
			}
			sd.mails++
			continue
		}
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
		sd.last, sd.final, sd.delivered = a.OccurredAt, a.Outcome.Final(), a.Outcome == event.Delivered
	}
	if mails == 0 {
		t.Fatal("no mail records")
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
		for i, sd := range ss {
			if sd.mails > 0 && i != len(ss)-1 {
				t.Errorf("%s: a send after the one a mail reported on", r)
			}
		}
		for i := 1; i < len(ss); i++ {
			if gap := ss[i].sent.Sub(ss[i-1].last); gap < 12*time.Hour {
				t.Errorf("%s: send queued %v after the previous one ended", r, gap)
			}
		}
	}
}

// fold is a reference implementation of the default policy of docs/suppressions.md,
// driven by the labels a correct classifier gives. window is the soft
// window; atEnd counts a failed send when it ends instead of at its first
// soft failure.
func fold(t testing.TB, s *Stream, window time.Duration, atEnd bool) map[string]Expect {
	t.Helper()
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
		a, err := decodeGood(s, i)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
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
		got := fold(t, s, 14*24*time.Hour, false)
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
				if alt := fold(t, s, w, atEnd); !maps.Equal(alt, got) {
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
	for _, f := range []fate{fateHealthy, fateHard, fateNoDomain, fateSoftDead, fateRecovering, fateSoftSlow, fateRetried, fateBlocked, fateFullBounce, fateComplainer, fateLateBounce} {
		if count[string(f)] == 0 {
			t.Errorf("no recipient with fate %s", f)
		}
	}
	seen := map[string]bool{}
	mixed := 0
	for i, r := range s.Records {
		if r.Bad == "" {
			seen[s.meta[i].norm] = true
			if a, _ := decodeGood(s, i); a.Recipient != s.meta[i].norm && !strings.Contains(a.Recipient, "ü") {
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
	t.Logf("records %d, attempts %d, complaints %d, sends %d, bad %d, suppressed %d %v, hosts %v",
		len(s.Records), tr.Attempts, tr.Complaints, tr.Sends, tr.Bad, len(tr.Suppressed), byLabel, hosts)
	if tr.Attempts < 20_000 || tr.Attempts > 100_000 {
		t.Errorf("%d attempts, want tens of thousands", tr.Attempts)
	}
	if got := fold(t, s, 14*24*time.Hour, false); !maps.Equal(got, tr.Suppressed) {
		t.Error("default stream: truth differs from the policy")
	}
	labels := slices.Sorted(maps.Keys(byLabel))
	if !slices.Equal(labels, []event.Label{event.LabelComplaint, event.DomainUnknown, event.MailboxFull, event.MailboxInactive, event.MailboxUnknown}) {
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
