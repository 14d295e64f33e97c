package demo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/bounced-dev/bounced/processor/event"
)

// fate is the scenario a recipient lives through.
type fate string

const (
	fateHealthy    fate = "healthy"
	fateHard       fate = "hard"
	fateNoDomain   fate = "domain_unknown"
	fateSoftDead   fate = "soft_dead"       // 3 failed sends within ~9 days: suppressed
	fateRecovering fate = "soft_recovering" // F F D F F: never 3 in a row
	fateSoftSlow   fate = "soft_slow"       // 3 failed sends over 21 days
	fateRetried    fate = "retried"         // mailbox full, then delivered, same send
	fateBlocked    fate = "blocked"         // Spamhaus rejections on every send
	fateFullBounce fate = "full_bounce"     // one 552 5.2.2 among deliveries
	fateComplainer fate = "complainer"      // deliveries, then a spam report (ARF) about the last one
	fateLateBounce fate = "late_bounce"     // deliveries, then the last one bounces by mail (DSN, 5.1.1)
)

// quotas are the shares (per mille of recipients at live domains) of the
// fates other than healthy. Recipients at domains without MX are all
// fateNoDomain.
var quotas = []struct {
	f        fate
	perMille int
}{
	{fateHard, 37},
	{fateSoftDead, 40},
	{fateRecovering, 30},
	{fateSoftSlow, 20},
	{fateRetried, 20},
	{fateBlocked, 30},
	{fateFullBounce, 10},
	{fateComplainer, 8},
	{fateLateBounce, 10},
}

// kind is what happens to one send.
type kind int

const (
	sendOK         kind = iota // delivered, maybe after greylisting or throttling
	sendHard                   // bounced at once, hard
	sendNoDomain               // bounced at once, no MX
	sendFullExpire             // mailbox full deferrals, then expired
	sendFull5                  // 552 5.2.2 bounce at once
	sendFullThenOK             // mailbox full deferrals, then delivered
	sendBlocked                // Spamhaus rejection at once
	sendFailRandom             // sendFullExpire or sendFull5
)

type recipient struct {
	local   string // lower case
	dom     *domainSpec
	aDomain string // IDNA A-label, lower case
	norm    string
	host    int
	fate    fate
	variant bool // written in two spellings
	hardIdx int  // which of the provider's hard replies
}

// spell is the address as the list of campaign ci writes it.
func (r *recipient) spell(ci int) string {
	if !r.variant {
		return r.local + "@" + r.dom.name
	}
	if ci%2 == 0 {
		return r.local + "@" + r.dom.name
	}
	if r.aDomain != r.dom.name {
		return r.local + "@" + r.aDomain // IDN: A-label spelling
	}
	return titleLocal(r.local) + "@" + strings.ToUpper(r.dom.name[:1]) + r.dom.name[1:]
}

func titleLocal(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '_' || c == '-'
	}
	return string(b)
}

type planned struct {
	day  int
	kind kind
	// incidental deferral before delivery: 0 none, 1 greylisting, 2 throttling
	extra int
	// a mail about the delivered send, after it (sendOK only)
	late late
}

type recordMeta struct {
	label event.Label
	norm  string
	send  string
	at    time.Time
	mail  bool // an RFC 5322 message (processor/ingest/mail), not canonical JSON
}

type pending struct {
	at    time.Time
	host  int
	seq   int
	value []byte
	meta  recordMeta
}

type generator struct {
	cfg        Config
	rng        *rand.Rand
	hosts      []string
	campaigns  []campaign
	recips     []*recipient
	ids        map[string]bool
	out        []pending
	seq        int
	enc        *json.Encoder
	buf        bytes.Buffer
	truth      Truth
	sends      int
	complaints int
	err        error
}

