package cli

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/schemas"
)

// The peer's JSON rows carry every column of the attempts table that has no
// DEFAULT, by its name: the Kafka engine skips unknown fields silently.
func TestPeerRowColumns(t *testing.T) {
	ddl, err := schemas.ClickHouse.ReadFile("clickhouse/001_attempts.sql")
	if err != nil {
		t.Fatal(err)
	}
	body := string(ddl)
	body = body[strings.Index(body, "(")+1 : strings.Index(body, "\nENGINE")]
	col := regexp.MustCompile(`^\s+([a-z_]+)\s+(.*)$`)
	var want []string
	for _, line := range strings.Split(body, "\n") {
		m := col.FindStringSubmatch(line)
		if m == nil || strings.Contains(m[2], "DEFAULT") {
			continue
		}
		want = append(want, m[1])
	}
	b, err := json.Marshal(peerRowOf(&event.Attempt{Recipient: "A@Example.com"}, 7))
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := json.Unmarshal(b, &row); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range row {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("peer row fields\n got %v\nwant %v", got, want)
	}
	if row["recipient"] != "a@example.com" || row["recipient_domain"] != "example.com" || row["src_offset"] != 7.0 {
		t.Errorf("row %s", b)
	}
}

func TestFitRate(t *testing.T) {
	// 2 s of start-up, then 50,000 rows/s.
	runs := []peerRun{
		{rows: 10000, took: 2200 * time.Millisecond},
		{rows: 50000, took: 3 * time.Second},
		{rows: 100000, took: 4 * time.Second},
	}
	rate, startup := fitRate(runs)
	if rate < 49999 || rate > 50001 || startup < 1999*time.Millisecond || startup > 2001*time.Millisecond {
		t.Errorf("rate %.0f startup %s, want 50000 and 2s", rate, startup)
	}
	if rate, _ := fitRate(runs[:1]); rate != 0 {
		t.Errorf("one run gave a rate %.0f", rate)
	}
}

func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	tick := clockTick()
	if tick <= 0 || tick > time.Second {
		t.Fatalf("clock tick %s", tick)
	}
	// getrusage is the witness: on a busy machine 100 ms of wall time can
	// be any amount of CPU, so spin until the kernel counted 100 ms of it
	// and compare the two readings.
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, err := procCPU("self", tick)
	if err != nil {
		t.Fatal(err)
	}
	r0 := rusage()
	for deadline := time.Now().Add(20 * time.Second); rusage()-r0 < 100*time.Millisecond && time.Now().Before(deadline); {
	}
	after, err := procCPU("self", tick)
	if err != nil {
		t.Fatal(err)
	}
	got, want := after-before, rusage()-r0
	if diff := got - want; diff < -3*tick-10*time.Millisecond || diff > 3*tick+10*time.Millisecond {
		t.Errorf("/proc/self/stat counted %s of CPU where getrusage counted %s", got, want)
	}
}
