package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"sort"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/bounced-dev/bounced/config"
	"github.com/bounced-dev/bounced/processor/event"
)

// The peer is ClickHouse's own Kafka engine reading the same attempts from
// the same broker into a MergeTree with the attempts table's columns: what
// a pipeline without bounced (a Kafka table, a materialized view and a
// MergeTree, all inside the server) costs and how fast it goes. The attempts
// topic's encoding is bounced's own business, so the bench writes the
// stream's canonical attempts to a topic of its own as flat JSON objects,
// one per record, with the target table's column names (JSONEachRow).
const peerTopic = "bench.peer.attempts"

// peerSizes are the shares of the stream (percent) the peer reads, each with
// a fresh table and consumer group: the time it takes grows with the rows
// by its steady rate, over a fixed start-up of about 4 s on 18.16 (the
// engine's first polls, the wait before its one squashed INSERT). Each size
// runs peerTries times and the fastest counts: the start-up jitters by a
// few hundred milliseconds, about what the default stream's 137k rows take.
var peerSizes = []int{10, 50, 100}

const peerTries = 2

// peerRow is an attempt as one JSONEachRow row of the attempts table:
// every column but those with a DEFAULT. Times are Unix seconds.
type peerRow struct {
	EventID         string  `json:"event_id"`
	OccurredAt      int64   `json:"occurred_at"`
	SentAt          int64   `json:"sent_at"`
	Recipient       string  `json:"recipient"`
	RecipientDomain string  `json:"recipient_domain"`
	CampaignID      string  `json:"campaign_id"`
	Tenant          string  `json:"tenant"`
	Sender          string  `json:"sender"`
	MessageID       string  `json:"message_id"`
	QueueID         string  `json:"queue_id"`
	SendingIP       string  `json:"sending_ip"`
	Pool            string  `json:"pool"`
	SourceKind      string  `json:"source_kind"`
	SourceHost      string  `json:"source_host"`
	Outcome         string  `json:"outcome"`
	Attempt         uint16  `json:"attempt"`
	SMTPCode        uint16  `json:"smtp_code"`
	SMTPEnhanced    string  `json:"smtp_enhanced"`
	SMTPCommand     string  `json:"smtp_command"`
	RemoteHost      string  `json:"remote_host"`
	Diagnostic      string  `json:"diagnostic"`
	Class           string  `json:"class"`
	Label           string  `json:"label"`
	Scope           string  `json:"scope"`
	Rule            string  `json:"rule"`
	Local           uint8   `json:"local"`
	DelaySeconds    float64 `json:"delay_seconds"`
	SrcTopic        string  `json:"src_topic"`
	SrcPartition    int32   `json:"src_partition"`
	SrcOffset       int64   `json:"src_offset"`
}

// peerRowOf maps an attempt to its row as sinks/clickhouse does; offset is
// the attempt's place in the stream, as in the raw insert.
func peerRowOf(a *event.Attempt, offset int64) peerRow {
	recipient := a.RecipientNorm
	if recipient == "" {
		recipient = strings.ToLower(a.Recipient)
	}
	domain := a.RecipientDomain
	if domain == "" {
		if i := strings.LastIndexByte(recipient, '@'); i >= 0 {
			domain = recipient[i+1:]
		}
	}
	diagnostic := a.SMTP.Text
	if diagnostic == "" {
		diagnostic = a.Diagnostic
	}
	r := peerRow{
		EventID: a.EventID, OccurredAt: unixSeconds(a.OccurredAt), SentAt: unixSeconds(a.SendTime()),
		Recipient: recipient, RecipientDomain: domain, CampaignID: a.CampaignID, Tenant: a.Tenant,
		Sender: a.Sender, MessageID: a.MessageID, QueueID: a.QueueID, SendingIP: a.SendingIP, Pool: a.Pool,
		SourceKind: a.Source.Kind, SourceHost: a.Source.Host, Outcome: string(a.Outcome),
		Attempt: uint16(min(max(a.Attempt, 0), 65535)), SMTPCode: uint16(min(max(a.SMTP.Code, 0), 65535)),
		SMTPEnhanced: a.SMTP.Enhanced, SMTPCommand: a.SMTP.Command, RemoteHost: a.SMTP.RemoteHost,
		Diagnostic: diagnostic, DelaySeconds: a.DelaySeconds,
		SrcTopic: peerTopic, SrcOffset: offset,
	}
	if v := a.Verdict; v != nil {
		r.Class, r.Label, r.Scope, r.Rule = string(v.Class), string(v.Label), string(v.Scope), v.Rule
		if v.Local {
			r.Local = 1
		}
	}
	return r
}