func newGenerator(cfg Config) (*generator, error) {
	g := &generator{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x626f756e636564)),
		ids: map[string]bool{},
		truth: Truth{
			Suppressed:  map[string]Expect{},
			PerCampaign: map[string]Tally{},
			PerDomain:   map[string]Tally{},
			Fates:       map[string]string{},
		},
	}
	g.enc = json.NewEncoder(&g.buf)
	g.enc.SetEscapeHTML(false)
	for i := range cfg.Hosts {
		g.hosts = append(g.hosts, fmt.Sprintf("mta%d.mail.example.net", i+1))
	}
	g.campaigns = makeCampaigns(cfg)
	if err := g.makeRecipients(); err != nil {
		return nil, err
	}
	return g, nil
}

func makeCampaigns(cfg Config) []campaign {
	month := cfg.Start.Format("2006-01")
	used := map[int]bool{}
	var cs []campaign
	for i := range cfg.Campaigns {
		c := campaign{pool: "marketing"}
		if i < len(campaignBase) {
			b := campaignBase[i]
			c.name, c.hour, c.period, c.offset = b.slug, b.hour, b.period, b.offset
		} else {
			c.name = fmt.Sprintf("extra-%02d", i-len(campaignBase)+1)
			for h := range 24 {
				if h = (h + 6) % 24; !used[h] {
					c.hour = h
					break
				}
			}
			c.period, c.offset = 2+i%5, i%3
		}
		if i == 0 {
			c.pool = "transactional"
		}
		used[c.hour] = true
		c.name = "c-" + month + "-" + c.name
		cs = append(cs, c)
	}
	return cs
}

// apportion splits n by weights, every share at least 1 when n allows.
func apportion(n int, weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	out := make([]int, len(weights))
	sum := 0
	for i, w := range weights {
		out[i] = w * n / total
		if out[i] == 0 && n >= 2*len(weights) {
			out[i] = 1
		}
		sum += out[i]
	}
	// The largest share absorbs the rounding.
	big := 0
	for i := range out {
		if out[i] > out[big] {
			big = i
		}
	}
	out[big] += n - sum
	if out[big] < 0 {
		out[big] = 0
	}
	return out
}

func (g *generator) makeRecipients() error {
	n := g.cfg.Recipients
	weights := make([]int, len(domains))
	for i, d := range domains {
		weights[i] = d.weight
	}
	perDomain := apportion(n, weights)
	taken := map[string]bool{}
	for di := range domains {
		d := &domains[di]
		aDomain, err := idna.Lookup.ToASCII(d.name)
		if err != nil {
			return fmt.Errorf("demo: domain %q: %w", d.name, err)
		}
		aDomain = strings.ToLower(aDomain)
		h := fnv.New32a()
		h.Write([]byte(aDomain))
		host := int(h.Sum32() % uint32(g.cfg.Hosts))
		for range perDomain[di] {
			local := g.localPart()
			for i := 2; taken[local+"@"+aDomain]; i++ {
				local = fmt.Sprintf("%s%d", strings.TrimRight(local, "0123456789"), g.rng.IntN(100*i))
			}
			norm := local + "@" + aDomain
			taken[norm] = true
			g.recips = append(g.recips, &recipient{local: local, dom: d, aDomain: aDomain, norm: norm, host: host})
		}
	}
	g.rng.Shuffle(len(g.recips), func(i, j int) { g.recips[i], g.recips[j] = g.recips[j], g.recips[i] })

	// Fates by quota, so that even a tiny stream has every scenario.
	var live []*recipient
	for _, r := range g.recips {
		if r.dom.prov == nowhere {
			r.fate = fateNoDomain
			continue
		}
		r.fate = fateHealthy
		live = append(live, r)
	}
	next := 0
	for _, q := range quotas {
		want := (len(live)*q.perMille + 500) / 1000
		if want == 0 && len(live) >= 50 {
			want = 1
		}
		for got := 0; got < want; {
			if next >= len(live) {
				break
			}
			r := live[next]
			next++
			if r.fate != fateHealthy {
				continue
			}
			if !eligible(r, q.f) {
				// Find a later eligible recipient and swap it in.
				j := slices.IndexFunc(live[next:], func(x *recipient) bool { return x.fate == fateHealthy && eligible(x, q.f) })
				if j < 0 {
					break
				}
				r = live[next+j]
			}
			r.fate = q.f
			got++
		}
	}
	for _, r := range g.recips {
		p := 30
		if r.fate == fateSoftDead || r.fate == fateRecovering {
			p = 150
		}
		r.variant = g.rng.IntN(1000) < p || r.aDomain != r.dom.name && g.rng.IntN(2) == 0
		if r.fate == fateHard && len(r.dom.prov.hard) > 1 && g.rng.IntN(4) == 0 {
			r.hardIdx = 1 + g.rng.IntN(len(r.dom.prov.hard)-1)
		}
	}
	return nil
}

