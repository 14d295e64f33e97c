package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/suppressions"
	"github.com/bounced-dev/bounced/topics"
)

func suppressCmd(ctx context.Context, io IO, args []string) error {
	const use = "bounced suppress get ADDRESS | lift ADDRESS [--reason R] | lift --file FILE [--dry-run] [--skip-invalid] [--reason R] | add ADDRESS [--reason R] | release DOMAIN | discard DOMAIN | export [--format jsonl|csv] | sync --to postfix-access|csv|webhook TARGET ..."
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", ErrUsage, use)
	}
	sub := args[0]
	if sub == "sync" {
		return syncCmd(ctx, io, args[1:])
	}
	fs := flags("suppress "+sub, io)
	reason := fs.String("reason", "", "why (lift, add)")
	format := fs.String("format", "jsonl", "export format: jsonl or csv")
	file := fs.String("file", "", "lift: a file of addresses, one a line (# comments)")
	dry := fs.Bool("dry-run", false, "lift --file: print what would be lifted; write nothing")
	skipInvalid := fs.Bool("skip-invalid", false, "lift --file: lift the valid lines even when some are invalid")
	cfg, err := load(fs, args[1:], io)
	if err != nil {
		return err
	}
	var bulk *addressList
	if *file != "" || *dry || *skipInvalid {
		if sub != "lift" || *file == "" || fs.NArg() != 0 {
			return fmt.Errorf("%w: --file, --dry-run and --skip-invalid go with lift --file FILE and no ADDRESS: %s", ErrUsage, use)
		}
		// The file is checked before anything connects: a typo costs
		// no broker round trip.
		if bulk, err = readAddressFile(*file); err != nil {
			return err
		}
		if len(bulk.invalid) > 0 && !*skipInvalid {
			return fmt.Errorf("%s; nothing was lifted (fix the lines or pass --skip-invalid)", bulk.describeInvalid(*file))
		}
	}
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	tc := e.cfg.Kafka.Topics.WithDefaults()
	view := suppressions.NewView(e.conn, tc.Suppressions, e.log)
	who := os.Getenv("USER")
	switch sub {
	case "get":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		norm, _, err := ingest.NormaliseAddress(fs.Arg(0))
		if err != nil {
			return err
		}
		if err := view.Load(ctx); err != nil {
			return err
		}
		rec, ok := view.Get(norm)
		if !ok {
			fmt.Fprintf(io.Out, "%s is not suppressed\n", norm)
			return nil
		}
		enc := json.NewEncoder(io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	case "lift", "add":
		if bulk != nil {
			return bulkLift(ctx, io, e, view, bulk, bulkLiftOptions{file: *file, reason: *reason, by: who, dry: *dry})
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		op := streak.OpLift
		if sub == "add" {
			op = streak.OpSuppress
		}
		w := e.conn.NewWriter()
		defer w.Close()
		norm, err := sendControl(ctx, w, tc.Attempts, op, fs.Arg(0), *reason, who, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(io.Out, "%s: %s queued; the member that owns the address applies it in order with its events\n", norm, sub)
		return nil
	case "release", "discard":
		// The incident guard's decision: every partition's owner gets
		// the command, in order with its events.
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: %s", ErrUsage, use)
		}
		// The domain is normalised as recipients' domains are.
		_, domain, err := ingest.NormaliseAddress("postmaster@" + strings.TrimPrefix(fs.Arg(0), "@"))
		if err != nil {
			return fmt.Errorf("domain %q: %w", fs.Arg(0), err)
		}
		op := streak.OpRelease
		if sub == "discard" {
			op = streak.OpDiscard
		}
		n, err := e.conn.Partitions(ctx, tc.Attempts)
		if err != nil {
			return err
		}
		msgs, err := topics.DomainMessages(tc.Attempts, n, streak.Control{Op: op, Domain: domain, Reason: *reason, By: who, At: time.Now().UTC()})
		if err != nil {
			return err
		}
		w := e.conn.NewPartitionWriter()
		defer w.Close()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("send %s for %s: %w", op, domain, err)
		}
		verb := "become enforced suppressions"
		if op == streak.OpDiscard {
			verb = "are dropped (their recipients start afresh)"
		}
		fmt.Fprintf(io.Out, "%s: %s queued to %d partitions; the held suppressions %s as each owner reaches it\n", domain, sub, len(msgs), verb)
		return nil
	case "export":
		if err := view.Load(ctx); err != nil {
			return err
		}
		return export(io, view, *format)
	}
	return fmt.Errorf("%w: unknown subcommand %q: %s", ErrUsage, sub, use)
}

