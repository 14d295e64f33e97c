package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

// settings are the knobs of a chaos run, from the environment (see doc.go).
type settings struct {
	events     int   // wanted input records
	seed       int64 // kill points and timings
	streamSeed int64 // the generated input
	kills      int
	outage     time.Duration
	maxRSS     int64 // bytes
}

// outageGrowth is how much a member's RSS may grow while ClickHouse is
// away, above the highest it reached before.
const outageGrowth = 256 << 20

// defaultEvents keeps the three tests together within a few minutes on a
// 2-core machine, clean runs included.
const defaultEvents = 60_000

// recordsPerRecipient is what demo.Generate makes per recipient on average
// with its defaults (33,939 records for 5,000 recipients).
const recordsPerRecipient = 6.79

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{events: defaultEvents, seed: time.Now().UnixNano() % 1_000_000_000, streamSeed: 1, kills: 5,
		outage: 30 * time.Second, maxRSS: 1536 << 20}
	num := func(name string, into *int64) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
			*into = n
		}
	}
	var events, kills, rss int64 = int64(s.events), int64(s.kills), s.maxRSS >> 20
	num("BOUNCED_CHAOS_EVENTS", &events)
	num("BOUNCED_CHAOS_SEED", &s.seed)
	num("BOUNCED_CHAOS_STREAM_SEED", &s.streamSeed)
	num("BOUNCED_CHAOS_KILLS", &kills)
	num("BOUNCED_CHAOS_MAX_RSS_MB", &rss)
	if v := os.Getenv("BOUNCED_CHAOS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BOUNCED_CHAOS_OUTAGE=%q: %v", v, err)
		}
		s.outage = d
	}
	s.events, s.kills, s.maxRSS = int(max(events, 1000)), int(max(kills, 5)), rss<<20
	return s
}

// env is what every test starts from.
type env struct {
	settings
	ctx    context.Context
	stream *demo.Stream
	chAddr string // the shared ClickHouse
	phase  time.Duration
}

func setup(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("crash tests run real processes for minutes; skipped with -short")
	}
	s := loadSettings(t)
	chAddr := chtest.Addr(t)
	binary(t)
	timeout := 30 * time.Minute
	if dl, ok := t.Deadline(); ok {
		timeout = time.Until(dl) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	stream := generate(t, s)
	t.Logf("chaos seed %d (BOUNCED_CHAOS_SEED=%d reproduces the kill points); stream seed %d: %d records, %d attempts, %d suppressions expected, %d malformed",
		s.seed, s.seed, s.streamSeed, len(stream.Records), stream.Truth.Attempts, len(stream.Truth.Suppressed), stream.Truth.Bad)
	return &env{settings: s, ctx: ctx, stream: stream, chAddr: chAddr,
		// The longest any one wait may take: generous, and growing with the input.
		phase: 2*time.Minute + time.Duration(len(stream.Records)/2000)*time.Second}
}

// The input and its clean run are the same for every test of one test
// binary: computed by the first test that needs them.
var cache struct {
	mu       sync.Mutex
	streams  map[string]*demo.Stream
	baseline map[string]*result
}

func streamKey(s settings) string { return fmt.Sprintf("%d/%d", s.events, s.streamSeed) }

func generate(t *testing.T, s settings) *demo.Stream {
	t.Helper()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if st := cache.streams[streamKey(s)]; st != nil {
		return st
	}
	recipients := max(1, int(float64(s.events)/recordsPerRecipient+0.5))
	st, err := demo.Generate(demo.Config{Recipients: recipients, Seed: s.streamSeed})
	if err != nil {
		t.Fatal(err)
	}
	if cache.streams == nil {
		cache.streams = map[string]*demo.Stream{}
	}
	cache.streams[streamKey(s)] = st
	return st
}

