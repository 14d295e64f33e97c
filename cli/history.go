package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/bounced-dev/bounced/api"
	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/bounced-dev/bounced/processor/streak"
	"github.com/bounced-dev/bounced/sinks/clickhouse"
	"github.com/bounced-dev/bounced/suppressions"
)

// historyCmd prints an address's timeline: its suppression record, its
// streak state, then its attempts newest first, a page at a time.
func historyCmd(ctx context.Context, io IO, args []string) error {
	const use = "bounced history ADDRESS [--limit N] [--before CURSOR] [--format table|json]"
	fs := flags("history", io)
	limit := fs.Int("limit", clickhouse.DefaultHistoryLimit, fmt.Sprintf("attempts per page (1-%d)", clickhouse.MaxHistoryLimit))
	before := fs.String("before", "", "the cursor a previous page printed (next): the page of older attempts")
	format := fs.String("format", "table", "table or json (the document GET /v1/addresses/{address} answers)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up when Kafka or ClickHouse has not answered by then")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: %s", ErrUsage, use)
	}
	norm, _, err := ingest.NormaliseAddress(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrUsage, fs.Arg(0), err)
	}
	if *limit < 1 || *limit > clickhouse.MaxHistoryLimit {
		return fmt.Errorf("%w: --limit %d: want 1-%d", ErrUsage, *limit, clickhouse.MaxHistoryLimit)
	}
	if err := clickhouse.CheckCursor(*before); err != nil {
		return fmt.Errorf("%w: --before: %v", ErrUsage, err)
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format %q: want table or json", ErrUsage, *format)
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	e, err := newEnv(ctx, cfg, io, dialEmbedded)
	if err != nil {
		return err
	}
	defer e.close()
	// Read-only: Open, never Migrate (a missing table is reported).
	if e.ch, err = clickhouse.Open(ctx, cfg.ClickHouse, e.log); err != nil {
		return err
	}
	tc := cfg.Kafka.Topics.WithDefaults()
	tl := timeline{ch: e.ch, conn: e.conn, topic: tc.State, log: e.log}
	doc := api.AddressHistory{Address: norm}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		doc.History, err = tl.History(gctx, norm, *limit, *before)
		return err
	})
	g.Go(func() error {
		// The whole list: one scan of the compacted topic, as `suppress get`.
		view := suppressions.NewView(e.conn, tc.Suppressions, e.log)
		if err := view.Load(gctx); err != nil {
			return fmt.Errorf("load the suppression list from %s: %w", tc.Suppressions, err)
		}
		if rec, ok := view.Get(norm); ok {
			doc.Suppression = &rec
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return writeHistory(io.Out, doc, *limit)
}

// timeline is api.Timeline over ClickHouse (attempts) and the state
// changelog (streak state).
type timeline struct {
	ch    *clickhouse.Client
	conn  *broker.Clients
	topic string // the state changelog, kafka.state_topic
	log   *slog.Logger
}

// History reads the state and the page of attempts side by side.
func (t timeline) History(ctx context.Context, address string, limit int, before string) (api.History, error) {
	var h api.History
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		p, err := t.ch.History(gctx, address, limit, before)
		h.Attempts, h.Next = p.Attempts, p.Next
		return err
	})
	g.Go(func() (err error) {
		h.State, h.StateNote, err = latestState(gctx, t.conn, t.topic, address, stateSearchBound)
		return err
	})
	return h, g.Wait()
}

// The state lookup reads the changelog backwards from its end in windows
// that double, from stateFirstWindow records up to stateSearchBound in all.
// A state is written each time its address has an event, so an active
// address's latest record is near the end. Cost: one ListOffsets and one
// Fetch per window (a window is at most a few MB: states are tens to
// hundreds of bytes); the records after the address's latest one are read
// and dropped. Compaction shrinks the tail it has reached, so the bound
// covers more addresses than it has records. An address last seen before
// the bound is reported as not found within it, not as absent.
const (
	stateFirstWindow = 2_000
	stateSearchBound = 200_000
)

// errStopScan ends a window's scan at its upper offset.
var errStopScan = errors.New("end of window")

