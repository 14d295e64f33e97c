// Command dsnexpect turns the bounce mails that scripts/mta-bounces captured
// at the end of an MTA's pipe, and the sink's journal of the same run, into
// the expectations (smtpsink.DSNExpectation, one JSON line per reported
// recipient) that the mail decoder's tests check against. It is a helper of
// scripts/mta-bounces, not part of bounced.
//
//	dsnexpect -journal sink.jsonl 001.eml 002.eml ... > expected.jsonl
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bounced-dev/bounced/internal/smtpsink"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dsnexpect:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dsnexpect", flag.ContinueOnError)
	journalPath := fs.String("journal", "", "the sink's journal of the run (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *journalPath == "" || fs.NArg() == 0 {
		return errors.New("want -journal FILE and one or more captured .eml files")
	}
	jf, err := os.Open(*journalPath)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer jf.Close()
	var mails []smtpsink.CapturedMail
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read captured mail: %w", err)
		}
		mails = append(mails, smtpsink.CapturedMail{Name: filepath.Base(p), Data: b})
	}
	xs, err := smtpsink.ExpectDSN(jf, mails)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, x := range xs {
		if err := enc.Encode(x); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}