// baseline is the clean run: one member, its own broker process and
// database, nothing killed. It must itself match the ground truth.
func baseline(t *testing.T, e *env) *result {
	t.Helper()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if r := cache.baseline[streamKey(e.settings)]; r != nil {
		return r
	}
	t0 := time.Now()
	chAddr, db := chtest.Database(t)
	c := newCluster(t, e.ctx)
	b := c.broker("clean-broker", filepath.Join(c.dir, "clean-broker"), freePort(t))
	c.startBroker(b)
	k := c.kafka(b)
	defer k.close()
	if err := k.produce(e.ctx, e.stream.Records); err != nil {
		t.Fatal(err)
	}
	m := c.member("clean-member", memberConfig{brokers: k.addr, chAddr: chAddr, database: db, dataDir: filepath.Join(c.dir, "clean-member")})
	t1 := time.Now()
	c.start(m)
	c.waitDrained(k, e, len(e.stream.Records))
	took := time.Since(t1)
	res, err := snapshot(e.ctx, k, chAddr, db)
	if err != nil {
		t.Fatal(err)
	}
	res.drain = took
	if !m.stop(30 * time.Second) {
		t.Errorf("the clean member did not stop within 30s of SIGTERM")
	}
	b.stop(10 * time.Second)
	if problems := truthDiff(e.stream, res); len(problems) > 0 {
		c.failList("the clean run differs from the ground truth", problems)
		t.FailNow()
	}
	if x := c.exits(); len(x) > 0 {
		t.Fatalf("clean run: %s", strings.Join(x, "; "))
	}
	t.Logf("clean run: %d records drained in %s (%.0f records/s), %s in all; member max RSS %d MiB; matches the ground truth; compared from here on: %d suppression records, %d rollup rows, %d outcomes, %d attempt rows",
		len(e.stream.Records), took.Round(10*time.Millisecond), float64(len(e.stream.Records))/took.Seconds(),
		time.Since(t0).Round(10*time.Millisecond), m.maxRSS.Load()>>20, len(res.View), len(res.Rollups), len(res.Outcomes), res.Rows)
	c.quiet = true
	if cache.baseline == nil {
		cache.baseline = map[string]*result{}
	}
	cache.baseline[streamKey(e.settings)] = res
	return res
}

// kafka connects the test's own client to a broker process.
func (c *cluster) kafka(b *proc) *kafkaClient {
	c.t.Helper()
	addr := strings.TrimPrefix(argValue(b.args, "kafka.embedded_addr="), "kafka.embedded_addr=")
	k, err := newKafka(addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.diag = func() string { return k.describe(context.Background()) }
	return k
}

func argValue(args []string, prefix string) string {
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			return a
		}
	}
	return ""
}

// waitProgress waits until the share of work done reaches frac and ok
// (when given) agrees.
func (c *cluster) waitProgress(k *kafkaClient, e *env, what string, frac float64, ok func(position) bool) position {
	c.t.Helper()
	var p position
	c.waitFor(what, e.phase, 100*time.Millisecond, func() (bool, error) {
		var err error
		if p, err = k.position(c.ctx); err != nil {
			return false, err
		}
		return p.fraction(e.stream.Truth.Attempts) >= frac && (ok == nil || ok(p)), nil
	})
	return p
}

// waitDrained waits until both consumer groups have committed everything
// in their topics, every input record has been produced, and that has held
// for two seconds.
func (c *cluster) waitDrained(k *kafkaClient, e *env, inputs int) position {
	c.t.Helper()
	var last position
	var since time.Time
	c.waitFor("both stages to drain", e.phase, 250*time.Millisecond, func() (bool, error) {
		p, err := k.position(c.ctx)
		if err != nil {
			since = time.Time{}
			return false, err
		}
		drained := p.InEnd == int64(inputs) && p.InDone == p.InEnd && p.AttEnd > 0 && p.AttDone == p.AttEnd
		if !drained || p != last {
			last, since = p, time.Time{}
			if drained {
				since = time.Now()
			}
			return false, fmt.Errorf("not drained: %s", p)
		}
		return time.Since(since) >= 2*time.Second, nil
	})
	return last
}

// failList fails the test with the list of problems (at most 60 shown; all
// of them written next to the process logs).
func (c *cluster) failList(title string, problems []string) {
	c.t.Helper()
	path := filepath.Join(c.logs, "mismatches.txt")
	_ = os.WriteFile(path, []byte(strings.Join(problems, "\n")+"\n"), 0o644)
	shown := problems[:min(len(problems), 60)]
	more := ""
	if len(problems) > len(shown) {
		more = fmt.Sprintf("\n  … %d more in %s", len(problems)-len(shown), path)
	}
	c.t.Errorf("%s: %d differences\n  %s%s", title, len(problems), strings.Join(shown, "\n  "), more)
}

