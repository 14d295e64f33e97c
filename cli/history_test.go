package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/sinks/clickhouse/chtest"
	"github.com/bounced-dev/bounced/topics"
)

// TestHistoryEndToEnd runs attempts through both stages on the embedded
// broker and the real ClickHouse, then asks `bounced history` about them:
// the suppression and its reason, the streak state from the changelog,
// the attempts newest first a page at a time, and what it says when an
// address was never seen or a dependency does not answer.
func TestHistoryEndToEnd(t *testing.T) {
	chAddr, db := chtest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, t.TempDir(), chAddr, db)
	cfg.HTTP.Addr = "127.0.0.1:0" // listen wires GET /v1/addresses/{address}
	n, err := startNode(ctx, cfg, testIO(), startEmbedded)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()

	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	recs := []demo.Record{
		attemptJSON("a1", "Ann@Example.org", "delivered", t0, 250, "2.0.0", "250 2.0.0 OK"),
		attemptJSON("a2", "ann@example.org", "bounced", t0.Add(24*time.Hour), 550, "5.1.1", "550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown in virtual mailbox table"),
		attemptJSON("s1", "soft@example.org", "bounced", t0, 452, "4.2.2", "452 4.2.2 Mailbox full"),
		attemptJSON("s2", "soft@example.org", "bounced", t0.Add(24*time.Hour), 452, "4.2.2", "452 4.2.2 Mailbox full"),
	}
	if err := produce(ctx, n, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := runUntilDrained(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	brokerAddr := n.e.conn.Brokers[0]
	history := func(args ...string) (int, string, string) {
		io := testIO()
		all := append([]string{"history", "--kafka.brokers", brokerAddr, "--clickhouse.addr", chAddr, "--clickhouse.database", db,
			"--set", "log.level=warn", "--set", "kafka.partitions=3"}, args...)
		code := Main(ctx, all, io)
		return code, io.Out.(*bytes.Buffer).String(), io.Err.(*bytes.Buffer).String()
	}
	doc := func(args ...string) api.AddressHistory {
		t.Helper()
		code, out, errs := history(append(args, "--format", "json")...)
		if code != 0 {
			t.Fatalf("history %v: exit %d: %s", args, code, errs)
		}
		var d api.AddressHistory
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("history %v: %v\n%s", args, err, out)
		}
		return d
	}

	// The suppressed address, in any spelling.
	ann := doc("ANN@example.ORG")
	if ann.Address != "ann@example.org" || ann.Suppression == nil || ann.Suppression.Status != event.StatusSuppressed ||
		ann.Suppression.Reason == "" || !strings.Contains(ann.Suppression.Reason, "5.1.1") {
		t.Errorf("suppression: %+v", ann.Suppression)
	}
	if ann.State == nil || ann.State.Status != event.StatusSuppressed || ann.State.SoftStreak != 0 || ann.State.LastDelivery == nil ||
		!ann.State.LastDelivery.Equal(t0) {
		t.Errorf("state: %+v (%s)", ann.State, ann.StateNote)
	}
	if got := eventIDs(ann.Attempts); got != "a2 a1" || ann.Attempts[0].Outcome != "bounced" || ann.Attempts[0].Code != 550 ||
		ann.Attempts[0].Label == "" || ann.Attempts[0].Rule == "" || ann.Attempts[0].SourceKind != "test" || ann.Next != "" {
		t.Errorf("attempts: %s %+v next %q", got, ann.Attempts, ann.Next)
	}

	// The API answers the same document (the member's view is loaded by
	// its run).
	rec := httptest.NewRecorder()
	n.srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/addresses/Ann@Example.org", nil))
	var viaAPI api.AddressHistory
	if err := json.Unmarshal(rec.Body.Bytes(), &viaAPI); rec.Code != 200 || err != nil {
		t.Errorf("GET /v1/addresses: %d %s", rec.Code, rec.Body)
	} else if a, b := mustJSON(t, viaAPI), mustJSON(t, ann); a != b {
		t.Errorf("the API and the CLI disagree:\napi %s\ncli %s", a, b)
	}

	if testing.Verbose() {
		b, _ := json.MarshalIndent(ann, "", "  ")
		t.Log("\n" + string(b))
	}

	// Paging: one attempt a page, walked back with --before.
	p1 := doc("ann@example.org", "--limit", "1")
	if eventIDs(p1.Attempts) != "a2" || p1.Next == "" {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := doc("ann@example.org", "--limit", "1", "--before", p1.Next)
	if eventIDs(p2.Attempts) != "a1" || p2.Next != "" {
		t.Errorf("page 2: %+v", p2)
	}

	// A soft streak in progress: two failed sends, the window from the first.
	soft := doc("soft@example.org")
	if soft.Suppression != nil || soft.State == nil || soft.State.SoftStreak != 2 || soft.State.WindowStart == nil ||
		!soft.State.WindowStart.Equal(t0) || len(soft.State.Streak) != 2 {
		t.Errorf("soft streak: %+v %+v", soft.Suppression, soft.State)
	}
	code, out, errs := history("soft@example.org")
	if code != 0 || !strings.Contains(out, "soft streak 2, window from 2026-06-01T09:00:00Z") || !strings.Contains(out, "suppression  none") ||
		strings.Index(out, "2026-06-02T09:00:00Z") > strings.Index(out, "2026-06-01T09:00:00Z  ") {
		t.Errorf("table: exit %d\n%s%s", code, out, errs)
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}

	// Never seen.
	code, out, errs = history("nobody@example.org")
	if code != 0 || !strings.Contains(out, "no attempts") || !strings.Contains(out, "state        (none)") {
		t.Errorf("never seen: exit %d\n%s%s", code, out, errs)
	}

	// Bad input: exit 2 with the reason.
	for _, args := range [][]string{{"not-an-address"}, {"a@example.org", "--limit", "0"}, {"a@example.org", "--before", "zzz"}, {}} {
		if code, _, errs := history(args...); code != 2 || errs == "" {
			t.Errorf("history %v: exit %d (%s), want 2", args, code, errs)
		}
	}

	// A database never migrated: said so, not created.
	_, bare := chtest.Database(t)
	io := testIO()
	code = Main(ctx, []string{"history", "ann@example.org", "--kafka.brokers", brokerAddr, "--clickhouse.addr", chAddr, "--clickhouse.database", bare,
		"--set", "log.level=warn"}, io)
	if errs := io.Err.(*bytes.Buffer).String(); code != 1 || !strings.Contains(errs, "bounced migrate") {
		t.Errorf("no attempts table: exit %d: %s", code, errs)
	}

	// ClickHouse and Kafka unreachable: exit 1 with the reason.
	for name, args := range map[string][]string{
		"clickhouse": {"--kafka.brokers", brokerAddr, "--clickhouse.addr", "127.0.0.1:1", "--clickhouse.database", db},
		"kafka":      {"--kafka.brokers", "127.0.0.1:1", "--clickhouse.addr", chAddr, "--clickhouse.database", db, "--timeout", "5s"},
	} {
		io := testIO()
		code := Main(ctx, append([]string{"history", "ann@example.org", "--set", "log.level=warn"}, args...), io)
		if errs := io.Err.(*bytes.Buffer).String(); code != 1 || errs == "" {
			t.Errorf("%s unreachable: exit %d: %s", name, code, errs)
		} else if testing.Verbose() {
			t.Logf("%s unreachable: %s", name, errs)
		}
	}

	// The search for a state is bounded: later records of other addresses
	// in the same partition push it out of a small bound.
	const topic = "bounced.state"
	parts, err := n.e.conn.Partitions(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	p := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte("soft@example.org")}, seq(parts)...)
	var msgs []kafka.Message
	for i := range 5000 {
		st := streak.New()
		m, err := topics.StateMessage(topic, p, fmt.Sprintf("filler%d@example.net", i), &st)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	w := n.e.conn.NewPartitionWriter()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st, note, err := latestState(ctx, n.e.conn, topic, "soft@example.org", 3000)
	if err != nil || st != nil || !strings.Contains(note, "not within the last 3000 records") {
		t.Errorf("bound 3000: %+v %q %v", st, note, err)
	}
	st, note, err = latestState(ctx, n.e.conn, topic, "soft@example.org", stateSearchBound)
	if err != nil || st == nil || st.SoftStreak != 2 || st.Partition != p {
		t.Errorf("default bound: %+v %q %v", st, note, err)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func eventIDs(as []clickhouse.HistoryAttempt) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.EventID)
	}
	return strings.Join(ids, " ")
}