func export(io IO, view *suppressions.View, format string) error {
	switch format {
	case "jsonl":
		enc := json.NewEncoder(io.Out)
		for _, r := range view.All() {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	case "csv":
		// The same columns and RFC 4180 quoting as suppress sync --to csv.
		if _, err := suppressions.CSV(io.Out, view.All()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: --format %q is not jsonl or csv", ErrUsage, format)
	}
	return nil
}

func replayCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("replay", io)
	reason := fs.String("reason", "", "only records refused for this reason (e.g. invalid_address)")
	dry := fs.Bool("dry-run", false, "list what would be re-sent")
	e, err := connect(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer e.close()
	tc := e.cfg.Kafka.Topics.WithDefaults()
	n, err := e.conn.Partitions(ctx, tc.DLQ)
	if err != nil {
		return err
	}
	w := e.conn.NewWriter()
	defer w.Close()
	// A dead letter written twice (by a version before the DLQ was read
	// back on replays) is replayed once: by its source position.
	sent, skipped, repeats := 0, 0, 0
	seen := map[string]bool{}
	for p := range n {
		// Scan gives key and value only; read headers with a Reader.
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.conn.Brokers, Dialer: e.conn.Dialer, Topic: tc.DLQ, Partition: p, MaxWait: 500 * time.Millisecond})
		end, err := e.conn.Scan(ctx, tc.DLQ, p, func(int64, []byte, []byte) error { return nil })
		if err != nil {
			r.Close()
			return err
		}
		for r.Offset() < end {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				return err
			}
			h := map[string]string{}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			if (*reason != "" && h[topics.HeaderReason] != *reason) || h[topics.HeaderTruncated] == "true" || h[topics.HeaderTopic] == "" {
				skipped++
				if m.Offset+1 >= end {
					break
				}
				continue
			}
			if pos := h[topics.HeaderTopic] + "/" + h[topics.HeaderPartition] + "/" + h[topics.HeaderOffset]; seen[pos] {
				repeats++
				if m.Offset+1 >= end {
					break
				}
				continue
			} else {
				seen[pos] = true
			}
			if *dry {
				fmt.Fprintf(io.Out, "%s/%s@%s %s: %s\n", h[topics.HeaderTopic], h[topics.HeaderPartition], h[topics.HeaderOffset], h[topics.HeaderReason], h[topics.HeaderError])
			} else if err := w.WriteMessages(ctx, kafka.Message{Topic: h[topics.HeaderTopic], Key: m.Key, Value: m.Value}); err != nil {
				r.Close()
				return err
			}
			sent++
			if m.Offset+1 >= end {
				break
			}
		}
		r.Close()
	}
	fmt.Fprintf(io.Out, "replayed %d records, skipped %d (other reasons or truncated) and %d repeats of a position already replayed\n", sent, skipped, repeats)
	return nil
}

// sendControl writes an operator command on one address to the attempts
// topic, keyed by the normalised address so that it reaches the stage-2
// worker that owns the address, after every event already queued for it.
// It returns the address as normalised.
func sendControl(ctx context.Context, w *kafka.Writer, attempts string, op streak.Op, address, reason, by string, now time.Time) (string, error) {
	norm, msg, err := controlMessage(attempts, op, address, reason, by, now)
	if err != nil {
		return "", err
	}
	if err := w.WriteMessages(ctx, msg); err != nil {
		return "", fmt.Errorf("send %s for %s: %w", op, norm, err)
	}
	return norm, nil
}

