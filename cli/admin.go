package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/topics"
)

func topicsCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("topics", io)
	verify := fs.Bool("verify", false, "only verify; create nothing")
	createInput := fs.Bool("create-input", true, "also create missing input topics")
	e, err := connect(ctx, fs, args, io)
	if err != nil {
		return err
	}
	defer e.close()
	tc := e.cfg.Kafka.Topics.WithDefaults()
	if !*verify {
		created, err := topics.Ensure(ctx, e.adm, tc, *createInput)
		for _, t := range created {
			fmt.Fprintf(io.Out, "created %s\n", t)
		}
		if err != nil {
			return err
		}
	} else if err := topics.Verify(ctx, e.adm, tc); err != nil {
		return err
	}
	for _, s := range tc.Specs() {
		parts := "any"
		if s.Partitions > 0 {
			parts = fmt.Sprint(s.Partitions)
		}
		fmt.Fprintf(io.Out, "ok  %-24s partitions=%-4s cleanup.policy=%-8s %s\n", s.Name, parts, orDash(s.Configs["cleanup.policy"]), s.Purpose)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func migrateCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("migrate", io)
	dropExpired := fs.Bool("drop-expired", false, "also drop the raw partitions older than clickhouse.retention (what `bounced run` does daily)")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	e := &env{cfg: cfg, log: cfg.Logger(os.Stderr)}
	if err := e.openClickHouse(ctx); err != nil {
		return err
	}
	defer e.close()
	versions, err := e.ch.AppliedMigrations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "clickhouse %s at %s, database %s: %d migrations applied %v\n",
		e.ch.ServerVersion(), cfg.ClickHouse.Addr, e.ch.Database(), len(versions), versions)
	if *dropExpired && cfg.ClickHouse.Retention > 0 {
		cutoff := time.Now().Add(-cfg.ClickHouse.Retention)
		dropped, err := e.ch.DropPartitionsBefore(ctx, cutoff)
		fmt.Fprintf(io.Out, "retention %s: dropped %d partitions sent before %s %v\n",
			cfg.ClickHouse.Retention, len(dropped), cutoff.UTC().Format(time.DateOnly), dropped)
		return err
	}
	return nil
}

func classifyCmd(ctx context.Context, io IO, args []string) error {
	fs := flags("classify", io)
	eval := fs.String("eval", "", "measure accuracy on a labelled TSV corpus (the format of shared/corpus/classification.tsv)")
	all := fs.Bool("all-rows", false, "with --eval: keep rows whose text gives the answer away (libsisimai.org/en/reason)")
	asJSON := fs.Bool("json", false, "with --eval: print the report as one JSON document (overall, by source, leave-one-source-out, confusion, wrong rows)")
	cfg, err := load(fs, args, io)
	if err != nil {
		return err
	}
	c, err := loadClassifier(cfg)
	if err != nil {
		return err
	}
	if *eval == "" && (*asJSON || *all) {
		return fmt.Errorf("%w: --json and --all-rows need --eval FILE", ErrUsage)
	}
	if *eval != "" {
		f, err := os.Open(*eval)
		if err != nil {
			return fmt.Errorf("open corpus: %w", err)
		}
		defer f.Close()
		var skip []func(classify.Row) bool
		if !*all {
			skip = append(skip, classify.SkipSynthetic)
		}
		rep, err := classify.Eval(c, f, skip...)
		if err != nil {
			return err
		}
		if *asJSON {
			return rep.WriteJSON(io.Out)
		}
		return rep.Write(io.Out)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s (classify reads JSON lines on standard input)", ErrUsage, strings.Join(fs.Args(), " "))
	}
	return classify.Stream(ctx, c, io.In, io.Out)
}
