package ingest

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/bounced-dev/bounced/processor/reply"
)

// Limits from RFC 5321 §4.5.3.1.
const (
	maxLocalPart = 64
	maxDomain    = 255
	maxAddress   = 320
)

// NormaliseAddress returns the suppression key of an address and its domain:
// the local part lower-cased, the domain lower-cased and IDNA-encoded to
// A-labels (UTS #46), angle brackets and a trailing dot removed. Providers
// treat local parts case-insensitively in practice, so two spellings of one
// mailbox share one streak.
func NormaliseAddress(addr string) (norm, domain string, err error) {
	a := strings.TrimSpace(addr)
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = a[1 : len(a)-1]
	}
	if a == "" {
		return "", "", errors.New("empty address")
	}
	if len(a) > maxAddress {
		return "", "", fmt.Errorf("address is %d bytes, longer than %d", len(a), maxAddress)
	}
	if !utf8.ValidString(a) {
		return "", "", errors.New("address is not valid UTF-8")
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", "", fmt.Errorf("address %q has no local part or no domain", clip(a))
	}
	local, dom := a[:at], a[at+1:]
	if err := checkLocal(local); err != nil {
		return "", "", fmt.Errorf("address %q: %w", clip(a), err)
	}
	dom = strings.TrimSuffix(dom, ".")
	if strings.HasPrefix(dom, "[") {
		return "", "", fmt.Errorf("address %q: address literals are not supported as recipients", clip(a))
	}
	ascii, err := idna.Lookup.ToASCII(dom)
	if err != nil {
		return "", "", fmt.Errorf("address %q: domain: %w", clip(a), err)
	}
	ascii = strings.ToLower(ascii)
	if err := checkDomain(ascii); err != nil {
		return "", "", fmt.Errorf("address %q: domain %q %w", clip(a), clip(ascii), err)
	}
	return strings.ToLower(local) + "@" + ascii, ascii, nil
}

// checkDomain wants a fully qualified host name in A-labels (RFC 1035
// §2.3.1 with RFC 3696 §2's rule that a TLD is not all digits); the IDNA
// lookup profile alone lets empty labels through.
func checkDomain(d string) error {
	if len(d) > maxDomain-2 {
		return errors.New("is longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("is not a fully qualified name")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("has an empty or over-long label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("has a label that starts or ends with '-'")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("has a character %q not allowed in a host name", c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("has an all-numeric top-level domain")
	}
	return nil
}

// checkLocal accepts dot-atoms and quoted strings (RFC 5321 §4.1.2), UTF-8
// included (RFC 6531), and refuses control characters anywhere: they are
// never part of a real mailbox and are how hostile input hides.
func checkLocal(l string) error {
	if len(l) > maxLocalPart {
		return fmt.Errorf("local part is %d bytes, longer than %d", len(l), maxLocalPart)
	}
	for _, r := range l {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("local part contains a control character")
		}
	}
	if l[0] == '"' {
		if len(l) < 2 || l[len(l)-1] != '"' {
			return errors.New("unterminated quoted local part")
		}
		return nil
	}
	if strings.ContainsAny(l, " \t\"(),:;<>@[\\]") {
		return errors.New("local part contains characters only allowed when quoted")
	}
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return errors.New("local part has a misplaced dot")
	}
	return nil
}

// clip keeps error messages short and printable whatever the input was.
func clip(s string) string { return clipTo(s, 80) }

func clipTo(s string, max int) string {
	return strings.ToValidUTF8(reply.Elide(s, max), "\uFFFD")
}