// controlMessage is sendControl's record, for callers that write many.
func controlMessage(attempts string, op streak.Op, address, reason, by string, now time.Time) (string, kafka.Message, error) {
	norm, _, err := ingest.NormaliseAddress(address)
	if err != nil {
		return "", kafka.Message{}, err
	}
	msg, err := topics.ControlMessage(attempts, streak.Control{Op: op, Address: norm, Reason: reason, By: by, At: now.UTC()})
	if err != nil {
		return "", kafka.Message{}, err
	}
	return norm, msg, nil
}

// addressList is a bulk command's file of addresses, read and normalised.
type addressList struct {
	addrs   []string      // normalised, each once, in file order
	invalid []invalidLine // lines that are not addresses
	repeats int           // lines naming an address already listed
}

// invalidLine is a line of an address file that is not an address.
type invalidLine struct {
	line int
	text string
	err  error
}

// readAddressFile reads one address a line. Blank lines and comments (a
// line starting with #, or # after white space: an address holds no
// unquoted white space) are skipped; every address is normalised as any
// other input is, so the file may use any spelling of it.
func readAddressFile(path string) (*addressList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	l := &addressList{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if i := strings.Index(text, "#"); i == 0 || (i > 0 && (text[i-1] == ' ' || text[i-1] == '\t')) {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		norm, _, err := ingest.NormaliseAddress(text)
		if err != nil {
			l.invalid = append(l.invalid, invalidLine{n, text, err})
			continue
		}
		if seen[norm] {
			l.repeats++
			continue
		}
		seen[norm] = true
		l.addrs = append(l.addrs, norm)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--file %s: %w", path, err)
	}
	return l, nil
}

// describeInvalid lists the invalid lines (the first 20) with their numbers.
func (l *addressList) describeInvalid(path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--file %s: %d invalid lines:", path, len(l.invalid))
	for i, x := range l.invalid {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(l.invalid)-i)
			break
		}
		fmt.Fprintf(&b, "\n  line %d: %q: %v", x.line, x.text, x.err)
	}
	return b.String()
}

type bulkLiftOptions struct {
	file, reason, by string
	dry              bool
}

// bulkLift lifts every listed address the list holds (suppressed or held)
// with the same command as `lift ADDRESS`; addresses not in the list are
// reported and left alone (a lift would reset their streaks). A dry run
// writes nothing.
func bulkLift(ctx context.Context, io IO, e *env, view *suppressions.View, l *addressList, o bulkLiftOptions) error {
	start := time.Now()
	if err := view.Load(ctx); err != nil {
		return err
	}
	var lift, absent []string
	for _, a := range l.addrs {
		if _, ok := view.Get(a); ok {
			lift = append(lift, a)
		} else {
			absent = append(absent, a)
		}
	}
	notes := fmt.Sprintf("%d not suppressed (left alone)", len(absent))
	if len(l.invalid) > 0 {
		notes += fmt.Sprintf(", %d invalid lines skipped", len(l.invalid))
		fmt.Fprintln(io.Err, l.describeInvalid(o.file))
	}
	if l.repeats > 0 {
		notes += fmt.Sprintf(", %d repeated lines", l.repeats)
	}
	if o.dry {
		for _, a := range lift {
			r, _ := view.Get(a)
			fmt.Fprintf(io.Out, "would lift %s (%s %s/%s since %s)\n", a, r.Status, r.Class, r.Label, r.Since.UTC().Format(time.DateOnly))
		}
		for _, a := range absent {
			fmt.Fprintf(io.Out, "not suppressed: %s\n", a)
		}
		fmt.Fprintf(io.Out, "dry run: %d would be lifted, %s; nothing written\n", len(lift), notes)
		return nil
	}
	reason := o.reason
	if reason == "" {
		reason = "bulk lift from " + filepath.Base(o.file)
	}
	tc := e.cfg.Kafka.Topics.WithDefaults()
	w := e.conn.NewWriter()
	defer w.Close()
	const batch = 1000
	now := time.Now()
	for i := 0; i < len(lift); i += batch {
		msgs := make([]kafka.Message, 0, batch)
		for _, a := range lift[i:min(i+batch, len(lift))] {
			_, m, err := controlMessage(tc.Attempts, streak.OpLift, a, reason, o.by, now)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("send lifts %d..%d of %d (the earlier ones are queued; running the same command again is harmless): %w",
				i+1, i+len(msgs), len(lift), err)
		}
		if done := i + len(msgs); done < len(lift) && done%(20*batch) == 0 {
			fmt.Fprintf(io.Err, "queued %d of %d lifts (%s)\n", done, len(lift), time.Since(start).Round(100*time.Millisecond))
		}
	}
	fmt.Fprintf(io.Out, "lifted %d addresses (queued in %s), %s; the members that own them apply the lifts in order with their events\n",
		len(lift), time.Since(start).Round(100*time.Millisecond), notes)
	return nil
}

