package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/demo"
	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/suppressions"
)

// isolate points a one-shot run (demo, bench) at its own embedded broker
// directory and ClickHouse database, so it never touches a real deployment
// and starts from nothing each time.
func isolate(cfg *config.Config, name string, changedDB bool) error {
	cfg.Kafka.Conn = broker.Config{}
	cfg.Kafka.EmbeddedAddr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(cfg.DataDir, name)
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		return fmt.Errorf("clear %s: %w", cfg.DataDir, err)
	}
	if !changedDB {
		cfg.ClickHouse.Database = "bounced_" + name
	}
	return nil
}

// startFresh drops the run's ClickHouse database and starts a node on it.
func startFresh(ctx context.Context, cfg *config.Config, io IO) (*node, error) {
	if err := clickhouse.DropDatabase(ctx, cfg.ClickHouse); err != nil {
		return nil, err
	}
	return startNode(ctx, cfg, io, startEmbedded)
}

// produce writes the records to the first input topic, keyed by MTA host as
// a shipper would key them.
func produce(ctx context.Context, n *node, recs []demo.Record) error {
	w := n.e.conn.NewInputWriter()
	defer w.Close()
	topic := n.e.cfg.Kafka.Topics.WithDefaults().Input[0]
	const chunk = 5000
	for i := 0; i < len(recs); i += chunk {
		batch := make([]kafka.Message, 0, chunk)
		for _, r := range recs[i:min(i+chunk, len(recs))] {
			batch = append(batch, kafka.Message{Topic: topic, Key: []byte(r.Host), Value: r.Value})
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}

// runUntilDrained runs the node until both stages have caught up, then
// stops it cleanly and returns how long processing took.
func runUntilDrained(ctx context.Context, n *node, progress func(ingest, decide int64)) (time.Duration, error) {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- n.run(rctx) }()
	err := waitDrained(ctx, n.e, progress)
	took := time.Since(t0)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return took, err
}

func demoCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("demo", io)
	recipients := fs.Int("recipients", demo.DefaultRecipients, "distinct recipients in the generated stream")
	seed := fs.Int64("seed", 1, "seed of the generated stream")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if err := isolate(cfg, "demo", fs.Changed("clickhouse.database")); err != nil {
		return err
	}
	if !fs.Changed("http.addr") {
		cfg.HTTP.Addr = ""
	}
	if !fs.Changed("log.level") && !strings.Contains(strings.Join(io.Environ, " "), "BOUNCED_LOG_LEVEL") {
		cfg.Log.Level = "warn"
	}
	out := io.Out
	stream, err := demo.Generate(demo.Config{Recipients: *recipients, Seed: *seed})
	if err != nil {
		return err
	}
	t := stream.Truth
	fmt.Fprintf(out, "bounced demo: %d records from %d MTA hosts: %d attempts (%d sends) and %d complaints to %d recipients, %d malformed records\n",
		len(stream.Records), 4, t.Attempts, t.Sends, t.Complaints, *recipients, t.Bad)

	n, err := startFresh(ctx, cfg, io)
	if err != nil {
		return err
	}
	defer n.close()
	fmt.Fprintf(out, "embedded Kafka at %s; ClickHouse %s at %s, database %s\n",
		n.e.conn.Brokers[0], n.e.ch.ServerVersion(), cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	if err := produce(ctx, n, stream.Records); err != nil {
		return err
	}
	took, err := runUntilDrained(ctx, n, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "pipeline drained in %s: %.0f records/s through both stages into Kafka and ClickHouse\n\n",
		took.Round(10*time.Millisecond), float64(len(stream.Records))/took.Seconds())

	n.e.embedded.Compact()
	view := suppressions.NewView(n.e.conn, cfg.Kafka.Topics.WithDefaults().Suppressions, n.e.log)
	if err := view.Load(ctx); err != nil {
		return err
	}
	return report(ctx, out, n, view, stream)
}

func report(ctx context.Context, out io.Writer, n *node, view *suppressions.View, stream *demo.Stream) error {
	ch := n.e.ch
	pct := func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }
	rateTable := func(title, col string, rates []clickhouse.Rate) {
		fmt.Fprintln(out, title)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tsends\tdelivered\tbounced\tbounce\thard\tsoft\tblock\tdeferred/attempt\t\n", col)
		for _, r := range rates {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Key, r.Sends, r.Delivered, r.Bounced,
				pct(r.BounceRate), pct(r.HardRate), pct(r.SoftRate), pct(r.BlockRate), pct(r.DeferralRate))
		}
		tw.Flush()
		fmt.Fprintln(out)
	}
	byCampaign, err := ch.Rates(ctx, clickhouse.ByCampaign, 20)
	if err != nil {
		return err
	}
	rateTable("Bounce rates per campaign (from ClickHouse rollups; a send is one message to one recipient)", "campaign", byCampaign)
	byDomain, err := ch.Rates(ctx, clickhouse.ByDomain, 12)
	if err != nil {
		return err
	}
	rateTable("Per recipient domain (12 largest)", "domain", byDomain)
	byHour, err := ch.Rates(ctx, clickhouse.BySendHour, 12)
	if err != nil {
		return err
	}
	rateTable("Per send hour (12 most recent, grouped by when the message was sent, not when it bounced)", "sent at", byHour)

	reasons, err := ch.TopReasons(ctx, 10)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Top reasons (undelivered attempts)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "attempts\tclass\tlabel\trule\texample")
	for _, r := range reasons {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d %s\n", r.Attempts, r.Class, r.Label, r.Rule, r.Code, r.Enhanced)
	}
	tw.Flush()
	fmt.Fprintln(out)

	// Suppressions against the ground truth.
	got := view.All()
	byLabel := map[string]int{}
	for _, s := range got {
		byLabel[string(s.Class)+"/"+string(s.Label)]++
	}
	fmt.Fprintf(out, "Suppressions on the compacted topic: %d (%s)\n", len(got), counts(byLabel))
	for _, s := range examples(got) {
		fmt.Fprintf(out, "  %s: %s\n", s.Address, s.Reason)
	}
	problems, err := verify(ctx, n, view, stream)
	if err != nil {
		return err
	}
	dlq := dlqCounts(n.reg)
	total := 0
	for _, v := range dlq {
		total += v
	}
	fmt.Fprintf(out, "\nDead-letter topic: %d records (%s)\n", total, counts(dlq))
	if total != stream.Truth.Bad {
		problems = append(problems, fmt.Sprintf("DLQ holds %d records, expected %d", total, stream.Truth.Bad))
	}
	fmt.Fprintln(out)
	if len(problems) > 0 {
		sort.Strings(problems)
		fmt.Fprintf(out, "GROUND TRUTH: %d MISMATCHES\n", len(problems))
		for _, p := range problems[:min(len(problems), 40)] {
			fmt.Fprintln(out, "  "+p)
		}
		return fmt.Errorf("the pipeline's result differs from the ground truth in %d places", len(problems))
	}
	fmt.Fprintf(out, "Ground truth: MATCH. %d of %d expected suppressions, none extra, every label right; ClickHouse counts per campaign and domain exact (%d complaints among them); %d malformed records in the DLQ.\n",
		len(got), len(stream.Truth.Suppressed), stream.Truth.Complaints, total)
	return nil
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// examples picks one suppression per label to show what a reason reads like.
func examples(all []event.Suppression) []event.Suppression {
	seen := map[event.Label]bool{}
	var out []event.Suppression
	for _, s := range all {
		if !seen[s.Label] {
			seen[s.Label] = true
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b event.Suppression) int { return strings.Compare(string(a.Label), string(b.Label)) })
	return out
}