func eligible(r *recipient, f fate) bool {
	switch f {
	case fateHard:
		return len(r.dom.prov.hard) > 0
	case fateBlocked:
		return r.dom.prov.blocks
	}
	return true
}

func (g *generator) localPart() string {
	f := firstNames[g.rng.IntN(len(firstNames))]
	l := lastNames[g.rng.IntN(len(lastNames))]
	var s string
	switch g.rng.IntN(8) {
	case 0, 1, 2:
		s = f + "." + l
	case 3:
		s = f + l
	case 4:
		s = f[:1] + "." + l
	case 5:
		s = f + "_" + l
	case 6:
		s = f + "." + l + strconv.Itoa(g.rng.IntN(100))
	default:
		s = f + strconv.Itoa(1960+g.rng.IntN(50))
	}
	if g.rng.IntN(50) == 0 {
		s += "+news"
	}
	return s
}

// spread picks k days in [lo, hi] at least gap apart, sorted.
func (g *generator) spread(k, lo, hi, gap int) []int {
	m := hi - lo + 1 - (k-1)*(gap-1)
	if k > m {
		k = m
	}
	vs := g.rng.Perm(m)[:k]
	slices.Sort(vs)
	for i := range vs {
		vs[i] += lo + i*(gap-1)
	}
	return vs
}

// chain lays out kinds one after another with gaps in [gmin, gmax] days,
// starting at a random day so that all fit.
func (g *generator) chain(kinds []kind, gmin, gmax int) []planned {
	last := g.cfg.Days - 1
	gaps := make([]int, len(kinds))
	span := 0
	for i := 1; i < len(kinds); i++ {
		gaps[i] = gmin + g.rng.IntN(gmax-gmin+1)
		span += gaps[i]
	}
	if span > last {
		span = 0
		for i := 1; i < len(kinds); i++ {
			gaps[i] = gmin
			span += gmin
		}
	}
	day := g.rng.IntN(last - span + 1)
	out := make([]planned, len(kinds))
	for i, k := range kinds {
		day += gaps[i]
		out[i] = planned{day: day, kind: k}
	}
	return out
}

func repeat(k kind, n int) []kind {
	out := make([]kind, n)
	for i := range out {
		out[i] = k
	}
	return out
}

