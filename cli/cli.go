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
		"suppress": {"read and change the suppression list (get, lift, add, release, discard, export, sync)", suppressCmd},
		"replay":   {"re-send dead-lettered records to their source topic", replayCmd},
		"version":  {"print the version", versionCmd},
		"broker":   {"run the embedded Kafka broker alone (persisted under data_dir) for members and clients to share", brokerCmd},
		"report":   {"bounce rates and top reasons per campaign, domain or send hour, from ClickHouse", reportCmd},
		"history":  {"an address's timeline: its suppression, streak state and attempts, newest first", historyCmd},
		"intake":   {"receive ESP webhooks (SES/SNS, SendGrid, Mailgun, Postmark, Postal) with their signatures checked, into the input topic", intakeCmd},
		"mail":     {"produce one bounce mail or complaint report (RFC 5322, on stdin) to the input topic; for an MTA's pipe", mailCmd},

		"repartition": {"grow the attempts and state topics to --partitions N and move every recipient's state (pipeline stopped)", repartitionCmd},
	}
}

// ErrUsage marks a wrong command line; Main prints usage and exits 2.
var ErrUsage = errors.New("usage")

// Main runs bounced with args (without the program name) and returns the
// process exit code: 0, 1 for a failure, 2 for a wrong command line, or
// what the command asks for (bounced mail's sysexits).
func Main(ctx context.Context, args []string, io IO) int {
	root := newRoot(ctx, io)
	if len(args) == 0 {
		root.SetOut(io.Err)
		_ = root.Usage()
		return 2
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	name := "bounced"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath()
	}
	if cmd == root || cmd == nil || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(io.Err, "bounced: %v\nRun 'bounced --help' for the commands.\n", err)
		return 2
	}
	fmt.Fprintf(io.Err, "%s: %v\n", name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, ErrUsage) {
		return 2
	}
	return 1
}

// flags returns a flag set with the configuration flags the command uses;
// --help prints the command's help on standard output.
func flags(name string, io IO) *pflag.FlagSet {
	fs := pflag.NewFlagSet("bounced "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Err)
	config.Flags(fs, groupsFor(name))
	setUsage(fs, name, io)
	return fs
}

// load parses args and loads the configuration.
func load(fs *pflag.FlagSet, args []string, io IO) (*config.Config, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v (%s --help lists the flags)", ErrUsage, err, fs.Name())
	}
	environ := io.Environ
	if environ == nil {
		environ = os.Environ()
	}
	return config.Load(fs, environ)
}

func versionCmd(_ context.Context, io IO, args []string) error {
	fmt.Fprintln(io.Out, "bounced", versionString())
	return nil
}

// versionString is the module version and VCS revision from the build
// info: "v0.15.0" for a tagged module build, else the release this tree
// is ("0.15.0-dev"), with the revision, "-dirty" when the tree had changes,
// and the Go version.
func versionString() string {
	v := release + "-dev"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	// A tagged module build (go install …@v0.15.0) carries its version;
	// a build in a checkout gets "(devel)" or a v0.0.0 pseudo-version,
	// which says less than the release and the revision below.
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" && !strings.HasPrefix(mv, "v0.0.0-") {
		v = mv
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		v += " (" + rev + dirty + ")"
	}
	return v + " " + bi.GoVersion
}

// release is the version this tree is; CHANGELOG.md lists what each
// release changed.
const release = "0.15.0"