func unixSeconds(t time.Time) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return t.Unix()
}

// peerRun is one size: rows read from the topic into a fresh MergeTree.
type peerRun struct {
	pct   int
	rows  int
	join  time.Duration // until the Kafka table's consumers had joined the group
	first time.Duration // from creating the view until the first rows were in the MergeTree
	took  time.Duration // from creating the view until all were
	// inserts is how often the row count changed: the engine squashes what
	// one read (at most stream_flush_interval_ms) got into one INSERT, so
	// rows appear in a few large steps and the count cannot show a rate
	// within a run.
	inserts int
	cpu     cpuUse
}

// peerResult is the peer's measure.
type peerResult struct {
	runs      []peerRun     // the fastest try of each size
	steady    float64       // rows/s: the slope of took over rows (least squares)
	startup   time.Duration // the fit's intercept
	consumers int
	server    string // ClickHouse server version
	cpuUsed   cpuUse // by every try of every size
	cpuRows   int    // the rows of every try
}

// benchPeer measures the Kafka engine: it writes the attempts to peerTopic,
// then, for each size, pre-commits a fresh group's offsets so the group
// reads exactly that share of every partition (the engine's librdkafka
// starts at the end of a partition without a committed offset), creates
// the MergeTree, the Kafka table and the view, and waits until the rows are
// in. Every table is dropped again except the MergeTrees.
func benchPeer(ctx context.Context, n *node, cfg *config.Config, conn ch.Conn, attempts []event.Attempt, meter cpuMeter, log io.Writer) (peerResult, error) {
	var res peerResult
	host, _, err := net.SplitHostPort(cfg.ClickHouse.Addr)
	if err != nil || !localHost(host) {
		return res, fmt.Errorf("the ClickHouse server %s is not on this host, so it cannot reach the embedded broker on %s", cfg.ClickHouse.Addr, n.e.conn.Brokers[0])
	}
	partitions := int32(cfg.Kafka.Topics.Partitions)
	if partitions < 1 {
		partitions = 1
	}
	if _, err := n.e.adm.CreateTopic(ctx, partitions, 1, nil, peerTopic); err != nil {
		return res, fmt.Errorf("create %s: %w", peerTopic, err)
	}
	if err := producePeer(ctx, n, attempts); err != nil {
		return res, err
	}
	listed, err := n.e.adm.ListEndOffsets(ctx, peerTopic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return res, fmt.Errorf("end offsets of %s: %w", peerTopic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })

	if sv, err := conn.ServerVersion(); err == nil {
		res.server = fmt.Sprintf("%d.%d.%d", sv.Version.Major, sv.Version.Minor, sv.Version.Patch)
	}
	db := cfg.ClickHouse.Database + "_peer"
	for _, q := range []string{"DROP DATABASE IF EXISTS " + db, "CREATE DATABASE " + db} {
		if err := conn.Exec(ctx, q); err != nil {
			return res, fmt.Errorf("clickhouse: %s: %w", q, err)
		}
	}
	tmpl := cfg.ClickHouse.Database + ".attempts" // the end-to-end run's table
	cols, defaults, err := describe(ctx, conn, tmpl)
	if err != nil {
		return res, err
	}
	res.consumers = int(min(partitions, int32(runtime.NumCPU())))
	res.cpuUsed, res.cpuRows = cpuUse{selfOK: true, chOK: true}, 0
	var lastTable string
	for _, pct := range peerSizes {
		var best peerRun
		for try := 1; try <= peerTries; try++ {
			settle(ctx, conn)
			name := fmt.Sprintf("%d_%d", pct, try)
			run, err := peerSize(ctx, n, conn, db, tmpl, name, pct, ends, cols, defaults, res.consumers, meter)
			if err != nil {
				return res, err
			}
			fmt.Fprintf(log, "kafka engine, %3d%% (try %d): %7d rows; consumers joined in %.2f s; then first rows after %.2f s, all after %.2f s (%d inserts)\n",
				pct, try, run.rows, run.join.Seconds(), run.first.Seconds(), run.took.Seconds(), run.inserts)
			res.cpuUsed, res.cpuRows = res.cpuUsed.add(run.cpu), res.cpuRows+run.rows
			if try == 1 || run.took < best.took {
				best = run
			}
			lastTable = fmt.Sprintf("%s.attempts_%s", db, name)
		}
		res.runs = append(res.runs, best)
	}
	if err := checkPeerRows(ctx, conn, lastTable, len(attempts)); err != nil {
		return res, err
	}
	res.steady, res.startup = fitRate(res.runs)
	if res.steady <= 0 {
		var runs []string
		for _, r := range res.runs {
			runs = append(runs, fmt.Sprintf("%d rows in %.2f s", r.rows, r.took.Seconds()))
		}
		return res, fmt.Errorf("no steady rate: the time does not grow with the rows (%s); the stream is too small to tell", strings.Join(runs, ", "))
	}
	return res, nil
}

