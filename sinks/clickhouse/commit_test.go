package clickhouse_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
)

func TestQueryIDNamesEveryPartition(t *testing.T) {
	id := clickhouse.QueryID("db_1", "attempts", "bounced.attempts", []int32{5, 0, 3, 3})
	prefix := "bounced-db_1-attempts-bounced.attempts-.0.3.5.-"
	if !strings.HasPrefix(id, prefix) || len(id) == len(prefix) || strings.ContainsAny(id[len(prefix):], ".-") {
		t.Errorf("QueryID = %q, want %q and a random suffix without dots or dashes", id, prefix)
	}
	if other := clickhouse.QueryID("db_1", "attempts", "bounced.attempts", []int32{0, 3, 5}); other == id {
		t.Errorf("two INSERTs got the same query id %q", id)
	}
}

func TestAppendSendKeyIsSendKey(t *testing.T) {
	for _, a := range []*event.Attempt{
		{MessageID: "<m1@x>", QueueID: "Q1", EventID: "e1", Source: event.Source{Host: "mta1"}},
		{QueueID: "Q1", EventID: "e1", Source: event.Source{Host: "mta1"}},
		{EventID: "e1"},
		{},
	} {
		if got, want := string(clickhouse.AppendSendKey([]byte("r@x|"), a)), "r@x|"+a.SendKey(); got != want {
			t.Errorf("AppendSendKey = %q, want %q", got, want)
		}
	}
}