// plan decides the days and kinds of one recipient's sends. Consecutive
// sends are at least two days apart, so that a send's retries (at most
// about 11 hours) end long before the next send starts.
func (g *generator) plan(r *recipient) []planned {
	last := g.cfg.Days - 1
	var ps []planned
	days := func(k int) {
		for _, d := range g.spread(k, 0, last, 2) {
			ps = append(ps, planned{day: d, kind: sendOK})
		}
	}
	switch r.fate {
	case fateHealthy:
		days(3 + g.rng.IntN(7))
	case fateNoDomain:
		ps = []planned{{day: g.rng.IntN(g.cfg.Days), kind: sendNoDomain}}
	case fateHard:
		ps = g.chain(append(repeat(sendOK, g.rng.IntN(4)), sendHard), 2, 6)
	case fateSoftDead:
		ks := append(repeat(sendOK, g.rng.IntN(3)), repeat(sendFailRandom, 3)...)
		ps = g.chain(ks, 2, 3) // the three failures span at most 6 days + hours
	case fateRecovering:
		ks := repeat(sendOK, g.rng.IntN(2))
		ks = append(ks, sendFailRandom, sendFailRandom, sendOK)
		ks = append(ks, repeat(sendFailRandom, g.rng.IntN(3))...)
		if g.rng.IntN(2) == 0 {
			ks = append(ks, sendOK)
		}
		ps = g.chain(ks, 2, 4)
	case fateSoftSlow:
		d0 := g.rng.IntN(g.cfg.Days - 21)
		ps = []planned{{day: d0, kind: sendFailRandom}, {day: d0 + 10, kind: sendFailRandom}, {day: d0 + 21, kind: sendFailRandom}}
	case fateRetried:
		days(2 + g.rng.IntN(5))
		i := 1 + g.rng.IntN(len(ps)-1)
		ps[i].kind = sendFullThenOK
		if g.rng.IntN(2) == 0 {
			ps[i-1].kind = sendFullExpire
		}
	case fateBlocked:
		days(5 + g.rng.IntN(6))
		for i := range ps {
			ps[i].kind = sendBlocked
		}
	case fateFullBounce:
		days(3 + g.rng.IntN(6))
		ps[g.rng.IntN(len(ps))].kind = sendFull5
	case fateComplainer, fateLateBounce:
		// The report is about the last send: a sender stops mailing an
		// address it suppressed, so nothing follows it.
		ps = g.chain(repeat(sendOK, 1+g.rng.IntN(4)), 2, 5)
		ps[len(ps)-1].late = lateComplaint
		if r.fate == fateLateBounce {
			ps[len(ps)-1].late = lateBounce
		}
	}
	// Failures that may be either shape; incidental deferrals only where the
	// streak is at most 1, so that even a classifier that counted them as
	// soft could not complete a streak with them.
	streak := 0
	for i := range ps {
		p := &ps[i]
		if p.kind == sendFailRandom {
			p.kind = sendFullExpire
			if g.rng.IntN(4) == 0 {
				p.kind = sendFull5
			}
		}
		switch p.kind {
		case sendOK:
			if streak <= 1 {
				switch {
				case i == 0 && r.dom.prov.greylists && g.rng.IntN(2) == 0:
					p.extra = 1
				case r.dom.prov.rate != nil && g.rng.IntN(12) == 0:
					p.extra = 2
				}
			}
			streak = 0
		case sendFullThenOK:
			streak = 0
		case sendFullExpire, sendFull5:
			streak++
		}
	}
	return ps
}

// campaignFor picks the campaign of a send on day d.
func (g *generator) campaignFor(d int, first bool) int {
	if first && g.rng.IntN(100) < 25 {
		return 0 // a new signup's welcome mail
	}
	var cands []int
	for i, c := range g.campaigns[1:] {
		if (d-c.offset)%c.period == 0 && d >= c.offset {
			cands = append(cands, i+1)
		}
	}
	if len(cands) == 0 {
		return 0
	}
	return cands[g.rng.IntN(len(cands))]
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *generator) token(n int, chars string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	return string(b)
}

