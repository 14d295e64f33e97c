package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bounced-dev/bounced/config"
)

// helpInfo is what a command's help says beyond its one-line summary: the
// arguments it takes, examples, and the configuration flag groups it reads
// (so its help lists only the flags it uses).
type helpInfo struct {
	args    string
	long    string
	example string
	groups  config.FlagGroup
}

// subcommand is one verb of a command with verbs (suppress get, lift, …).
type subcommand struct {
	name, summary, args, example string
}

// commandHelp is keyed by command name; suppress's verbs are keyed
// "suppress <verb>".
var commandHelp = map[string]helpInfo{
	"run": {long: "Runs both stages (or one, with --pipeline.stage), the suppression view, the alert evaluator and the HTTP server\n" +
		"(metrics, health, the suppression and address API, the dashboard, and the webhook intake when intake.enabled).\n" +
		"Without kafka.brokers it embeds a Kafka broker. SIGTERM drains, flushes, commits and leaves the group.",
		example: "  bounced run\n  bounced run --kafka.brokers k1:9092,k2:9092 --clickhouse.addr ch:9000\n  bounced run --pipeline.stage ingest --config /etc/bounced/bounced.yaml",
		groups:  config.FlagsAll},
	"classify": {args: "[--eval FILE.tsv [--json]]",
		long:    "Reads JSON lines on standard input (a canonical event, or any subset with smtp.code, smtp.enhanced, smtp.text or\ndiagnostic) and writes one verdict per line: class, label, scope and rule.",
		example: "  echo '{\"smtp\":{\"code\":550,\"enhanced\":\"5.1.1\",\"text\":\"user unknown\"}}' | bounced classify\n  bounced classify --eval classification.tsv"},
	"decode": {args: "[--format NAME] [--allow-errors] [FILE]",
		long:    "Decodes raw records (log lines, webhook bodies, or one mail) into canonical events, as stage 1 would.",
		example: "  bounced decode < /var/log/mail.log\n  bounced decode --format pmta /var/log/pmta/acct.csv\n  bounced decode bounce.eml\n  bounced decode --attempts --count 10",
		groups:  config.FlagKafka},
	"demo":    {example: "  bounced demo\n  bounced demo --recipients 20000", groups: config.FlagClickHouse | config.FlagDataDir | config.FlagHTTP},
	"bench":   {args: "[--large] [--peer=false]", example: "  bounced bench\n  bounced bench --large", groups: config.FlagClickHouse | config.FlagDataDir},
	"topics":  {args: "[--verify]", example: "  bounced topics --kafka.brokers k1:9092\n  bounced topics --verify", groups: config.FlagKafka | config.FlagInput},
	"migrate": {args: "[--drop-expired]", example: "  bounced migrate --clickhouse.addr ch:9000", groups: config.FlagClickHouse},
	"suppress": {long: "Reads and changes the suppression list. Changes go through the attempts topic, so they are applied in order with the\naddress's events by whichever member owns it.",
		groups: config.FlagKafka},
	"replay":  {args: "[--reason R] [--dry-run]", example: "  bounced replay --reason invalid_address --dry-run", groups: config.FlagKafka},
	"broker":  {example: "  bounced broker\n  bounced run --kafka.brokers 127.0.0.1:19092", groups: config.FlagDataDir | config.FlagInput},
	"report":  {args: "[--by campaign|domain|hour|reason|disagreement] [--from T] [--to T] [--campaign C] [--domain D] [--format table|json|csv]", example: "  bounced report --by domain --from 7d\n  bounced report --by reason --campaign spring --format csv", groups: config.FlagClickHouse},
	"intake":  {example: "  bounced intake --http.addr 0.0.0.0:8080 --set intake.mailgun.signing_key=…", groups: config.FlagKafka | config.FlagInput | config.FlagHTTP},
	"mail":    {args: "< MESSAGE", example: "  bounced mail --config /etc/bounced/bounced.yaml < bounce.eml", groups: config.FlagKafka | config.FlagInput},
	"history": {args: "ADDRESS [--limit N] [--before CURSOR] [--format table|json]", example: "  bounced history jane@example.org", groups: config.FlagKafka | config.FlagClickHouse},
	"version": {},

	"repartition": {args: "--partitions N [--dry-run] [--force]",
		long:    "Grows bounced.attempts and bounced.state to N partitions and moves each recipient's state to the partition its\nattempts go to from then on. Run it with every member stopped and stage 2 drained (it checks); a stopped run is\nfinished by running it again. Then set kafka.partitions: N everywhere and start the members (docs/operations.md).",
		example: "  bounced repartition --partitions 12 --dry-run\n  bounced repartition --partitions 12 --kafka.brokers k1:9092",
		groups:  config.FlagKafka | config.FlagInput},
}