// The condition awaitInflight and its KILL use finds an INSERT by partition
// in the query ids of shared INSERTs (and of older releases), and nothing
// else: not another partition whose number contains it, not a topic whose
// name looks like a partition list, not another database or table.
func TestInflightWhereMatchesPartitions(t *testing.T) {
	_, db := chtest.Database(t)
	conn := rawConn(t, db)
	id := clickhouse.QueryID
	for _, tc := range []struct {
		queryID   string
		db, table string
		topic     string
		partition int32
		want      bool
	}{
		{id("d", "attempts", "t", []int32{0, 3, 5}), "d", "attempts", "t", 0, true},
		{id("d", "attempts", "t", []int32{0, 3, 5}), "d", "attempts", "t", 3, true},
		{id("d", "attempts", "t", []int32{0, 3, 5}), "d", "attempts", "t", 5, true},
		{id("d", "attempts", "t", []int32{0, 3, 5}), "d", "attempts", "t", 1, false},
		{id("d", "attempts", "t", []int32{10, 11}), "d", "attempts", "t", 1, false},
		{id("d", "attempts", "t", []int32{10, 11}), "d", "attempts", "t", 11, true},
		{id("d", "attempts", "a.3.b", []int32{0, 5}), "d", "attempts", "a.3.b", 3, false},
		{id("d", "attempts", "t-x", []int32{1}), "d", "attempts", "t", 1, false},
		{id("d", "attempts", "t", []int32{1}), "d", "attempts", "t-x", 1, false},
		{id("d", "attempts", "t", []int32{1}), "d2", "attempts", "t", 1, false},
		{id("d2", "attempts", "t", []int32{1}), "d", "attempts", "t", 1, false},
		{id("d", "outcomes", "t", []int32{1}), "d", "attempts", "t", 1, false},
		{id("d", "outcomes", "t", []int32{1}), "d", "outcomes", "t", 1, true},
		// Query ids of the release before group commit, during an upgrade.
		{"bounced-attempts-t-3-100-abc", "d", "attempts", "t", 3, true},
		{"bounced-attempts-t-30-100-abc", "d", "attempts", "t", 3, false},
		{"bounced-outcomes-t-3-100-abc", "d", "attempts", "t", 3, false},
	} {
		where, args := clickhouse.InflightWhere(tc.db, tc.table, tc.topic, tc.partition)
		var n uint64
		q := "SELECT count() FROM (SELECT ? AS query_id) WHERE " + where
		if err := conn.QueryRow(context.Background(), q, append([]any{tc.queryID}, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got := n == 1; got != tc.want {
			t.Errorf("query id %q, partition %s/%s/%s/%d: match %v, want %v", tc.queryID, tc.db, tc.table, tc.topic, tc.partition, got, tc.want)
		}
	}
}

// inserts counts the INSERTs of a client by table, and those that carried
// several partitions.
type inserts struct {
	mu     sync.Mutex
	n      map[string]int
	shared map[string]int
}

func countInserts(c *clickhouse.Client) *inserts {
	ins := &inserts{n: map[string]int{}, shared: map[string]int{}}
	clickhouse.SetBeforeSend(c, func(table string, parts []int32) {
		ins.mu.Lock()
		defer ins.mu.Unlock()
		ins.n[table]++
		if len(parts) > 1 {
			ins.shared[table]++
		}
	})
	return ins
}

// Six partition workers insert at once, as stage 2 does, with the replays
// stage 2 makes: a batch re-sent after it was stored, a batch reaching back
// below the watermark, and calls that fail because their context ends
// (before the call, or at a random moment during it) and are retried.
// Every row ends up exactly once in attempts and outcomes, and so in the
// rollups; and the rows of several partitions did share INSERTs.
func TestConcurrentPartitionsExactlyOnce(t *testing.T) {
	addr, db := chtest.Database(t)
	c := open(t, clickhouse.Config{Addr: addr, Database: db, BatchSize: 250, InsertLinger: 30 * time.Millisecond})
	ins := countInserts(c)
	const partitions, perPartition = 6, 1200
	var all []clickhouse.AttemptRow
	var wg sync.WaitGroup
	var failed atomic.Int64
	errs := make(chan error, partitions)
	for p := range int32(partitions) {
		rs := rows("bounced.attempts", p, int64(p)*100000, int64(p)*100000+perPartition)
		all = append(all, rs...)
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(p), 42))
			call := func(batch []clickhouse.AttemptRow) error {
				for {
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					switch rnd.IntN(6) {
					case 0: // already over
						ctx, cancel = context.WithCancel(ctx)
						cancel()
					case 1: // ends at some point during the call
						ctx, cancel = context.WithTimeout(ctx, time.Duration(rnd.IntN(40))*time.Millisecond)
					}
					err := c.InsertAttempts(ctx, batch)
					cancel()
					switch {
					case err == nil:
						return nil
					case ctx.Err() == nil:
						return err
					}
					failed.Add(1) // the pipeline's retry
				}
			}
			for start := 0; start < len(rs); {
				end := min(start+50+rnd.IntN(150), len(rs))
				from := start
				if rnd.IntN(5) == 0 { // a replay reaching below the watermark
					from = max(0, start-rnd.IntN(100))
				}
				if err := call(rs[from:end]); err != nil {
					errs <- fmt.Errorf("partition %d offsets %d-%d: %w", p, rs[from].Offset, rs[end-1].Offset, err)
					return
				}
				if rnd.IntN(5) == 0 { // re-sent after it was stored
					if err := call(rs[from:end]); err != nil {
						errs <- err
						return
					}
				}
				start = end
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if failed.Load() == 0 {
		t.Error("no call failed on its context: the test does not test replays after failures")
	}
	assertOnce(t, db, all)
	assertExact(t, c, all)
	ins.mu.Lock()
	defer ins.mu.Unlock()
	t.Logf("%d failed calls retried; INSERTs %v, of several partitions %v", failed.Load(), ins.n, ins.shared)
	if ins.shared["attempts"] == 0 || ins.shared["outcomes"] == 0 {
		t.Errorf("no INSERT carried several partitions' rows: %v", ins.shared)
	}
}

// assertOnce checks that attempts and outcomes (through outcomes_offsets,
// which merges never shrink) hold each offset of want exactly once.
func assertOnce(t *testing.T, db string, want []clickhouse.AttemptRow) {
	t.Helper()
	outcomes := 0
	for _, r := range want {
		if r.Attempt.Outcome != event.Dropped && (r.Attempt.Verdict == nil || (r.Attempt.Verdict.Class != event.ClassComplaint && r.Attempt.Verdict.Class != event.ClassAutoReply)) {
			outcomes++
		}
	}
	conn := rawConn(t, db)
	for table, n := range map[string]int{"attempts": len(want), "outcomes_offsets": outcomes} {
		var rows, distinct uint64
		if err := conn.QueryRow(context.Background(),
			"SELECT count(), uniqExact(src_topic, src_partition, src_offset) FROM "+table).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		if rows != uint64(n) || distinct != uint64(n) {
			t.Errorf("%s: %d rows, %d distinct offsets, want %d of each", table, rows, distinct, n)
		}
	}
}

// An INSERT carrying several partitions' rows that is still running on the
// server holds back the watermark read of each of those partitions, by any
// member, and of no other.
func TestSharedInsertBlocksWatermarkReadOfEachPartition(t *testing.T) {
	ctx := context.Background()
	addr, db := chtest.Database(t)
	a := open(t, clickhouse.Config{Addr: addr, Database: db, InsertLinger: 500 * time.Millisecond})
	covered := []int32{0, 3, 5}
	insertAll := func(from, to int64) {
		t.Helper()
		var wg sync.WaitGroup
		for _, p := range covered {
			wg.Go(func() {
				if err := a.InsertAttempts(ctx, rows("t", p, from, to)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	insertAll(0, 10) // the three partitions are now known to write

	held, release := make(chan []int32, 1), make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var once sync.Once
	clickhouse.SetBeforeSend(a, func(table string, parts []int32) {
		if table == "attempts" && len(parts) == len(covered) {
			once.Do(func() {
				held <- slices.Sorted(slices.Values(parts))
				<-release
			})
		}
	})
	done := make(chan struct{})
	go func() { insertAll(10, 20); close(done) }()
	select {
	case parts := <-held:
		if !slices.Equal(parts, covered) {
			t.Fatalf("held INSERT carries partitions %v, want %v", parts, covered)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the three partitions' rows were not sent in one INSERT")
	}

	b := reopen(t, a, addr) // another member, taking the partitions over
	var wg sync.WaitGroup
	for _, p := range covered {
		wg.Go(func() {
			bctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if err := b.InsertAttempts(bctx, rows("t", p, 10, 20)); err == nil {
				t.Errorf("partition %d: watermark read while a shared INSERT carrying it runs: %v, want it held back", p, err)
			}
		})
	}
	wg.Go(func() {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := b.InsertAttempts(bctx, rows("t", 1, 10, 20)); err != nil {
			t.Errorf("partition 1, not in the INSERT: %v", err)
		}
	})
	wg.Wait()
	unblock()
	<-done

	for _, p := range covered { // b's retries, after the INSERT ended
		if err := b.InsertAttempts(ctx, rows("t", p, 10, 25)); err != nil {
			t.Fatal(err)
		}
	}
	var want []clickhouse.AttemptRow
	for _, p := range covered {
		want = append(want, rows("t", p, 0, 25)...)
	}
	want = append(want, rows("t", 1, 10, 20)...)
	assertOnce(t, db, want)
}

// BenchmarkInsertAttemptsPartitions is stage 2's write pattern: six
// partition workers each calling InsertAttempts with 2,000 rows at once, one
// round per iteration. Besides the client's costs it reports the server's
// CPU time per row (utime+stime of the clickhouse-server process, found by
// scripts/clickhouse.sh's pid file or BOUNCED_CLICKHOUSE_PID), and the
// INSERTs per round.
func BenchmarkInsertAttemptsPartitions(b *testing.B) {
	const partitions, size = 6, 2000
	for _, linger := range []time.Duration{-1, clickhouse.DefaultInsertLinger} {
		name := "linger=off"
		if linger > 0 {
			name = "linger=" + linger.String()
		}
		b.Run(name, func(b *testing.B) {
			c := open(b, clickhouse.Config{BatchSize: 10000, InsertLinger: linger})
			ins := countInserts(c)
			ctx := context.Background()
			batches := make([][]clickhouse.AttemptRow, partitions)
			for p := range batches {
				batches[p] = rows("bench", int32(p), 0, size)
				for _, r := range batches[p] {
					r.Attempt.OccurredAt = r.Attempt.OccurredAt.Add(72 * time.Hour)
					r.Attempt.SentAt = r.Attempt.SendTime().Add(72 * time.Hour)
				}
			}
			round := func() {
				var wg sync.WaitGroup
				for p := range batches {
					wg.Go(func() {
						if err := c.InsertAttempts(ctx, batches[p]); err != nil {
							b.Error(err)
						}
						for i := range batches[p] {
							batches[p][i].Offset += size
						}
					})
				}
				wg.Wait()
			}
			round() // the watermarks read, the partitions known
			settle(b, 0)
			idle := serverCPU(b) // the server's own background work, per second
			time.Sleep(time.Second)
			cpu0 := serverCPU(b)
			idle = cpu0 - idle
			ccpu0 := clientCPU()
			ins.mu.Lock()
			inserts0 := ins.n["attempts"]
			ins.mu.Unlock()
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				round()
				n += partitions * size
			}
			b.StopTimer()
			ccpu1 := clientCPU()
			cpu1 := serverCPU(b)
			cpu2, settled := settle(b, idle) // the merges the parts cause
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(ccpu1-ccpu0)/float64(n), "client-cpu-ns/row")
			if cpu0 >= 0 && cpu1 >= 0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(n), "server-ns/row")
				b.ReportMetric(float64(cpu2-cpu0-int64(settled.Seconds()+b.Elapsed().Seconds())*idle)/float64(n), "server+merges-ns/row")
			}
			ins.mu.Lock()
			b.ReportMetric(float64(ins.n["attempts"]-inserts0)/float64(b.N), "attempts-inserts/round")
			ins.mu.Unlock()
		})
	}
}

// serverCPU is the clickhouse-server process's user+system CPU time in ns,
// or -1 when its pid is unknown.
func serverCPU(tb testing.TB) int64 {
	pid := os.Getenv("BOUNCED_CLICKHOUSE_PID")
	if pid == "" {
		b, err := os.ReadFile(filepath.Join("..", "..", ".clickhouse", "clickhouse.pid"))
		if err != nil {
			return -1
		}
		pid = strings.TrimSpace(string(b))
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		tb.Logf("server CPU: %v", err)
		return -1
	}
	// Fields after the command (which may hold spaces): state is field 3,
	// utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100).
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (utime + stime) * int64(10*time.Millisecond)
}

// settle waits until the server is back to its idle CPU rate (idle ns per
// second), at most 30s, and returns its CPU time then and how long it took.
func settle(tb testing.TB, idle int64) (int64, time.Duration) {
	start := time.Now()
	prev := serverCPU(tb)
	for time.Since(start) < 30*time.Second {
		time.Sleep(time.Second)
		cur := serverCPU(tb)
		if cur-prev <= idle+int64(20*time.Millisecond) {
			return cur, time.Since(start)
		}
		prev = cur
	}
	return prev, time.Since(start)
}
