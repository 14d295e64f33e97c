package suppressions

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/bounced-dev/bounced/processor/event"
)

// Postfix renders the list as a Postfix access(5) table, one line per
// address:
//
//	user@example.com REJECT suppressed by bounced: hard/mailbox_unknown since 2026-06-01
//
// It is meant for the outbound side: the submission service or relay that
// the sending platform hands mail to, as
//
//	smtpd_recipient_restrictions = check_recipient_access hash:/etc/postfix/bounced-suppressed, ...
//
// so that the platform's RCPT TO for a suppressed address is refused at
// once (with access_map_reject_code, 554 by default, and the text), and it
// marks the recipient failed instead of queueing a message bounced already
// decided against. The text is short, ASCII and fixed in shape; the
// record's free-text reason stays in the list, not in SMTP replies.
//
// An address a table key cannot hold (white space or a control character,
// as in a quoted local part, or a leading '#', which postmap reads as a
// comment) is left out and counted; Postfix would otherwise mis-read the
// line.
func Postfix(w io.Writer, recs []event.Suppression) (int, error) {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# bounced suppression list (Postfix access table); written by `bounced suppress sync`, do not edit")
	n := 0
	for _, r := range recs {
		if !postfixKey(r.Address) {
			continue
		}
		text := "suppressed by bounced: " + postfixWord(string(r.Class)) + "/" + postfixWord(string(r.Label))
		if !r.Since.IsZero() {
			text += " since " + r.Since.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(bw, "%s REJECT %s\n", r.Address, text)
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, err
	}
	return n, nil
}

// postfixKey reports whether address can be a key of an access table line.
func postfixKey(address string) bool {
	if address == "" || address[0] == '#' {
		return false
	}
	for _, c := range address {
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// postfixWord keeps an SMTP reply's text to printable ASCII without spaces.
func postfixWord(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(c rune) rune {
		if c <= ' ' || c > '~' {
			return '_'
		}
		return c
	}, s)
}