// syncCmd keeps a copy of the suppression list where platforms that do not
// read Kafka can use it: a Postfix access table, a CSV file or a webhook.
// It follows the topic until SIGTERM (then writes what it has read and
// exits 0), or with --once writes the current list and exits (for cron).
func syncCmd(ctx context.Context, io IO, args []string) error {
	const use = "bounced suppress sync --to postfix-access FILE [--postmap CMD] | --to csv FILE [--hook CMD] [--include-held] | --to webhook URL --secret-file F [--state FILE] [--from-now] [--tries N]; each takes --once"
	fs := flags("suppress sync", io)
	to := fs.String("to", "", "where to: postfix-access (FILE), csv (FILE) or webhook (URL)")
	hook := fs.String("hook", "", "shell command run after each write of FILE")
	postmap := fs.String("postmap", "", `postfix-access: the command that rebuilds the map after each write, e.g. "postmap hash:/etc/postfix/bounced-suppressed"`)
	includeHeld := fs.Bool("include-held", false, "csv: also write held suppressions (the incident guard's, not enforced)")
	secretFile := fs.String("secret-file", "", "webhook: file holding the HMAC secret deliveries are signed with")
	state := fs.String("state", "", "webhook: file keeping the topic positions delivered (default under data_dir/suppress-sync, named for the URL)")
	fromNow := fs.Bool("from-now", false, "webhook: on a first run send only changes from now on, not the current list")
	tries := fs.Int("tries", 10, "webhook: tries of one delivery before the sync stops with an error")
	once := fs.Bool("once", false, "write the current list and exit (for cron) instead of following changes")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one TARGET after the flags: %s", ErrUsage, use)
	}
	target := fs.Arg(0)
	var run func(ctx context.Context, e *env) error
	switch *to {
	case "postfix-access", "csv":
		if *secretFile != "" || *state != "" || *fromNow {
			return fmt.Errorf("%w: --secret-file, --state and --from-now are for --to webhook: %s", ErrUsage, use)
		}
		fc := suppressions.FileConfig{Path: target, Format: suppressions.CSV, Hook: *hook, IncludeHeld: *includeHeld}
		if *to == "postfix-access" {
			if *includeHeld {
				return fmt.Errorf("%w: --include-held: a Postfix map enforces every line; held suppressions are not enforced yet", ErrUsage)
			}
			if *hook != "" && *postmap != "" {
				return fmt.Errorf("%w: give --postmap or --hook, not both", ErrUsage)
			}
			fc.Format = suppressions.Postfix
			if *postmap != "" {
				fc.Hook = *postmap
			}
		} else if *postmap != "" {
			return fmt.Errorf("%w: --postmap is for --to postfix-access; use --hook", ErrUsage)
		}
		run, err = fileSync(io, fc, *once)
	case "webhook":
		run, err = webhookSync(io, cfg.DataDir, target, *secretFile, *state, *tries, *fromNow, *once)
	case "":
		return fmt.Errorf("%w: --to is required: %s", ErrUsage, use)
	default:
		return fmt.Errorf("%w: --to %q: want postfix-access, csv or webhook", ErrUsage, *to)
	}
	if err != nil {
		return err
	}
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	return run(ctx, e)
}

