package ingest

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/bounced-dev/bounced/processor/reply"
)

// Limits from RFC 5321 §4.5.3.1.
const (
	maxLocalPart = 64
	maxDomain    = 255
	maxAddress   = 320
)

// NormaliseAddress returns the suppression key of an address and its domain.
// Every recipient, API lookup and operator command goes through it, so it
// decides which spellings are one mailbox: two inputs share a key only when
// they are the same after these steps, and nothing else ever merges them.
//
//   - Presentation is dropped: surrounding ASCII white space, one pair of
//     angle brackets, a trailing dot on the domain.
//   - The domain is IDNA-mapped to lower-case A-labels (UTS #46 lookup), as
//     resolvers see it: "Bücher.Example" is "xn--bcher-kva.example".
//   - The local part is put in Unicode NFC, so canonically equivalent
//     spellings (precomposed "é" and "e" + U+0301) are one key, and then only
//     the ASCII letters A-Z are lower-cased. Providers treat ASCII case as
//     insignificant in practice; nothing says a server folds any other case,
//     and full Unicode folding merges look-alikes with real mailboxes
//     ("BİLL" with U+0130 is not "bill", Greek "ΟΔΟΣ" is not "οδος",
//     fullwidth "ＫＡＴＥ" is not "kate"), so a bounce for one would
//     suppress the other. A quoted local part is lower-cased the same way
//     but stays quoted, escapes as written: `"a"@x` and `a@x` keep separate
//     keys (a missed merge, never a false one).
//
// It refuses, with an error saying what was wrong, what is not an RFC 5321 /
// RFC 6531 mailbox and what could hide one mailbox inside another's
// spelling: invalid UTF-8 and U+FFFD (the replacement character, the
// trace of an earlier decoding error); control, format (U+200B, U+202E, U+FEFF...),
// separator (U+2028, U+00A0...), private-use, unassigned and other invisible
// code points (variation selectors, Hangul fillers) anywhere in the address;
// a malformed quoted string; and the three code points that NFC turns into
// ASCII (U+212A KELVIN SIGN into "K", U+037E into ";", U+1FEF into "`"),
// because a "Kate" spelt with the Kelvin sign would otherwise become
// kate@ and suppress the real Kate.
func NormaliseAddress(addr string) (key, domain string, err error) {
	a := strings.Trim(addr, " \t\r\n")
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
	// U+FFFD is what a decoder writes where it could not read the bytes:
	// the address was damaged before it reached us, and the damaged
	// spelling must not become a key (or be merged with another damaged
	// one). Refused here too, so no decoder's leniency lets it through.
	if strings.ContainsRune(a, utf8.RuneError) {
		return "", "", fmt.Errorf("address %q holds U+FFFD, the replacement character: it was damaged (invalid UTF-8 or a lone surrogate read with a guess) before it reached bounced", clip(a))
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", "", fmt.Errorf("address %q has no local part or no domain", clip(a))
	}
	local, dom := a[:at], a[at+1:]
	local, err = normaliseLocal(local)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", clip(a), err)
	}
	dom = strings.TrimSuffix(dom, ".")
	if strings.HasPrefix(dom, "[") {
		return "", "", fmt.Errorf("address %q: address literals are not supported as recipients", clip(a))
	}
	// UTS #46 silently deletes some invisible code points (U+200B, U+00AD,
	// variation selectors), so they are refused before the mapping sees them.
	for _, r := range dom {
		if r >= utf8.RuneSelf || r < 0x20 || r == 0x7f {
			if err := checkRune(r); err != nil {
				return "", "", fmt.Errorf("address %q: domain contains %w", clip(a), err)
			}
		}
	}
	ascii, err := idna.Lookup.ToASCII(dom)
	if err != nil {
		return "", "", fmt.Errorf("address %q: domain: %w", clip(a), err)
	}
	ascii = strings.ToLower(ascii)
	if err := checkDomain(ascii); err != nil {
		return "", "", fmt.Errorf("address %q: domain %q %w", clip(a), clip(ascii), err)
	}
	return local + "@" + ascii, ascii, nil
}

// normaliseLocal checks a local part and returns its key form: NFC, then
// ASCII A-Z lower-cased, then NFC again, because a lower-case letter can
// compose with a following mark that its capital cannot ("J" + U+030C stays
// two code points, "j" + U+030C is U+01F0); the second pass keeps keys
// idempotent. The result is checked again: normalisation can lengthen a
// local part past 64 bytes or turn a quoted-pair into one that escapes a
// non-ASCII character, and a key must itself be a valid address.
func normaliseLocal(l string) (string, error) {
	if err := checkLocal(l); err != nil {
		return "", err
	}
	if isASCII(l) {
		return lowerASCII(l), nil
	}
	n := norm.NFC.String(lowerASCII(norm.NFC.String(l)))
	if err := checkLocal(n); err != nil {
		return "", fmt.Errorf("after Unicode normalisation (NFC): %w", err)
	}
	return n, nil
}

