// Package reply parses SMTP replies (RFC 5321 §4.2) and RFC 3463 enhanced
// status codes: the reply code, the enhanced code and the text of one reply
// line or of a whole multi-line reply, and the codes a free-text diagnostic
// carries. Every input adapter and the classifier read replies through it,
// so a reply means the same thing whichever source it came from.
//
// Sources pass replies on in three shapes, and each has its reader: an MTA
// logs the server's lines as they came (Parse, Line), an ESP rewrites them
// into a diagnostic of its own (ParseDiagnostic), and Postfix joins the
// lines of a multi-line reply into one (ParseFlat). Where the readers
// disagree it is because the sources do; the grammar underneath (Code,
// CutEnhanced, ScanEnhanced) is one.
//
// Find, ScanEnhanced and Continuation run on every classification: they do
// not allocate.
package reply

import (
	"cmp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reply is an SMTP reply taken apart. Code is 0 and Enhanced "" when the
// text carries none.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

// Code returns the reply code s starts with, or 0: three digits, the first
// 2 to 5, then a space, the dash of a continuation line or the end of s.
// Any second digit is taken, since an MTA logs what the server sent and a
// 571 still says the server refused; whether RFC 5321 allows the code is
// ValidCode's question.
func Code(s string) int {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) || len(s) > 3 && s[3] != ' ' && s[3] != '-' {
		return 0
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
}

// ValidCode reports whether code is one RFC 5321 §4.2.1 allows: 2xx to 5xx
// with a second digit of 0 to 5. Sources that mix pseudo-codes of their own
// with the server's replies (Mailgun's 498 "No MX") need the check.
func ValidCode(code int) bool {
	return code >= 200 && code <= 599 && code/10%10 <= 5
}

// Status is an RFC 3463 enhanced status code as numbers (class, subject,
// detail), for comparing components, as a rule's "5.7.*" does, without
// building strings. The zero Status stands for no code: no class is 0.
type Status [3]int16

// Valid reports whether s holds a code; ScanEnhanced and Find return the
// zero Status when they find none.
func (s Status) Valid() bool { return s[0] != 0 }

// String formats s as "5.1.1", or "" for the zero Status.
func (s Status) String() string {
	if !s.Valid() {
		return ""
	}
	return strconv.Itoa(int(s[0])) + "." + strconv.Itoa(int(s[1])) + "." + strconv.Itoa(int(s[2]))
}

// ScanEnhanced reads the enhanced status code s starts with and returns it
// and its length, or the zero Status and 0: class 2, 4 or 5, then subject
// and detail of one to three digits each. What may follow is the caller's
// rule, but never a fourth digit: "5.1.1000" is a number, not a code.
func ScanEnhanced(s string) (Status, int) { return scanEnhanced(s, 0) }

// scanEnhanced is ScanEnhanced at s[i:]. Find calls it for every candidate
// in a text, and an index is cheaper there than a new string per call.
func scanEnhanced(s string, i int) (Status, int) {
	var e Status
	j := i
	if j >= len(s) || (s[j] != '2' && s[j] != '4' && s[j] != '5') {
		return Status{}, 0
	}
	e[0] = int16(s[j] - '0')
	j++
	for k := 1; k < 3; k++ {
		if j >= len(s) || s[j] != '.' {
			return Status{}, 0
		}
		j++
		start := j
		var n int16
		for j < len(s) && isDigit(s[j]) && j-start < 3 {
			n = n*10 + int16(s[j]-'0')
			j++
		}
		if j == start || (j < len(s) && isDigit(s[j])) {
			return Status{}, 0
		}
		e[k] = n
	}
	return e, j - i
}

// ValidEnhanced reports whether s is an enhanced status code and nothing
// else, as a source's separate status field should be.
func ValidEnhanced(s string) bool {
	_, n := ScanEnhanced(s)
	return n > 0 && n == len(s)
}

// CutEnhanced cuts the enhanced status code s starts with. In a reply the
// code is a word of its own (RFC 2034 puts a space after it), so ok is
// false, and rest is s, unless the code is followed by a space or ends s;
// rest is what follows that one space, the server's spacing kept.
func CutEnhanced(s string) (enhanced, rest string, ok bool) {
	_, n := ScanEnhanced(s)
	switch {
	case n == 0:
		return "", s, false
	case n == len(s):
		return s, "", true
	case s[n] != ' ':
		return "", s, false
	}
	return s[:n], s[n+1:], true
}

// CutType drops the RFC 3464 diagnostic type a Diagnostic-Code starts with
// ("smtp; 550 …", "X-Postfix; …"): it says how to read the rest, not what
// the server said. ok is false, and rest is s, when s has none.
func CutType(s string) (rest string, ok bool) {
	i := strings.IndexByte(s, ';')
	if i <= 0 || i > 16 || !isAtom(s[:i]) {
		return s, false
	}
	return strings.TrimSpace(s[i+1:]), true
}

// isAtom reports whether s can be a diagnostic type such as "smtp",
// "x-postfix" or "X-Unix", rather than prose that happens to hold a ';'.
func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// A reading is how a source passes the server's reply on. The fields are
// where sources differ; the grammar underneath is the same.
type reading struct {
	// rfc takes only the codes RFC 5321 allows: an ESP mixes in
	// pseudo-codes of its own (Mailgun's 498 "No MX", formats.md §8.6), an
	// MTA logs none.
	rfc bool
	// sameClass takes an enhanced code only when its class is the reply
	// code's; a mismatch such as "550 4.4.7" stays in the text, where the
	// rules still see it, instead of becoming the status.
	sameClass bool
	// bare takes an enhanced code at the start of a line that has no reply
	// code: Mailgun writes "5.1.1 The email account …" on every line.
	bare bool
	// anyLine takes the first code and the first enhanced code on whichever
	// line they stand: ESPs put prose of their own before the reply.
	anyLine bool
	// trim drops the spaces after an enhanced code. Without it the text
	// keeps the server's spacing, as the MTA logged it.
	trim bool
}

var (
	// logged is a reply as an MTA logged it, line by line as the server
	// sent it.
	logged = reading{sameClass: true}
	// provider is a reply as an ESP renders it in its events (SES,
	// SendGrid, Mailgun, Postmark).
	provider = reading{rfc: true, bare: true, anyLine: true, trim: true}
)

// Line splits one reply line, "550-5.1.1 text" or "550 text", into its
// code, enhanced code and text. A line that does not start with a reply
// code is all text. The enhanced code counts only with the class of the
// reply code, and the text is what follows its one space: a line as an
// MTA logged it.
func Line(s string) (code int, enhanced, text string) { return line(s, logged) }

func line(s string, rd reading) (int, string, string) {
	code := Code(s)
	if rd.rfc && !ValidCode(code) {
		code = 0
	}
	rest := s
	switch {
	case code != 0:
		rest = strings.TrimLeft(s[min(len(s), 4):], " ")
	case !rd.bare:
		return 0, "", s
	}
	enh, after, ok := CutEnhanced(rest)
	if !ok || rd.sameClass && enh[0] != s[0] {
		return code, "", rest
	}
	if rd.trim {
		after = strings.TrimLeft(after, " ")
	}
	return code, enh, after
}

// Parse reads a possibly multi-line reply as an MTA logged it:
// "550-5.1.1 first\n550 5.1.1 second" is 550, "5.1.1", "first second". The
// code and the enhanced code are the first line's; every line loses its own
// prefix, whatever its code, and the lines are joined by one space, so a
// phrase the server wrapped over two lines still reads whole. A text whose
// first line has no reply code is not a reply: Code is 0 and the text is
// its lines joined as they are.
func Parse(s string) Reply { return parse(s, logged) }

// ParseDiagnostic reads a reply as an ESP passes it on in a diagnostic
// (SES and Postmark "smtp; 550 5.1.1 …", SendGrid "550 5.1.1 …", Mailgun
// "5.1.1 … Please try\n5.1.1 double-checking"): the diagnostic type is
// dropped, a line may carry an enhanced code without a reply code, the
// first code and the first enhanced code on any line win, only codes RFC
// 5321 allows count, and an enhanced code of another class than the reply
// code is still taken.
func ParseDiagnostic(s string) Reply {
	s = strings.TrimSpace(s)
	if rest, ok := CutType(s); ok {
		s = rest
	}
	return parse(s, provider)
}

func parse(s string, rd reading) Reply {
	var r Reply
	var b strings.Builder
	first, prose := true, false
	for ln := range strings.SplitSeq(s, "\n") {
		ln = strings.TrimSpace(ln)
		code, enh, text := 0, "", ln
		if !prose {
			code, enh, text = line(ln, rd)
		}
		switch {
		case rd.anyLine:
			r.Code, r.Enhanced = cmp.Or(r.Code, code), cmp.Or(r.Enhanced, enh)
		case first && code == 0:
			prose = true
		case first:
			r.Code, r.Enhanced = code, enh
		}
		first = false
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(text)
	}
	r.Text = b.String()
	return r
}

// ParseFlat reads a multi-line reply whose lines were joined by spaces,
// each keeping its prefix, as Postfix logs them: "550-5.7.1 line one
// 550-5.7.1 line two 550 5.7.1 last". The text drops the repeated prefixes
// so rules see the server's sentence. The enhanced code is taken from right
// after the code's separator, whatever its class; a text that does not
// start with a reply code is all text.
func ParseFlat(s string) Reply {
	s = strings.TrimSpace(s)
	code := Code(s)
	if code == 0 {
		return Reply{Text: s}
	}
	rest := ""
	if len(s) > 3 {
		rest = s[4:]
	}
	enh, after, ok := CutEnhanced(rest)
	if ok {
		rest = after
	}
	if len(s) > 3 && s[3] == '-' {
		rest = stripContinuations(rest, s[:3], enh)
	}
	return Reply{Code: code, Enhanced: enh, Text: strings.TrimSpace(rest)}
}

// stripContinuations removes the "550-5.7.1 " (and the last line's
// "550 5.7.1 ") prefixes that start each joined line of a flattened reply.
// Only prefixes with the reply's own code at a word start are removed; with
// no enhanced code, a bare "550 " is removed only as the last line's
// prefix, since "550 " could be prose.
func stripContinuations(s, code, enh string) string {
	var b strings.Builder
	b.Grow(len(s))
	// Without an enhanced code, the last line's "code " prefix is the first
	// one after the last "code-" prefix: later ones are prose.
	last := -1
	if enh == "" {
		from := 0
		for i := 0; i+4 <= len(s); i++ {
			if (i == 0 || s[i-1] == ' ') && s[i:i+3] == code && s[i+3] == '-' {
				from = i + 4
			}
		}
		for i := from; i+4 <= len(s); i++ {
			if (i == 0 || s[i-1] == ' ') && s[i:i+3] == code && s[i+3] == ' ' {
				last = i
				break
			}
		}
	}
	i := 0
	for i < len(s) {
		if (i == 0 || s[i-1] == ' ') && strings.HasPrefix(s[i:], code) && i+3 < len(s) {
			sep := s[i+3]
			skip := 0
			switch {
			case sep == '-' || (sep == ' ' && enh != ""):
				e, after, _ := CutEnhanced(s[i+4:])
				switch {
				case enh != "" && e == enh:
					skip = len(s) - i - len(after)
				case enh == "" && sep == '-':
					skip = 4
				}
			case sep == ' ' && i == last:
				skip = 4
			}
			if skip > 0 {
				i += skip
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// Find returns the reply code and the enhanced status code a free text
// carries: a DSN body, a diagnostic with prose around the reply. A code
// followed by an enhanced code of its class ("550 5.1.1", "550-5.1.1") is
// the best evidence and wins; otherwise the first standalone of each. Both
// count only as words of their own, not as parts of an address, a date or
// a version, and a lone 2xx does not count at all.
func Find(s string) (int, Status) {
	code := 0
	var enh Status
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.' || s[i-1] == '-' || s[i-1] == '_') {
			continue
		}
		if i+3 <= len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && (i+3 == len(s) || codeEnd(s[i+3])) {
			n := int(c-'0')*100 + int(s[i+1]-'0')*10 + int(s[i+2]-'0')
			if i+4 < len(s) && (s[i+3] == ' ' || s[i+3] == '-') {
				if e, k := scanEnhanced(s, i+4); k > 0 && enhancedEnd(s, i+4+k) && e[0] == int16(c-'0') {
					return n, e
				}
			}
			// A lone 2xx in a failure text is more often an exit status or
			// a count than a reply ("X-Unix; 255"); only "250 2.x.x" counts.
			if code == 0 && c != '2' {
				code = n
			}
			continue
		}
		if !enh.Valid() {
			if e, k := scanEnhanced(s, i); k > 0 && enhancedEnd(s, i+k) {
				enh = e
			}
		}
	}
	return code, enh
}

// Continuation returns the length of the continuation prefix s starts with,
// "550-" or "550-5.7.1" before a space, or 0, so that a scanner can read a
// phrase the server wrapped over several lines as one. As in Find, only
// 2xx, 4xx and 5xx replies count.
func Continuation(s string) int {
	if len(s) < 4 || s[3] != '-' || !isDigit(s[1]) || !isDigit(s[2]) || (s[0] != '2' && s[0] != '4' && s[0] != '5') {
		return 0
	}
	k := 4
	if _, n := scanEnhanced(s, k); n > 0 && (k+n == len(s) || isSpace(s[k+n])) {
		k += n
	}
	return k
}

// codeEnd reports whether c may follow a reply code in free text.
func codeEnd(c byte) bool {
	switch c {
	case ' ', '-', ',', ')', ']', '\'', '"', ':', ';', '\t', '\n', '\r':
		return true
	}
	return false
}

// enhancedEnd reports whether an enhanced code in free text may end at
// s[j]: a sentence's full stop may follow it, a version's next digit may
// not.
func enhancedEnd(s string, j int) bool {
	if j >= len(s) {
		return true
	}
	if s[j] == '.' {
		return j+1 >= len(s) || !isDigit(s[j+1])
	}
	return !isAlnum(s[j])
}

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence:
// schema limits are in bytes, and a reply cut inside a rune would no longer
// be valid text. Bytes that are not UTF-8 count as runes of one byte.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := n
	for i > 0 && n-i < utf8.UTFMax-1 && !utf8.RuneStart(s[i]) {
		i--
	}
	if _, w := utf8.DecodeRuneInString(s[i:]); i+w > n {
		return s[:i]
	}
	return s[:n]
}

// Elide is Clip for untrusted text quoted in an error message: an ellipsis
// marks the cut, so the reader knows the value went on.
func Elide(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Clip(s, n) + "…"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