// producePeer writes the attempts to peerTopic as JSON rows keyed by
// recipient (murmur2, as the attempts topic is keyed). It produces with the
// franz-go client, which learns of the new topic at once; kafka-go's
// transport would answer from its cached metadata for a few seconds.
func producePeer(ctx context.Context, n *node, attempts []event.Attempt) error {
	const chunk = 5000
	for i := 0; i < len(attempts); i += chunk {
		batch := make([]*kgo.Record, 0, chunk)
		for j := i; j < min(i+chunk, len(attempts)); j++ {
			r := peerRowOf(&attempts[j], int64(j))
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			batch = append(batch, &kgo.Record{Topic: peerTopic, Key: []byte(r.Recipient), Value: append(v, '\n')})
		}
		if err := n.e.kgo.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", peerTopic, err)
		}
	}
	return nil
}

// openBenchConn connects to the server's default database, with the
// LowCardinality switch 18.x needs to create the peer's tables.
func openBenchConn(ctx context.Context, cfg *config.Config) (ch.Conn, error) {
	c := cfg.ClickHouse
	o := &ch.Options{
		Protocol:    ch.Native,
		Addr:        []string{c.Addr},
		Auth:        ch.Auth{Username: c.Username, Password: c.Password},
		DialTimeout: max(c.DialTimeout, 10*time.Second),
	}
	if o.Auth.Username == "" {
		o.Auth.Username = "default"
	}
	if c.TLS {
		o.TLS = &tls.Config{InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in, for tests
	}
	conn, err := ch.Open(o)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", c.Addr, err)
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s: %w", c.Addr, err)
	}
	if sv.Version.Major < 19 {
		conn.Close()
		o.Settings = ch.Settings{"allow_experimental_low_cardinality_type": 1}
		conn, err = ch.Open(o)
	}
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s: %w", c.Addr, err)
	}
	return conn, nil
}

// column is one column of DESCRIBE TABLE.
type column struct{ name, typ, expr string }