// checkLocal accepts a Dot-string or a Quoted-string (RFC 5321 §4.1.2),
// UTF-8 included (RFC 6531 §3.3), after refusing the code points checkRune
// refuses anywhere in it: they are never part of a real mailbox and are how
// hostile input hides.
func checkLocal(l string) error {
	if len(l) > maxLocalPart {
		return fmt.Errorf("local part is %d bytes, longer than %d", len(l), maxLocalPart)
	}
	for _, r := range l {
		if r == ' ' || r > ' ' && r < 0x7f {
			continue
		}
		if err := checkRune(r); err != nil {
			return fmt.Errorf("local part contains %w", err)
		}
		if r >= utf8.RuneSelf && nfcMakesASCII(r) {
			return fmt.Errorf("local part contains %U, which Unicode normalisation turns into the ASCII %q; write the ASCII character if that is what was meant", r, norm.NFC.String(string(r)))
		}
	}
	if l[0] == '"' {
		return checkQuoted(l)
	}
	return checkDotString(l)
}

// checkDotString wants Atom *("." Atom), atext being ASCII letters, digits,
// the RFC 5322 specials allowed in atoms, and (RFC 6531) any non-ASCII code
// point checkRune let through.
func checkDotString(l string) error {
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return errors.New("local part has a misplaced dot")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= utf8.RuneSelf, c == '.', isAtext(c):
		case c == '"':
			return errors.New("local part has a quote inside an unquoted local part; a quoted local part must be quoted as a whole, \"like this\"@example.com")
		default:
			return fmt.Errorf("local part contains %q, a character only allowed when quoted", c)
		}
	}
	return nil
}

// checkQuoted wants DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE (RFC 5321
// §4.1.2): qtextSMTP is printable ASCII but '"' and '\', plus space and
// (RFC 6531) non-ASCII; a quoted-pair is '\' and one printable ASCII
// character. Nothing may follow the closing quote.
func checkQuoted(l string) error {
	for i := 1; i < len(l); i++ {
		switch c := l[i]; c {
		case '\\':
			if i+1 >= len(l) {
				return errors.New("quoted local part is unterminated: it ends in a backslash")
			}
			if e := l[i+1]; e < ' ' || e > '~' {
				r, _ := utf8.DecodeRuneInString(l[i+1:])
				return fmt.Errorf("quoted local part has a backslash before %U; a backslash may only escape printable ASCII", r)
			}
			i++
		case '"':
			if i != len(l)-1 {
				return fmt.Errorf("quoted local part has %q after its closing quote; escape an inner quote as \\\"", clipTo(l[i+1:], 16))
			}
			return nil
		}
	}
	return errors.New("quoted local part is unterminated: it has no closing quote")
}

// checkRune refuses a code point outside printable ASCII that has no place in
// a mailbox name. Control (Cc), format (Cf: zero-width and bidirectional
// controls, byte order marks, soft hyphens), separator (Zs, Zl, Zp: no-break
// and ideographic spaces look like a space or nothing), private-use (Co:
// meaningless outside a private agreement) and unassigned (Cn) code points
// are all refused, as are the default-ignorable letters and marks (variation
// selectors, Hangul fillers, U+034F): they render as nothing, so two keys
// that differ only by them would look alike to everyone who reads them.
// Refusing unassigned code points also keeps keys stable: Unicode's
// normalisation stability policy only covers assigned characters, and one
// assigned later could compose or reorder differently. The Unicode edition
// is the one the norm tables were built from (TestUnicodeEditionsAgree).
func checkRune(r rune) error {
	switch {
	case unicode.Is(unicode.Cc, r):
		return fmt.Errorf("a control character %U", r)
	case unicode.Is(unicode.Cf, r):
		return fmt.Errorf("an invisible format character %U", r)
	case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
		return fmt.Errorf("a space or separator %U", r)
	case unicode.Is(unicode.Co, r):
		return fmt.Errorf("a private-use code point %U", r)
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		return fmt.Errorf("an unassigned code point %U", r)
	case unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point):
		return fmt.Errorf("an invisible character %U", r)
	}
	return nil
}

// nfcMakesASCII reports whether NFC replaces r by ASCII: only the canonical
// singletons U+037E, U+1FEF and U+212A do (TestNFCMakesASCII walks every
// code point).
func nfcMakesASCII(r rune) bool {
	var b [utf8.UTFMax]byte
	s := utf8.AppendRune(b[:0], r)
	if norm.NFC.IsNormal(s) {
		return false
	}
	for _, c := range norm.NFC.Bytes(s) {
		if c < utf8.RuneSelf {
			return true
		}
	}
	return false
}

// isAtext reports whether c may appear in an ASCII atom (RFC 5322 §3.2.3).
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII maps A-Z to a-z and leaves every other byte alone; unlike
// strings.ToLower it never touches a non-ASCII letter.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
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

// clip keeps error messages short and printable whatever the input was.
func clip(s string) string { return clipTo(s, 80) }

func clipTo(s string, max int) string {
	return strings.ToValidUTF8(reply.Elide(s, max), "\uFFFD")
}