// verdict compares a run with the ground truth and the clean run, fails
// the test on any difference or unexpected exit, and prints the summary
// line scripts/chaos collects.
func (c *cluster) verdict(e *env, name string, base, got *result, kills int, took time.Duration, extra string) {
	c.t.Helper()
	truth := truthDiff(e.stream, got)
	clean := diff(base, got)
	if len(truth) > 0 {
		c.failList(name+": differs from the ground truth", truth)
	}
	if len(clean) > 0 {
		c.failList(name+": differs from the clean run", clean)
	}
	exits := c.exits()
	for _, x := range exits {
		c.t.Errorf("%s: %s", name, x)
	}
	if extra != "" {
		extra = " " + extra
	}
	c.t.Logf("chaos summary: test=%s events=%d attempts=%d kills=%d unexpected_exits=%d truth_mismatches=%d clean_mismatches=%d took=%s seed=%d%s",
		name, len(e.stream.Records), e.stream.Truth.Attempts, kills, len(exits), len(truth), len(clean),
		took.Round(100*time.Millisecond), e.seed, extra)
}

func rng(e *env, test string) *rand.Rand {
	h := uint64(0)
	for _, b := range []byte(test) {
		h = h*31 + uint64(b)
	}
	return rand.New(rand.NewPCG(uint64(e.seed), h))
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// TestKill9 kills one member with SIGKILL at random points (at least five
// times, some of them while it restores after the previous kill) and
// restarts it on the same data each time; after the last restart drains
// the input, the outputs equal the ground truth and the clean run.
func TestKill9(t *testing.T) {
	e := setup(t)
	base := baseline(t, e)
	r := rng(e, t.Name())
	chAddr, db := chtest.Database(t)
	c := newCluster(t, e.ctx)
	t0 := time.Now()
	b := c.broker("broker", filepath.Join(c.dir, "broker"), freePort(t))
	c.startBroker(b)
	k := c.kafka(b)
	defer k.close()
	// The input arrives in kills+1 segments: the first before the member
	// starts, each next one while the incarnation after a kill runs, so
	// every incarnation has work in hand for both stages when it dies.
	recs := e.stream.Records
	seg := func(i int) []demo.Record { return recs[len(recs)*i/(e.kills+1) : len(recs)*(i+1)/(e.kills+1)] }
	if err := k.produce(e.ctx, seg(0)); err != nil {
		t.Fatal(err)
	}
	sent := len(seg(0))
	m := c.member("member", memberConfig{brokers: k.addr, chAddr: chAddr, database: db, dataDir: filepath.Join(c.dir, "member")})
	c.start(m)
	perRecord := float64(e.stream.Truth.Attempts) / float64(len(recs))
	var atStart position
	ready := make(chan error, 1)
	ready <- nil
	var produced <-chan error = ready
	for i := range e.kills {
		if err := <-produced; err != nil {
			t.Fatal(err)
		}
		produced = trickle(e.ctx, k, seg(i+1), 5, base.drain/time.Duration(5*(e.kills+1)))
		sent += len(seg(i + 1))
		var how string
		if r.IntN(4) == 0 {
			// Soon after the (re)start: while it restores state, joins the
			// groups or replays what the previous incarnation left.
			d := between(r, 300*time.Millisecond, 2500*time.Millisecond)
			time.Sleep(d)
			how = fmt.Sprintf("%s after its start", d)
		} else {
			// Part-way through the attempts available to this incarnation.
			u := 0.1 + 0.8*r.Float64()
			target := atStart.AttDone + int64(u*(float64(sent)*perRecord-float64(atStart.AttDone)))
			c.waitProgress(k, e, fmt.Sprintf("kill #%d at %d attempts committed", i+1, target), 0, func(p position) bool {
				return p.AttDone >= target
			})
			d := between(r, 0, 400*time.Millisecond)
			time.Sleep(d)
			how = fmt.Sprintf("%.0f%% into its share of the work, +%s", 100*u, d)
		}
		p, _ := k.position(e.ctx)
		m.kill9()
		t.Logf("kill -9 #%d of the member (%s) at %s; rss %d MiB so far", i+1, how, p, m.maxRSS.Load()>>20)
		time.Sleep(between(r, 0, time.Second))
		atStart, _ = k.position(e.ctx)
		c.start(m)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	c.waitDrained(k, e, len(recs))
	took := time.Since(t0)
	got, err := snapshot(e.ctx, k, chAddr, db)
	if err != nil {
		t.Fatal(err)
	}
	m.stop(30 * time.Second)
	c.verdict(e, "kill9", base, got, e.kills, took, fmt.Sprintf("member_max_rss_mib=%d", m.maxRSS.Load()>>20))
}

// TestGroupKillAndJoin runs three members in one group while the input
// keeps arriving, kills one with SIGKILL (its partitions move once its
// session expires) and adds a fourth later; the outputs equal the ground
// truth and the clean run.
func TestGroupKillAndJoin(t *testing.T) {
	e := setup(t)
	base := baseline(t, e)
	r := rng(e, t.Name())
	chAddr, db := chtest.Database(t)
	c := newCluster(t, e.ctx)
	t0 := time.Now()
	b := c.broker("broker", filepath.Join(c.dir, "broker"), freePort(t))
	c.startBroker(b)
	k := c.kafka(b)
	defer k.close()
	recs := e.stream.Records
	third := len(recs) / 3
	if err := k.produce(e.ctx, recs[:third]); err != nil {
		t.Fatal(err)
	}
	members := map[string]*proc{}
	for _, name := range []string{"a", "b", "c", "d"} {
		members[name] = c.member("member-"+name, memberConfig{brokers: k.addr, chAddr: chAddr, database: db, dataDir: filepath.Join(c.dir, "member-"+name)})
	}
	for _, name := range []string{"a", "b", "c"} {
		c.start(members[name])
	}
	produced := trickle(e.ctx, k, recs[third:], 12, 300*time.Millisecond)

	killAt, joinAt := 0.2+0.2*r.Float64(), 0.5+0.2*r.Float64()
	victim := members["b"]
	c.waitProgress(k, e, "member b to own partitions", killAt, func(position) bool {
		n, err := gauge(victim, "bounced_partitions_owned", `stage="decide"`)
		return err == nil && n > 0
	})
	time.Sleep(between(r, 0, 500*time.Millisecond))
	p, _ := k.position(e.ctx)
	victim.kill9()
	t.Logf("kill -9 of member b at %s (target %.0f%% of the work)", p, 100*killAt)
	c.waitProgress(k, e, "the point where member d joins", joinAt, nil)
	p, _ = k.position(e.ctx)
	c.start(members["d"])
	t.Logf("member d started at %s (target %.0f%% of the work)", p, 100*joinAt)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	c.waitDrained(k, e, len(recs))
	took := time.Since(t0)
	owned, _ := gauge(members["d"], "bounced_partitions_owned", "")
	got, err := snapshot(e.ctx, k, chAddr, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "c", "d"} {
		members[name].stop(30 * time.Second)
	}
	rss := int64(0)
	for _, m := range members {
		rss = max(rss, m.maxRSS.Load())
	}
	c.verdict(e, "group", base, got, 1, took, fmt.Sprintf("joined_member_partitions=%.0f member_max_rss_mib=%d", owned, rss>>20))
}

// trickle produces recs in n chunks, pause apart, in the background: the
// input keeps arriving while processes die. The channel gets the outcome.
func trickle(ctx context.Context, k *kafkaClient, recs []demo.Record, n int, pause time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		size := (len(recs) + n - 1) / n
		for i := 0; i < len(recs); i += size {
			if err := k.produce(ctx, recs[i:min(i+size, len(recs))]); err != nil {
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case <-time.After(pause):
			}
		}
		done <- nil
	}()
	return done
}

// TestOutages stops the member's ClickHouse (a server of the test's own)
// for real for BOUNCED_CHAOS_OUTAGE (30s) while input keeps arriving, starts
// it again on the same data, then kills the broker process with SIGKILL and
// restarts it on the same data and port. The member must ride both out
// with bounded memory (backpressure, not buffering), and the outputs equal
// the ground truth and the clean run.
func TestOutages(t *testing.T) {
	e := setup(t)
	base := baseline(t, e)
	r := rng(e, t.Name())
	c := newCluster(t, e.ctx)
	t0 := time.Now()
	chs := c.clickhouse()
	chs.start(t, e.ctx)
	b := c.broker("broker", filepath.Join(c.dir, "broker"), freePort(t))
	c.startBroker(b)
	k := c.kafka(b)
	defer k.close()
	recs := e.stream.Records
	// Two fifths of the input at the start, two more while ClickHouse is
	// away, the last fifth after the broker restart.
	first, second := len(recs)*2/5, len(recs)*4/5
	if err := k.produce(e.ctx, recs[:first]); err != nil {
		t.Fatal(err)
	}
	m := c.member("member", memberConfig{brokers: k.addr, chAddr: chs.addr(), database: "bounced_chaos", dataDir: filepath.Join(c.dir, "member")})
	c.start(m)

	// ClickHouse goes away mid-stream, and the rest of the input arrives
	// while it is away.
	stopAt := 0.1 + 0.1*r.Float64()
	c.waitProgress(k, e, "the ClickHouse outage point", stopAt, func(p position) bool { return p.AttDone > 0 })
	before := m.maxRSS.Load()
	p0, _ := k.position(e.ctx)
	ts := time.Now()
	chs.stop(t, e.ctx)
	m.windowRSS.Store(0)
	t.Logf("ClickHouse stopped at %s (the stop took %s); member rss so far %d MiB", p0, time.Since(ts).Round(time.Millisecond), before>>20)
	produced := trickle(e.ctx, k, recs[first:second], 10, e.outage/20)
	// Flushes whose inserts landed before the server went away may still
	// commit; give them a moment, then nothing may commit until it is back.
	time.Sleep(3 * time.Second)
	pDown, _ := k.position(e.ctx)
	time.Sleep(e.outage - time.Since(ts))
	p1, _ := k.position(e.ctx)
	outageRSS := m.windowRSS.Load()
	t.Logf("after %s without ClickHouse: %s; member max rss during the outage %d MiB", time.Since(ts).Round(time.Second), p1, outageRSS>>20)
	if p1.AttDone != pDown.AttDone {
		t.Errorf("stage 2 committed %d attempts while ClickHouse was down (%s → %s): offsets must follow durable outputs",
			p1.AttDone-pDown.AttDone, pDown, p1)
	}
	ts = time.Now()
	chs.start(t, e.ctx)
	p2 := c.waitProgress(k, e, "stage 2 to resume after ClickHouse returned", 0, func(p position) bool { return p.AttDone > p1.AttDone })
	t.Logf("ClickHouse back; stage 2 committed again %s later, at %s", time.Since(ts).Round(100*time.Millisecond), p2)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	// The broker dies with SIGKILL while stage 2 works off the backlog the
	// outage left, and comes back on the same data and port.
	time.Sleep(between(r, 200*time.Millisecond, 2*time.Second))
	p3, _ := k.position(e.ctx)
	b.kill9()
	down := between(r, time.Second, 4*time.Second)
	time.Sleep(down)
	c.startBroker(b)
	t.Logf("broker killed with -9 at %s, restarted after %s", p3, down)
	if p3.AttDone == p3.AttEnd {
		t.Logf("note: stage 2 had no backlog when the broker died")
	}
	if err := <-trickle(e.ctx, k, recs[second:], 5, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	c.waitDrained(k, e, len(recs))
	took := time.Since(t0)
	got, err := snapshot(e.ctx, k, chs.addr(), "bounced_chaos")
	if err != nil {
		t.Fatal(err)
	}
	m.stop(30 * time.Second)
	// Backpressure, not buffering: a backlog of hundreds of thousands of
	// attempts built up while ClickHouse was away must not show in memory.
	maxRSS := m.maxRSS.Load()
	if maxRSS > e.maxRSS {
		t.Errorf("member max RSS %d MiB exceeds the bound of %d MiB (BOUNCED_CHAOS_MAX_RSS_MB)", maxRSS>>20, e.maxRSS>>20)
	}
	if grew := outageRSS - before; grew > outageGrowth {
		t.Errorf("member RSS grew by %d MiB during the ClickHouse outage (%d → %d MiB, backlog %d attempts): buffering, not backpressure",
			grew>>20, before>>20, outageRSS>>20, p1.AttEnd-p1.AttDone)
	}
	c.verdict(e, "outages", base, got, 1, took, fmt.Sprintf("member_max_rss_mib=%d outage_max_rss_mib=%d rss_before_outage_mib=%d backlog_at_outage_end=%d",
		maxRSS>>20, outageRSS>>20, before>>20, p1.AttEnd-p1.AttDone+p1.InEnd-p1.InDone))
}