func TestHistoryStateOf(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   streak.State
		want api.StreakState
	}{
		{"fresh", streak.State{LastOff: 4}, api.StreakState{LastApplied: 4}},
		{"streak", streak.State{LastOff: 9, Streak: []streak.Fail{{At: t0.UnixNano(), Evidence: event.Evidence{Code: 452}}, {At: t0.Add(time.Hour).UnixNano()}}},
			api.StreakState{LastApplied: 9, SoftStreak: 2, WindowStart: &t0, Streak: []event.Evidence{{Code: 452}, {}}}},
		{"held", streak.State{LastDelivery: t0.UnixNano(), Mark: &streak.Mark{Status: event.StatusHeld, Class: "hard", Label: "mailbox_unknown", Since: t0}},
			api.StreakState{LastDelivery: &t0, Status: event.StatusHeld, Class: "hard", Label: "mailbox_unknown", Since: &t0}},
		{"expiring", streak.State{Mark: &streak.Mark{Status: event.StatusSuppressed, Class: "soft", Label: "mailbox_full", Since: t0, ExpiresAt: t0.Add(time.Hour)}},
			api.StreakState{Status: event.StatusSuppressed, Class: "soft", Label: "mailbox_full", Since: &t0, ExpiresAt: ptr(t0.Add(time.Hour))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := json.Marshal(stateOf(1, 2, &tc.st))
			tc.want.Partition, tc.want.Offset = 1, 2
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// A reply is shown on one line and cannot drive the terminal.
func TestHistoryPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"550 user unknown":          "550 user unknown",
		"a\x1b[31mred\tb\r\nc":      "a [31mred b  c",
		strings.Repeat("é", 300):    strings.Repeat("é", 199) + "…",
		"<script>alert(1)</script>": "<script>alert(1)</script>",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
