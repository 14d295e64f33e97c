// Package cli is bounced's command line: one binary, subcommands that
// compose the packages below it. cmd/bounced only calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/config"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Environ  []string
}

type command struct {
	summary string
	run     func(ctx context.Context, io IO, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"run":      {"run the pipeline (both stages by default; --pipeline.stage ingest|decide)", runCmd},
		"classify": {"classify JSON lines from stdin; --eval FILE.tsv measures a labelled corpus", classifyCmd},
		"decode":   {"decode raw log lines or webhook bodies (stdin or FILE) into canonical events", decodeCmd},
		"demo":     {"generate a realistic stream, run the pipeline on it and report from ClickHouse", demoCmd},
		"bench":    {"measure end-to-end events/s against raw consume and insert rates", benchCmd},
		"topics":   {"create (when missing) and verify every Kafka topic", topicsCmd},
		"migrate":  {"apply the ClickHouse schema migrations", migrateCmd},
		"suppress": {"get|lift|add|export suppressions", suppressCmd},
		"replay":   {"re-send dead-lettered records to their source topic", replayCmd},
		"version":  {"print the version", versionCmd},
		"broker":   {"run the embedded Kafka broker alone (persisted under data_dir) for members and clients to share", brokerCmd},
		"report":   {"bounce rates and top reasons per campaign, domain or send hour, from ClickHouse", reportCmd},
		"intake":   {"receive ESP webhooks (SES/SNS, SendGrid, Mailgun, Postmark, Postal) with their signatures checked, into the input topic", intakeCmd},
		"mail":     {"produce one bounce mail or complaint report (RFC 5322, on stdin) to the input topic; for an MTA's pipe", mailCmd},
	}
}

// ErrUsage marks a wrong command line; Main prints usage and exits 2.
var ErrUsage = errors.New("usage")

// Main runs bounced with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, io IO) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.Err, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(io.Err, "bounced: unknown command %q\n\n", args[0])
		usage(io.Err, cmds)
		return 2
	}
	if err := c.run(ctx, io, args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(io.Err, "bounced %s: %v\n", args[0], err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		if errors.Is(err, ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "bounced: an event-streaming email bounce processor")
	fmt.Fprintln(w, "\nusage: bounced COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --config FILE, the BOUNCED_* environment and --set key=value; see README.md.")
}

// flags returns a flag set with the shared configuration flags.
func flags(name string, io IO) *pflag.FlagSet {
	fs := pflag.NewFlagSet("bounced "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Err)
	config.Flags(fs)
	return fs
}

// load parses args and loads the configuration.
func load(fs *pflag.FlagSet, args []string, io IO) (*config.Config, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	environ := io.Environ
	if environ == nil {
		environ = os.Environ()
	}
	return config.Load(fs, environ)
}

func versionCmd(_ context.Context, io IO, args []string) error {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
		v += " " + bi.GoVersion
	}
	fmt.Fprintln(io.Out, "bounced", strings.TrimSpace(v))
	return nil
}