// suppressVerbs are the verbs of bounced suppress.
var suppressVerbs = []subcommand{
	{"get", "show an address's suppression record", "ADDRESS", "  bounced suppress get jane@example.org"},
	{"lift", "lift a suppression (a tombstone, and the address's state starts over)", "ADDRESS [--reason R] | --file FILE [--dry-run]", "  bounced suppress lift jane@example.org --reason 'asked by support'"},
	{"add", "suppress an address by hand", "ADDRESS [--reason R]", "  bounced suppress add jane@example.org --reason 'legal request'"},
	{"release", "enforce the suppressions the incident guard holds for a domain", "DOMAIN", "  bounced suppress release example.org"},
	{"discard", "drop the suppressions the incident guard holds for a domain", "DOMAIN", "  bounced suppress discard example.org"},
	{"export", "print the whole list", "[--format jsonl|csv]", "  bounced suppress export --format csv > suppressed.csv"},
	{"sync", "keep a Postfix access map, a CSV file or a webhook in step with the list", "--to postfix-access|csv|webhook TARGET", "  bounced suppress sync --to postfix-access /etc/postfix/suppressed --postmap 'postmap hash:/etc/postfix/suppressed'"},
}

// newRoot builds the command tree. Flags stay each command's own (parsed by
// its run function, with the configuration's precedence), so cobra only
// dispatches and prints help; DisableFlagParsing hands it the raw args.
func newRoot(ctx context.Context, io IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "bounced",
		Short:         "an event-streaming email bounce processor",
		Long:          "bounced reads delivery attempts from Kafka, classifies every failure, keeps a streak per recipient, publishes\nsuppressions to a compacted topic and writes rates to ClickHouse.\n\nEvery command takes --config FILE, the BOUNCED_* environment and --set key=value (see docs/configuration.md).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetVersionTemplate("bounced {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cmds[name]
		h := commandHelp[name]
		cc := &cobra.Command{
			Use:                strings.TrimSpace(name + " " + h.args),
			Short:              c.summary,
			Long:               strings.TrimSpace(c.summary + ".\n\n" + h.long),
			Example:            h.example,
			DisableFlagParsing: true,
			RunE:               func(_ *cobra.Command, args []string) error { return quietHelp(c.run(ctx, io, args)) },
		}
		if name == "suppress" {
			cc.RunE = nil
			cc.DisableFlagParsing = false
			for _, v := range suppressVerbs {
				verb := v.name
				cc.AddCommand(&cobra.Command{
					Use: verb + " " + v.args, Short: v.summary, Example: v.example, DisableFlagParsing: true,
					RunE: func(_ *cobra.Command, args []string) error {
						return quietHelp(c.run(ctx, io, append([]string{verb}, args...)))
					},
				})
			}
		}
		if cc.RunE != nil {
			// help and --help print the command's own flags: run parses
			// --help, prints its usage and stops before doing anything.
			run := c.run
			cc.SetHelpFunc(func(*cobra.Command, []string) { _ = run(ctx, io, []string{"--help"}) })
		}
		root.AddCommand(cc)
	}
	for _, sub := range root.Commands() {
		if sub.Name() != "suppress" {
			continue
		}
		for _, v := range sub.Commands() {
			verb, run := v.Name(), cmds["suppress"].run
			v.SetHelpFunc(func(*cobra.Command, []string) { _ = run(ctx, io, []string{verb, "--help"}) })
		}
	}
	return root
}

// usageFor is the text a command's --help prints above its flags.
func usageFor(name string) string {
	var b strings.Builder
	parent, verb, _ := strings.Cut(name, " ")
	cmd, ok := commands()[parent]
	h := commandHelp[parent]
	summary, args, example := cmd.summary, h.args, h.example
	if verb != "" {
		for _, v := range suppressVerbs {
			if v.name == verb {
				summary, args, example = v.summary, v.args, v.example
			}
		}
	}
	if !ok {
		return "Usage:\n  bounced " + name + " [flags]\n"
	}
	fmt.Fprintf(&b, "%s.\n", summary)
	if h.long != "" && verb == "" {
		fmt.Fprintf(&b, "\n%s\n", h.long)
	}
	if args != "" {
		args += " "
	}
	fmt.Fprintf(&b, "\nUsage:\n  bounced %s %s[flags]\n", name, args)
	if example != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", example)
	}
	return b.String()
}

// setUsage makes fs print the command's help on standard output for
// --help, -h and `bounced help CMD`.
func setUsage(fs *pflag.FlagSet, name string, io IO) {
	fs.Usage = func() {
		fmt.Fprint(io.Out, usageFor(name))
		fmt.Fprintf(io.Out, "\nFlags:\n%s", fs.FlagUsages())
		fmt.Fprintln(io.Out, "\nAny configuration key: --set key=value, BOUNCED_<KEY>, or --config FILE (docs/configuration.md).")
	}
}

// groupsFor is the flag groups of a command ("suppress get" uses
// suppress's).
func groupsFor(name string) config.FlagGroup {
	parent, _, _ := strings.Cut(name, " ")
	return commandHelp[parent].groups
}

// quietHelp turns the ErrHelp a command returns after printing its help
// into success: cobra would print the help a second time.
func quietHelp(err error) error {
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	return err
}
