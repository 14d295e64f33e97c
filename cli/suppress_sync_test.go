package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/suppressions"
)

// TestSuppressSyncAndBulkLift runs a generated stream through both stages,
// syncs the list to a Postfix map and a CSV file with --once, then lifts
// part of it from a file: a dry run writes nothing, the real one empties
// those addresses out of the next sync.
func TestSuppressSyncAndBulkLift(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := startNode(ctx, testConfig(t, t.TempDir(), chAddr, db), testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	stream, err := demo.Generate(demo.Tiny(5))
	if err != nil {
		t.Fatal(err)
	}
	if err := produce(ctx, n, stream.Records); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	brokers := []string{"--kafka.brokers", n.e.conn.Brokers[0], "--set", "log.level=warn"}
	run := func(args ...string) (string, error) {
		io := testIO()
		err := suppressCmd(ctx, io, append(args, brokers...))
		return io.Out.(*bytes.Buffer).String(), err
	}
	enforced := func() []string {
		view := suppressions.NewView(n.e.conn, "bounced.suppressions", nil)
		if err := view.Load(ctx); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range view.All() {
			if r.Status == event.StatusSuppressed {
				out = append(out, r.Address)
			}
		}
		return out
	}
	want := enforced()
	if len(want) < 4 {
		t.Fatalf("the stream suppressed %d addresses; the test needs a few", len(want))
	}

	dir := t.TempDir()
	pf, cf := filepath.Join(dir, "suppressed"), filepath.Join(dir, "suppressed.csv")
	out, err := run("sync", "--to", "postfix-access", pf, "--once", "--postmap", "touch "+pf+".db")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "synced ") || !strings.Contains(out, pf) {
		t.Errorf("progress line %q", out)
	}
	if got := mapKeys(t, pf); !slices.Equal(got, want) {
		t.Errorf("postfix map lists %d addresses, want the %d enforced ones, sorted", len(got), len(want))
	}
	if _, err := os.Stat(pf + ".db"); err != nil {
		t.Errorf("the --postmap command did not run: %v", err)
	}
	if _, err := run("sync", "--to", "csv", cf, "--once"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(cf)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(want)+1 || rows[0][0] != "address" || rows[1][0] != want[0] {
		t.Errorf("csv: %d rows (%v), want a header and %d", len(rows), err, len(want))
	}

	// suppress export --format csv is the same CSV (reasons hold commas and
	// quotes: RFC 4180 quoting, not Go's).
	exported, err := run("export", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	erows, err := csv.NewReader(strings.NewReader(exported)).ReadAll()
	if err != nil || len(erows) < len(want)+1 || !slices.Equal(erows[0], rows[0]) {
		t.Errorf("export csv: %d rows (%v), header %v, want %v", len(erows), err, erows[0], rows[0])
	}

	// Clear errors before anything connects.
	if _, err := run("sync", "--to", "postfix-access", filepath.Join(dir, "nope", "x"), "--once"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := run("sync", "--to", "webhook", "not a url", "--secret-file", pf, "--once"); err == nil || !strings.Contains(err.Error(), "URL") {
		t.Errorf("bad URL: %v", err)
	}

	// A lift file: the first two addresses in other spellings, one that is
	// not suppressed, a comment and an invalid line.
	lift := want[:2]
	list := "# to lift\n" + strings.ToUpper(lift[0]) + "\n<" + lift[1] + ">   # angle brackets\n\nnobody@nowhere.example\nnot an address\n"
	lf := filepath.Join(dir, "lift.txt")
	if err := os.WriteFile(lf, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run("lift", "--file", lf); err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "nothing was lifted") {
		t.Errorf("invalid line: %v; want its number and that nothing was lifted", err)
	}
	before := endOffsets(ctx, t, n, "bounced.attempts")
	out, err = run("lift", "--file", lf, "--dry-run", "--skip-invalid")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "would lift "+lift[0]) || !strings.Contains(out, "would lift "+lift[1]) || !strings.Contains(out, "not suppressed: nobody@nowhere.example") {
		t.Errorf("dry run printed:\n%s", out)
	}
	if after := endOffsets(ctx, t, n, "bounced.attempts"); after != before {
		t.Errorf("the dry run wrote %d records", after-before)
	}
	if out, err = run("lift", "--file", lf, "--skip-invalid", "--reason", "test"); err != nil || !strings.HasPrefix(out, "lifted 2 addresses") {
		t.Fatalf("lift: %q %v", out, err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := run("sync", "--to", "postfix-access", pf, "--once"); err != nil {
		t.Fatal(err)
	}
	if got := mapKeys(t, pf); !slices.Equal(got, want[2:]) {
		t.Errorf("after the lift the map lists %d addresses, want %d (without %v)", len(got), len(want)-2, lift)
	}
}

func mapKeys(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Fields(l)[0])
		}
	}
	return out
}

func endOffsets(ctx context.Context, t *testing.T, n *node, topic string) int64 {
	t.Helper()
	parts, err := n.e.conn.Partitions(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for p := range parts {
		end, err := n.e.conn.EndOffset(ctx, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		sum += end
	}
	return sum
}