// latestState finds the newest changelog record keyed address in its
// partition (murmur2 of the key, as attempts are partitioned), reading at
// most bound records back from the end. A nil state comes with a note that
// says how far it looked.
func latestState(ctx context.Context, conn *broker.Clients, topic, address string, bound int64) (*api.StreakState, string, error) {
	n, err := conn.Partitions(ctx, topic)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", api.ErrStateUnavailable, err)
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	key := []byte(address)
	p := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: key}, parts...)
	first, end, err := conn.Bounds(ctx, topic, p)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", api.ErrStateUnavailable, err)
	}
	hi, window, scanned := end, int64(stateFirstWindow), int64(0)
	for hi > first && scanned < bound {
		lo := max(first, hi-min(window, bound-scanned))
		hit, val := int64(-1), []byte(nil)
		_, err := conn.ScanFrom(ctx, topic, p, lo, func(off int64, k, v []byte) error {
			if off >= hi {
				return errStopScan
			}
			if bytes.Equal(k, key) {
				hit, val = off, v
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			if errors.Is(err, broker.ErrOutOfRange) { // the log was truncated meanwhile: what is left was read
				break
			}
			return nil, "", fmt.Errorf("%w: %w", api.ErrStateUnavailable, err)
		}
		scanned += hi - lo
		if hit >= 0 {
			if val == nil { // a tombstone: the state was deleted
				return nil, fmt.Sprintf("deleted at %s/%d@%d", topic, p, hit), nil
			}
			var st streak.State
			if err := st.UnmarshalBinary(val); err != nil {
				return nil, "", fmt.Errorf("state of %s at %s/%d@%d: %w", address, topic, p, hit, err)
			}
			return stateOf(p, hit, &st), "", nil
		}
		hi, window = lo, window*2
	}
	if hi <= first {
		return nil, fmt.Sprintf("none: never seen (all of %s/%d read)", topic, p), nil
	}
	return nil, fmt.Sprintf("not within the last %d records of %s/%d (offsets %d-%d); the address has had no event since", scanned, topic, p, hi, end), nil
}

// stateOf is what the history shows of a streak state.
func stateOf(partition int, offset int64, st *streak.State) *api.StreakState {
	s := &api.StreakState{Partition: partition, Offset: offset, SoftStreak: len(st.Streak), LastApplied: st.LastOff}
	if len(st.Streak) > 0 {
		at := time.Unix(0, st.Streak[0].At).UTC()
		s.WindowStart = &at
		for _, f := range st.Streak {
			s.Streak = append(s.Streak, f.Evidence)
		}
	}
	if st.LastDelivery != 0 {
		at := time.Unix(0, st.LastDelivery).UTC()
		s.LastDelivery = &at
	}
	if m := st.Mark; m != nil {
		s.Status, s.Class, s.Label = m.Status, m.Class, m.Label
		if !m.Since.IsZero() {
			since := m.Since.UTC()
			s.Since = &since
		}
		if !m.ExpiresAt.IsZero() {
			exp := m.ExpiresAt.UTC()
			s.ExpiresAt = &exp
		}
	}
	return s
}

// writeHistory prints doc for a terminal: the state block, then one line
// per attempt. Texts come from remote servers: control characters are
// replaced so that a reply cannot drive the terminal.
func writeHistory(w io.Writer, doc api.AddressHistory, limit int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address\t%s\n", doc.Address)
	if s := doc.Suppression; s != nil {
		fmt.Fprintf(tw, "suppression\t%s since %s: %s/%s, rule %s, source %s\n", s.Status, s.Since.UTC().Format(time.RFC3339),
			s.Class, s.Label, printable(s.Rule), s.Source)
		fmt.Fprintf(tw, "  reason\t%s\n", printable(s.Reason))
		if !s.ExpiresAt.IsZero() {
			fmt.Fprintf(tw, "  expires\t%s\n", s.ExpiresAt.UTC().Format(time.RFC3339))
		}
		for _, ev := range s.Evidence {
			fmt.Fprintf(tw, "  evidence\t%s %s %d %s %s\n", ev.At.UTC().Format(time.RFC3339), ev.Outcome, ev.Code, ev.Enhanced, printable(ev.Text))
		}
	} else {
		fmt.Fprintf(tw, "suppression\tnone\n")
	}
	if st := doc.State; st != nil {
		line := fmt.Sprintf("soft streak %d", st.SoftStreak)
		if st.WindowStart != nil {
			line += ", window from " + st.WindowStart.Format(time.RFC3339)
		}
		line += fmt.Sprintf("; last applied attempts offset %d (partition %d)", st.LastApplied, st.Partition)
		if st.LastDelivery != nil {
			line += "; last delivery " + st.LastDelivery.Format(time.RFC3339)
		}
		if st.Status != "" {
			line += fmt.Sprintf("; marked %s (%s/%s)", st.Status, st.Class, st.Label)
			if st.ExpiresAt != nil {
				line += ", expires " + st.ExpiresAt.Format(time.RFC3339)
			}
		}
		fmt.Fprintf(tw, "state\t%s\n", line)
	} else {
		fmt.Fprintf(tw, "state\t(none) %s\n", doc.StateNote)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(doc.Attempts) == 0 {
		_, err := fmt.Fprintln(w, "\nno attempts")
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OCCURRED_AT\tSENT_AT\tOUTCOME\tCODE\tENHANCED\tVERDICT\tRULE\tCAMPAIGN\tMESSAGE_ID\tSOURCE\tTEXT")
	for _, a := range doc.Attempts {
		verdict := "-"
		if a.Class != "" {
			verdict = a.Class + "/" + a.Label
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.OccurredAt.Format(time.RFC3339), a.SentAt.Format(time.RFC3339),
			a.Outcome, a.Code, dash(a.Enhanced), verdict, dash(printable(a.Rule)), dash(printable(a.Campaign)), dash(printable(a.MessageID)),
			printable(a.SourceKind+"/"+a.SourceHost), printable(a.Text))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if doc.Next != "" {
		_, err := fmt.Fprintf(w, "\nolder attempts: bounced history %s --limit %d --before %s\n", doc.Address, limit, doc.Next)
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable replaces control characters (escape sequences, tabs, line
// breaks) with spaces and cuts s to 200 runes.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
