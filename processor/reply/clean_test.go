package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	const ph = Placeholder
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "550 5.1.1 user unknown", "550 5.1.1 user unknown"},
		{"empty", "", ""},
		{"tab kept", "550\t5.1.1\tx", "550\t5.1.1\tx"},
		{"UTF-8 kept", "Empfänger unbekannt — 用户不存在 😀", "Empfänger unbekannt — 用户不存在 😀"},
		{"U+FFFD kept", "a\uFFFDb", "a\uFFFDb"},
		{"LF joins lines", "550-5.1.1 first\n550 5.1.1 second", "550-5.1.1 first 550 5.1.1 second"},
		{"CRLF is one space", "a\r\nb", "a b"},
		{"lone CR", "a\rb", "a b"},
		{"NUL", "a\x00b", "a" + ph + "b"},
		{"bell and backspace", "a\x07\x08b", "a" + ph + ph + "b"},
		{"vertical tab and form feed", "a\x0b\x0cb", "a" + ph + ph + "b"},
		{"DEL", "a\x7fb", "a" + ph + "b"},
		{"C1 NEL", "a\u0085b", "a" + ph + "b"},
		{"C1 CSI", "a\u009b31mb", "a" + ph + "31mb"},
		{"raw 0x9b byte", "a\x9b31mb", "a" + ph + "31mb"},
		{"invalid UTF-8", "caf\xe9 \xff", "caf" + ph + " " + ph},
		{"SGR colour", "\x1b[31mred\x1b[0m text", ph + "red" + ph + " text"},
		{"cursor movement", "ok\x1b[2J\x1b[1;1Hforged", "ok" + ph + ph + "forged"},
		{"private CSI", "a\x1b[?25lb", "a" + ph + "b"},
		{"OSC title with BEL", "a\x1b]0;pwned\x07b", "a" + ph + "b"},
		{"OSC hyperlink with ST", "a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "a" + ph + "link" + ph + "b"},
		{"unterminated OSC keeps the text", "a\x1b]0;rest of the diagnostic", "a" + ph + "0;rest of the diagnostic"},
		{"OSC broken by a newline", "a\x1b]0;x\ny", "a" + ph + "0;x y"},
		{"charset designation", "a\x1b(Bb", "a" + ph + "b"},
		{"two-byte escape", "a\x1bcb", "a" + ph + "b"},
		{"unterminated CSI", "a\x1b[31", "a" + ph + "31"},
		{"ESC at the end", "a\x1b", "a" + ph},
		{"ESC before a control", "a\x1b\x00b", "a" + ph + ph + "b"},
		{"ESC before UTF-8", "a\x1bé", "a" + ph + "é"},
		{"ESC before a newline", "a\x1b\nb", "a" + ph + " b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clean(tc.in); got != tc.want {
				t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCleanDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("550 5.1.1 Empfänger unbekannt\t", 8)
	if n := testing.AllocsPerRun(100, func() { _ = Clean(s) }); n != 0 {
		t.Errorf("Clean of a clean text: %v allocations, want 0", n)
	}
}

// FuzzClean: the result is valid UTF-8 with no control character but tab,
// cleaning it again changes nothing, and a text with nothing to clean comes
// back as it was.
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", "550 5.1.1 x", "a\r\nb", "\x1b[31mred\x1b[0m", "\x1b]0;t\x07", "\x1b]8;;u\x1b\\l", "\x1b", "\x1b[", "\x1b]",
		"\u009b1m", "\x9b1m", "\xff\xfe", "\x00\x7f\t", "\x1b\x1b[1m", "\x1b(", "\x1b é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s)
		if !utf8.ValidString(c) {
			t.Fatalf("Clean(%q) = %q: not UTF-8", s, c)
		}
		for _, r := range c {
			if r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f {
				t.Fatalf("Clean(%q) = %q: holds %U", s, c, r)
			}
		}
		if again := Clean(c); again != c {
			t.Fatalf("Clean is not idempotent: %q -> %q -> %q", s, c, again)
		}
		clean := utf8.ValidString(s)
		for _, r := range s {
			if r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f {
				clean = false
			}
		}
		if clean && c != s {
			t.Fatalf("Clean(%q) = %q: changed a clean text", s, c)
		}
	})
}