// dlqCounts reads bounced_dlq_total by reason from the registry.
func dlqCounts(reg *prometheus.Registry) map[string]int {
	out := map[string]int{}
	mfs, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "bounced_dlq_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			reason := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					reason = l.GetValue()
				}
			}
			out[reason] += int(m.GetCounter().GetValue())
		}
	}
	return out
}

// verify compares what the pipeline produced (the compacted suppression
// topic, ClickHouse's raw rows and suppressions) with the stream's ground
// truth, and lists every difference.
func verify(ctx context.Context, n *node, view *suppressions.View, stream *demo.Stream) ([]string, error) {
	ch := n.e.ch
	got := view.All()
	var problems []string
	for _, s := range got {
		want, ok := stream.Truth.Suppressed[s.Address]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("suppressed but should not be: %s (%s, %s)", s.Address, s.Label, s.Rule))
		case want.Label != s.Label:
			problems = append(problems, fmt.Sprintf("suppressed for %s, expected %s: %s", s.Label, want.Label, s.Address))
		}
	}
	for addr, want := range stream.Truth.Suppressed {
		if _, ok := view.Get(addr); !ok {
			problems = append(problems, fmt.Sprintf("not suppressed but should be: %s (%s, fate %s)", addr, want.Label, stream.Truth.Fates[addr]))
		}
	}
	// ClickHouse counts against the generator's tallies.
	c, err := ch.Counts(ctx)
	if err != nil {
		return nil, err
	}
	// A complaint is a row of its own that ClickHouse counts only as a
	// complaint, never as an attempt or a delivery: both are compared.
	for camp, want := range stream.Truth.PerCampaign {
		g := c.ByCampaign[camp]
		if int(g.Attempts) != want.Attempts || int(g.Delivered) != want.Delivered || int(g.Deferred) != want.Deferred || int(g.Bounced) != want.Bounced || int(g.Complaints) != want.Complaints {
			problems = append(problems, fmt.Sprintf("clickhouse campaign %s: attempts/delivered/deferred/bounced/complaints %d/%d/%d/%d/%d, expected %d/%d/%d/%d/%d",
				camp, g.Attempts, g.Delivered, g.Deferred, g.Bounced, g.Complaints, want.Attempts, want.Delivered, want.Deferred, want.Bounced, want.Complaints))
		}
	}
	for camp, g := range c.ByCampaign {
		if _, ok := stream.Truth.PerCampaign[camp]; !ok {
			problems = append(problems, fmt.Sprintf("clickhouse campaign %q: %d attempts and %d complaints, expected none (a campaign the stream does not have)", camp, g.Attempts, g.Complaints))
		}
	}
	for dom, want := range stream.Truth.PerDomain {
		g := c.ByDomain[dom]
		if int(g.Attempts) != want.Attempts || int(g.Bounced) != want.Bounced || int(g.Complaints) != want.Complaints {
			problems = append(problems, fmt.Sprintf("clickhouse domain %s: attempts/bounced/complaints %d/%d/%d, expected %d/%d/%d",
				dom, g.Attempts, g.Bounced, g.Complaints, want.Attempts, want.Bounced, want.Complaints))
		}
	}
	if int(c.Total.Attempts) != stream.Truth.Attempts || int(c.Total.Complaints) != stream.Truth.Complaints {
		problems = append(problems, fmt.Sprintf("clickhouse holds %d attempts and %d complaints, expected %d and %d",
			c.Total.Attempts, c.Total.Complaints, stream.Truth.Attempts, stream.Truth.Complaints))
	}
	if int(c.Suppressed) != len(stream.Truth.Suppressed) {
		problems = append(problems, fmt.Sprintf("clickhouse suppressions table holds %d addresses, expected %d", c.Suppressed, len(stream.Truth.Suppressed)))
	}
	return problems, nil
}