// describe splits table's columns into those the rows carry and those
// with a DEFAULT (filled by the view with their expression).
func describe(ctx context.Context, conn ch.Conn, table string) (cols, defaults []column, err error) {
	rows, err := conn.Query(ctx, "DESCRIBE TABLE "+table)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse: describe %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		// name, type, default_type, default_expression, and more on newer servers.
		vals := make([]any, len(rows.Columns()))
		strs := make([]string, len(vals))
		for i := range vals {
			vals[i] = &strs[i]
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, nil, fmt.Errorf("clickhouse: describe %s: %w", table, err)
		}
		c := column{name: strs[0], typ: strs[1], expr: strs[3]}
		if strs[2] != "" {
			defaults = append(defaults, c)
		} else {
			cols = append(cols, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("clickhouse: describe %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("clickhouse: %s has no columns", table)
	}
	return cols, defaults, nil
}

// peerSize runs one size: pct percent of each partition's records, into
// tables and a group of their own, named after name.
func peerSize(ctx context.Context, n *node, conn ch.Conn, db, tmpl, name string, pct int, ends map[int32]int64,
	cols, defaults []column, consumers int, meter cpuMeter) (peerRun, error) {
	run := peerRun{pct: pct}
	group := "bench-peer-" + name
	offsets := kadm.Offsets{}
	for p, end := range ends {
		start := end - end*int64(pct)/100
		offsets.Add(kadm.Offset{Topic: peerTopic, Partition: p, At: start, LeaderEpoch: -1})
		run.rows += int(end - start)
	}
	committed, err := n.e.adm.CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return run, fmt.Errorf("commit the start offsets of group %s: %w", group, err)
	}

	target := db + ".attempts_" + name
	queue := db + ".kafka_" + name
	view := db + ".mv_" + name
	defs := make([]string, len(cols))
	names := make([]string, 0, len(cols)+len(defaults))
	for i, c := range cols {
		defs[i] = c.name + " " + c.typ
		names = append(names, c.name)
	}
	for _, c := range defaults {
		names = append(names, c.expr+" AS "+c.name)
	}
	if err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s AS %s", target, tmpl)); err != nil {
		return run, fmt.Errorf("clickhouse: create %s: %w", target, err)
	}
	// Dropping the Kafka table stops its consumers; a table left behind
	// would poll a broker that is gone for as long as the server runs.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = conn.Exec(dctx, "DROP TABLE IF EXISTS "+view)
		_ = conn.Exec(dctx, "DROP TABLE IF EXISTS "+queue)
	}()

	// The Kafka table's consumers join the group as soon as it exists; the
	// view starts the reading. Joining first, all of them, matters: the
	// 18.16 engine commits after each block it inserts, so a member that
	// joins mid-read makes the group hand out partitions again and the
	// rows since the last commit are read twice.
	tj := time.Now()
	if err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (%s) ENGINE = Kafka SETTINGS
		kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
		kafka_format = 'JSONEachRow', kafka_num_consumers = %d`,
		queue, strings.Join(defs, ", "), n.e.conn.Brokers[0], peerTopic, group, consumers)); err != nil {
		return run, fmt.Errorf("clickhouse: create the Kafka table %s: %w", queue, err)
	}
	if err := awaitJoined(ctx, n.e.adm, group, consumers, len(ends)); err != nil {
		return run, err
	}
	run.join = time.Since(tj)
	cpu0, t0 := meter.now(), time.Now()
	if err := conn.Exec(ctx, fmt.Sprintf("CREATE MATERIALIZED VIEW %s TO %s AS SELECT %s FROM %s",
		view, target, strings.Join(names, ", "), queue)); err != nil {
		return run, fmt.Errorf("clickhouse: create the view %s: %w", view, err)
	}

	// Poll the row count until every row is in. No progress for a while
	// means the engine is stuck; the group's state says how far it got.
	const (
		every    = 20 * time.Millisecond
		noStart  = 90 * time.Second
		noChange = 45 * time.Second
	)
	var last uint64
	lastChange := t0
	for {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+target).Scan(&got); err != nil {
			return run, fmt.Errorf("clickhouse: count %s: %w", target, err)
		}
		now := time.Now()
		if got > 0 && run.first == 0 {
			run.first = now.Sub(t0)
		}
		if got != last {
			last, lastChange = got, now
			run.inserts++
		}
		if got >= uint64(run.rows) {
			run.took, run.cpu = now.Sub(t0), meter.now().since(cpu0)
			if got > uint64(run.rows) {
				return run, fmt.Errorf("%s holds %d rows, more than the %d the group was to read", target, got, run.rows)
			}
			return run, nil
		}
		limit := noChange
		if got == 0 {
			limit = noStart
		}
		if now.Sub(lastChange) > limit {
			return run, fmt.Errorf("the Kafka engine stalled: %s holds %d of %d rows, none added for %s; %s",
				target, got, run.rows, limit, groupState(ctx, n.e.adm, group))
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-time.After(every):
		}
	}
}

// awaitJoined waits until the group is stable with members consumers that
// were assigned all partitions between them.
func awaitJoined(ctx context.Context, adm *kadm.Client, group string, members, partitions int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		gs, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			g := gs[group]
			assigned := 0
			for _, m := range g.Members {
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						assigned += len(t.Partitions)
					}
				}
			}
			if g.State == "Stable" && len(g.Members) == members && assigned == partitions {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Kafka engine's %d consumers did not join within 60 s: %s", members, groupState(ctx, adm, group))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// groupState describes a consumer group from the broker's side: whether the
// engine's consumers joined, what they were assigned and what they committed.
func groupState(ctx context.Context, adm *kadm.Client, group string) string {
	var b strings.Builder
	gs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Sprintf("group %s: %v", group, err)
	}
	g := gs[group]
	fmt.Fprintf(&b, "group %s on the embedded broker: state %q, %d members", group, g.State, len(g.Members))
	if g.Err != nil {
		fmt.Fprintf(&b, " (%v)", g.Err)
	}
	for _, m := range g.Members {
		fmt.Fprintf(&b, "; member %s from %s", m.ClientID, m.ClientHost)
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				fmt.Fprintf(&b, " assigned %s%v", t.Topic, t.Partitions)
			}
		}
	}
	if offs, err := adm.FetchOffsets(ctx, group); err == nil {
		var parts []string
		offs.Each(func(o kadm.OffsetResponse) { parts = append(parts, fmt.Sprintf("%d@%d", o.Partition, o.At)) })
		sort.Strings(parts)
		fmt.Fprintf(&b, "; committed %s", strings.Join(parts, " "))
	}
	return b.String()
}

// checkPeerRows makes sure the JSON fields landed in their columns: the
// engine skips unknown fields, so a misnamed one would silently leave a
// column at its default.
func checkPeerRows(ctx context.Context, conn ch.Conn, table string, want int) error {
	var rows, noRecipient, noTime, noOffset uint64
	q := fmt.Sprintf(`SELECT count(), countIf(recipient = ''), countIf(occurred_at < toDateTime('2000-01-01 00:00:00', 'UTC')),
		uniqExact(src_offset) FROM %s`, table)
	if err := conn.QueryRow(ctx, q).Scan(&rows, &noRecipient, &noTime, &noOffset); err != nil {
		return fmt.Errorf("clickhouse: check %s: %w", table, err)
	}
	if rows != uint64(want) || noRecipient > 0 || noTime > 0 || noOffset != uint64(want) {
		return fmt.Errorf("%s: %d rows (want %d), %d without recipient, %d without time, %d distinct offsets: the JSON rows do not map to the columns",
			table, rows, want, noRecipient, noTime, noOffset)
	}
	return nil
}

// fitRate fits took = startup + rows/rate over the runs by least squares.
func fitRate(runs []peerRun) (rate float64, startup time.Duration) {
	if len(runs) < 2 {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for _, r := range runs {
		x, y := float64(r.rows), r.took.Seconds()
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	k := float64(len(runs))
	den := k*sxx - sx*sx
	if den == 0 {
		return 0, 0
	}
	slope := (k*sxy - sx*sy) / den // seconds per row
	if slope <= 0 {
		return 0, 0
	}
	icpt := (sy - slope*sx) / k
	return 1 / slope, time.Duration(icpt * float64(time.Second))
}