// fileSync checks the file can be written and returns the sync's run.
func fileSync(io IO, fc suppressions.FileConfig, once bool) (func(context.Context, *env) error, error) {
	start := time.Now()
	first := true
	fc.Wrote = func(w suppressions.Written) {
		took := w.Took
		if first {
			took, first = time.Since(start), false
		}
		skipped := ""
		if w.Skipped > 0 {
			skipped = fmt.Sprintf(", %d left out (not representable)", w.Skipped)
		}
		fmt.Fprintf(io.Out, "synced %d addresses to %s%s (%s)\n", w.Addresses, w.Path, skipped, took.Round(100*time.Millisecond))
	}
	// Checked now, before anything connects.
	if _, err := suppressions.NewFile(fc, nil); err != nil {
		return nil, err
	}
	return func(ctx context.Context, e *env) error {
		file, err := suppressions.NewFile(fc, e.log)
		if err != nil {
			return err
		}
		feed := suppressions.NewFeed(e.conn, e.cfg.Kafka.Topics.WithDefaults().Suppressions, e.log)
		if once {
			return feed.Run(ctx, suppressions.Start{}, file)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return feed.Run(gctx, suppressions.Start{Follow: true}, file) })
		g.Go(func() error { return file.Run(gctx) })
		return g.Wait()
	}, nil
}

// webhookSync checks the webhook's settings and returns the sync's run.
func webhookSync(io IO, dataDir, rawURL, secretFile, state string, tries int, fromNow, once bool) (func(context.Context, *env) error, error) {
	if secretFile == "" {
		return nil, fmt.Errorf("%w: --to webhook needs --secret-file F (the HMAC secret receivers verify deliveries with)", ErrUsage)
	}
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) == 0 {
		return nil, fmt.Errorf("--secret-file %s is empty; want the shared secret", secretFile)
	}
	if state == "" {
		state = suppressions.DefaultStatePath(dataDir, rawURL)
		if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
			return nil, fmt.Errorf("webhook state: %w", err)
		}
	}
	wc := suppressions.WebhookConfig{URL: rawURL, Secret: secret, StatePath: state, Tries: tries}
	if _, err := suppressions.NewWebhook(wc, nil); err != nil {
		return nil, err
	}
	return func(ctx context.Context, e *env) error {
		wc.Topic = e.cfg.Kafka.Topics.WithDefaults().Suppressions
		wh, err := suppressions.NewWebhook(wc, e.log)
		if err != nil {
			return err
		}
		from, err := wh.Resume()
		if err != nil {
			return err
		}
		how := "snapshot"
		switch {
		case from != nil:
			how = "resumed from " + state
		case fromNow:
			how = "from now"
		}
		start := time.Now()
		h := &announced{Webhook: wh, done: func() {
			fmt.Fprintf(io.Out, "sent %d changes to %s (%s, %s)\n", wh.Sent(), rawURL, how, time.Since(start).Round(100*time.Millisecond))
		}}
		progress := time.NewTicker(10 * time.Second)
		defer progress.Stop()
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			for {
				select {
				case <-pctx.Done():
					return
				case <-progress.C:
					e.log.Info("suppression sync: webhook progress", "url", rawURL, "sent", wh.Sent())
				}
			}
		}()
		runErr := suppressions.NewFeed(e.conn, wc.Topic, e.log).Run(ctx, suppressions.Start{From: from, FromNow: fromNow, Follow: !once}, h)
		// What was delivered is kept, whatever stopped the sync.
		if err := wh.Save(); err != nil && runErr == nil {
			runErr = err
		}
		if runErr != nil {
			return fmt.Errorf("%w (positions saved in %s; a restart resumes there)", runErr, state)
		}
		return nil
	}, nil
}

// announced is a Webhook that prints a line once it has caught up.
type announced struct {
	*suppressions.Webhook
	done func()
}

func (a *announced) CaughtUp(ctx context.Context) error {
	if err := a.Webhook.CaughtUp(ctx); err != nil {
		return err
	}
	a.done()
	return nil
}