func (g *generator) uniqueID(mk func() string) string {
	for {
		id := mk()
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

// sendCtx is what every attempt of one send shares.
type sendCtx struct {
	r        *recipient
	spelled  string
	wire     string // RCPT TO address: A-label domain
	camp     *campaign
	sentAt   time.Time
	mid, qid string
	ip       string
	attempt  int
}

func (g *generator) run() (*Stream, error) {
	for _, r := range g.recips {
		g.truth.Fates[r.norm] = string(r.fate)
		ps := g.plan(r)
		for i, p := range ps {
			g.emitSend(r, p, i == 0)
		}
		switch r.fate {
		case fateHard:
			g.truth.Suppressed[r.norm] = Expect{event.ClassHard, r.dom.prov.hard[r.hardIdx].label}
		case fateNoDomain:
			g.truth.Suppressed[r.norm] = Expect{event.ClassHard, event.DomainUnknown}
		case fateSoftDead:
			g.truth.Suppressed[r.norm] = Expect{event.ClassSoft, event.MailboxFull}
		case fateComplainer:
			g.truth.Suppressed[r.norm] = Expect{event.ClassComplaint, event.LabelComplaint}
		case fateLateBounce:
			g.truth.Suppressed[r.norm] = Expect{event.ClassHard, event.MailboxUnknown}
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	slices.SortFunc(g.out, func(a, b pending) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.host, b.host), cmp.Compare(a.seq, b.seq))
	})
	bad := g.badRecords()
	pos := make([]int, len(bad))
	for i := range pos {
		pos[i] = g.rng.IntN(len(g.out) + 1)
	}
	slices.Sort(pos)

	s := &Stream{Truth: g.truth}
	s.Records = make([]Record, 0, len(g.out)+len(bad))
	s.meta = make([]recordMeta, 0, len(g.out)+len(bad))
	bi := 0
	for i := 0; i <= len(g.out); i++ {
		for bi < len(bad) && pos[bi] == i {
			s.Records = append(s.Records, bad[bi])
			s.meta = append(s.meta, recordMeta{})
			bi++
		}
		if i < len(g.out) {
			p := g.out[i]
			s.Records = append(s.Records, Record{Host: g.hosts[p.host], Value: p.value})
			s.meta = append(s.meta, p.meta)
		}
	}
	s.Truth.Attempts = len(g.out) - g.complaints
	s.Truth.Complaints = g.complaints
	s.Truth.Sends = g.sends
	s.Truth.Bad = len(bad)
	return s, nil
}

func (g *generator) emitSend(r *recipient, p planned, first bool) {
	ci := g.campaignFor(p.day, first)
	c := &g.campaigns[ci]
	sentAt := g.cfg.Start.Add(time.Duration(p.day)*24*time.Hour + time.Duration(c.hour)*time.Hour +
		time.Duration(g.rng.IntN(90*60))*time.Second)
	spelled := r.spell(ci)
	sc := &sendCtx{
		r:       r,
		spelled: spelled,
		wire:    spelled[:strings.LastIndexByte(spelled, '@')] + "@" + r.aDomain,
		camp:    c,
		sentAt:  sentAt,
		mid: g.uniqueID(func() string {
			return "<" + sentAt.Format("20060102150405") + "." + g.token(12, "0123456789ABCDEF") + "@mail.example.net>"
		}),
		qid: g.uniqueID(func() string { return g.token(10, "0123456789ABCDEF") }),
	}
	if c.pool == "transactional" {
		sc.ip = fmt.Sprintf("192.0.2.%d", 10+r.host)
	} else {
		sc.ip = fmt.Sprintf("198.51.100.%d", 20+2*r.host+g.rng.IntN(2))
	}
	g.sends++
	prov := r.dom.prov
	at := sentAt.Add(time.Duration(1+g.rng.IntN(120)) * time.Second)
	// Postfix-like backoff: 5, 10, 20, 40, 80, 160 minutes, jittered.
	backoff := func(n int) time.Duration {
		base := 5 * time.Minute << min(n, 5)
		return base + time.Duration(g.rng.IntN(int(base/time.Second)/5))*time.Second
	}
	switch p.kind {
	case sendOK:
		switch p.extra {
		case 1:
			g.emit(sc, at, event.Deferred, greylist)
			at = at.Add(time.Duration(5+g.rng.IntN(11)) * time.Minute)
		case 2:
			for i := range 1 + g.rng.IntN(2) {
				g.emit(sc, at, event.Deferred, *prov.rate)
				at = at.Add(backoff(i + 1))
			}
		}
		g.emit(sc, at, event.Delivered, prov.ok)
		g.emitLate(sc, at.Truncate(time.Second), p.late)
	case sendHard:
		g.emit(sc, at, event.Bounced, prov.hard[r.hardIdx])
	case sendNoDomain:
		g.emit(sc, at, event.Bounced, domainUnknown)
	case sendBlocked:
		g.emit(sc, at, event.Bounced, spamhaus[g.rng.IntN(len(spamhaus))])
	case sendFull5:
		g.emit(sc, at, event.Bounced, prov.full5)
	case sendFullExpire, sendFullThenOK:
		n := 3 + g.rng.IntN(4)
		if p.kind == sendFullThenOK {
			n = 1 + g.rng.IntN(3)
		}
		for i := range n {
			g.emit(sc, at, event.Deferred, prov.full)
			at = at.Add(backoff(i))
		}
		if p.kind == sendFullThenOK {
			g.emit(sc, at, event.Delivered, prov.ok)
		} else {
			g.emit(sc, at, event.Expired, prov.full)
		}
	}
}

func (g *generator) fill(sc *sendCtx, at time.Time, s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		b.WriteString(s[:i])
		switch s[i+1 : i+j] {
		case "addr":
			b.WriteString(sc.wire)
		case "domain":
			b.WriteString(sc.r.aDomain)
		case "ip":
			b.WriteString(sc.ip)
		case "mid":
			b.WriteString(sc.mid)
		case "ts":
			b.WriteString(strconv.FormatInt(at.Unix(), 10))
		case "tok":
			b.WriteString(g.token(14, alnum))
		case "qid":
			b.WriteString(g.token(10, "0123456789ABCDEF"))
		case "num":
			b.WriteString(strconv.Itoa(10 + g.rng.IntN(1e6)))
		case "mshost":
			b.WriteString("AM" + strconv.Itoa(1+g.rng.IntN(9)) + "PR0" + strconv.Itoa(1+g.rng.IntN(9)) + "MB" + strconv.Itoa(1000+g.rng.IntN(9000)) + ".eurprd0" + strconv.Itoa(1+g.rng.IntN(9)) + ".prod.outlook.com")
		default:
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}

func (g *generator) emit(sc *sendCtx, at time.Time, o event.Outcome, rp reply) {
	sc.attempt++
	at = at.Truncate(time.Second)
	a := event.Attempt{
		OccurredAt:   at,
		SentAt:       sc.sentAt,
		Recipient:    sc.spelled,
		Outcome:      o,
		Source:       event.Source{Kind: "generic", Host: g.hosts[sc.r.host]},
		Sender:       "bounces+" + sc.camp.name + "@mail.example.net",
		MessageID:    sc.mid,
		QueueID:      sc.qid,
		CampaignID:   sc.camp.name,
		SendingIP:    sc.ip,
		Pool:         sc.camp.pool,
		Attempt:      sc.attempt,
		DelaySeconds: at.Sub(sc.sentAt).Seconds(),
	}
	text := g.fill(sc, at, rp.text)
	a.SMTP = event.SMTP{Code: rp.code, Enhanced: rp.enh, Text: text, Command: rp.cmd}
	if sc.r.dom.prov != nowhere {
		a.SMTP.RemoteHost = strings.ReplaceAll(sc.r.dom.prov.mx, "{domain}", sc.r.aDomain)
		a.SMTP.RemoteIP = sc.r.dom.prov.mxIP
	}
	if o != event.Delivered {
		full := strconv.Itoa(rp.code)
		if rp.enh != "" {
			full += " " + rp.enh
		}
		full += " " + text
		switch {
		case a.SMTP.RemoteHost == "":
			a.Diagnostic = text
		case rp.cmd != "":
			a.Diagnostic = fmt.Sprintf("host %s[%s] said: %s (in reply to %s command)", a.SMTP.RemoteHost, a.SMTP.RemoteIP, full, rp.cmd)
		default:
			a.Diagnostic = fmt.Sprintf("host %s[%s] refused to talk to me: %s", a.SMTP.RemoteHost, a.SMTP.RemoteIP, full)
		}
	}
	g.buf.Reset()
	if err := g.enc.Encode(&a); err != nil && g.err == nil {
		g.err = fmt.Errorf("demo: encode attempt: %w", err)
	}
	v := bytes.TrimSuffix(g.buf.Bytes(), []byte("\n"))
	g.seq++
	g.out = append(g.out, pending{
		at: at, host: sc.r.host, seq: g.seq, value: bytes.Clone(v),
		meta: recordMeta{label: rp.label, norm: sc.r.norm, send: sc.mid, at: at},
	})
	t := g.truth.PerCampaign[sc.camp.name]
	t.add(o)
	g.truth.PerCampaign[sc.camp.name] = t
	t = g.truth.PerDomain[sc.r.aDomain]
	t.add(o)
	g.truth.PerDomain[sc.r.aDomain] = t
}
