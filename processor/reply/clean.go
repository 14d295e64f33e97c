package reply

import (
	"strings"
	"unicode/utf8"
)

// Placeholder is what Clean puts where it took a control character out: a
// visible mark, so a reader sees that the text held something, not a
// silent gap.
const Placeholder = "\uFFFD"

// Clean makes a reply text or diagnostic safe to store and show: nothing
// in it can move a terminal's cursor, change its colours, retitle its
// window or forge a log line. Postfix masks such bytes in what it logs;
// other sources pass on whatever the remote server sent.
//
//   - A line break (CR, LF or CRLF) becomes one space: multi-line replies
//     are joined that way everywhere else (Parse, ParseFlat, Postfix's own
//     log), and the classifier reads a space and a newline alike.
//   - An ANSI escape sequence (ESC [ … final byte, ESC ] … BEL or ESC \,
//     ESC and one more byte) becomes one Placeholder.
//   - Any other C0 control but tab, DEL and the C1 controls (U+0080 to
//     U+009F) become a Placeholder each.
//   - A byte that is not UTF-8 becomes a Placeholder: to a terminal that
//     reads 8-bit text, the byte 0x9B is a control sequence introducer.
//
// Everything else, tabs included, is kept as it is, and nothing is cut.
// Clean returns s itself, without allocating, when there is nothing to
// replace: the common case.
func Clean(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' || c == 0x7f {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*utf8.UTFMax)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteByte(' ')
			i++
		case c == 0x1b:
			b.WriteString(Placeholder)
			i += escapeLen(s[i:])
		case c < 0x20 && c != '\t' || c == 0x7f:
			b.WriteString(Placeholder)
			i++
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f {
				b.WriteString(Placeholder)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}

// escapeLen returns the length of the escape sequence s starts with
// (s[0] is ESC), as ECMA-48 delimits them: a CSI ("ESC [") runs to its
// final byte (0x40 to 0x7E); an OSC, DCS, SOS, PM or APC string
// ("ESC ]", "ESC P", "ESC X", "ESC ^", "ESC _") to BEL or ST ("ESC \");
// any other escape is ESC, its intermediate bytes (0x20 to 0x2F) and one
// final byte. A sequence cut short by the end of s, or broken by a byte
// that cannot be part of it, is only its ESC and the byte after it: what
// follows stays as text, so an unterminated string cannot swallow the rest
// of a diagnostic.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	if s[1] >= utf8.RuneSelf {
		return 1 // not an escape sequence: the rune after ESC is text
	}
	switch s[1] {
	case '[':
		j := 2
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f { // parameters and intermediates
			j++
		}
		if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
			return j + 1
		}
	case ']', 'P', 'X', '^', '_':
		for j := 2; j < len(s); j++ {
			switch {
			case s[j] == 0x07:
				return j + 1
			case s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\':
				return j + 2
			case s[j] < 0x20 && s[j] != '\t' || s[j] == 0x7f:
				return 2
			}
		}
	default:
		j := 1
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j < len(s) && s[j] >= 0x30 && s[j] <= 0x7e {
			return j + 1
		}
	}
	if s[1] < 0x20 || s[1] == 0x7f {
		return 1 // the control after ESC is replaced on its own
	}
	return 2
}
