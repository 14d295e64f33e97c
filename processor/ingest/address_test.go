package ingest

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestNormaliseAddressIdentity pins which spellings are one mailbox: ASCII
// case and Unicode canonical equivalence merge, nothing else does.
func TestNormaliseAddressIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, in, key, domain string
	}{
		{"ascii case", "Foo.Bar+News@Example.COM", "foo.bar+news@example.com", "example.com"},
		{"ascii letter beside non-ascii", "Jörg@Bücher.example", "jörg@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"non-ascii capital kept", "JÖRG@example.de", "jÖrg@example.de", "example.de"},
		{"dotted capital I kept", "BİLL@example.com", "bİll@example.com", "example.com"},
		{"dotted capital I from I + U+0307", "BI\u0307LL@example.com", "bİll@example.com", "example.com"},
		{"greek capitals kept", "ΟΔΟΣ@example.gr", "ΟΔΟΣ@example.gr", "example.gr"},
		{"greek final sigma kept", "οδος@example.gr", "οδος@example.gr", "example.gr"},
		{"greek medial sigma kept", "οδοσ@example.gr", "οδοσ@example.gr", "example.gr"},
		{"fullwidth capitals kept", "ＫＡＴＥ@example.com", "ＫＡＴＥ@example.com", "example.com"},
		{"fullwidth small kept", "ｋａｔｅ@example.com", "ｋａｔｅ@example.com", "example.com"},
		{"precomposed é", "caf\u00e9@example.fr", "caf\u00e9@example.fr", "example.fr"},
		{"decomposed é is NFC'd", "cafe\u0301@example.fr", "caf\u00e9@example.fr", "example.fr"},
		{"decomposed É composes before lower-casing", "CAFE\u0301@example.fr", "caf\u00c9@example.fr", "example.fr"},
		{"lower-casing lets j + caron compose", "J\u030c@example.com", "\u01f0@example.com", "example.com"},
		{"hangul jamo compose", "\u1100\u1161@example.kr", "\uac00@example.kr", "example.kr"},
		{"idn domain", "user@Bücher.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"idn domain capitals", "user@BÜCHER.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"idn domain decomposed", "user@bu\u0308cher.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-label domain", "user@XN--BCHER-KVA.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"angle brackets and white space", " <User@Example.org.>\r\n", "user@example.org", "example.org"},
		{"quoted with space", `"john doe"@example.com`, `"john doe"@example.com`, "example.com"},
		{"quoted ascii lower-cased", `"John.Doe"@Example.com`, `"john.doe"@example.com`, "example.com"},
		{"quoted escaped quote", `"a\"b"@example.com`, `"a\"b"@example.com`, "example.com"},
		{"quoted escaped backslash", `"a\\b"@example.com`, `"a\\b"@example.com`, "example.com"},
		{"quoted escaped capital", `"\A"@example.com`, `"\a"@example.com`, "example.com"},
		{"quoted at sign", `"a@b"@example.com`, `"a@b"@example.com`, "example.com"},
		{"quoted specials", `"a..b(c),:;<>[]"@example.com`, `"a..b(c),:;<>[]"@example.com`, "example.com"},
		{"quoted empty", `""@example.com`, `""@example.com`, "example.com"},
		{"quoted utf-8", `"Ü ber"@example.com`, `"Ü ber"@example.com`, "example.com"},
		{"atext specials", "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", "example.com"},
		{"emoji", "\U0001F600@example.com", "\U0001F600@example.com", "example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, dom, err := NormaliseAddress(tc.in)
			if err != nil || key != tc.key || dom != tc.domain {
				t.Fatalf("NormaliseAddress(%+q) = %+q, %q, %v; want %+q, %q", tc.in, key, dom, err, tc.key, tc.domain)
			}
			if again, _, err := NormaliseAddress(key); err != nil || again != key {
				t.Fatalf("NormaliseAddress(%+q) = %+q, %v; a key must normalise to itself", key, again, err)
			}
		})
	}
}

// TestNormaliseAddressRefuses covers what is not a mailbox or could hide one
// inside another's spelling; each error must say what was wrong.
func TestNormaliseAddressRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"kelvin sign", "\u212Aate@example.com", "U+212A, which Unicode normalisation turns into the ASCII \"K\""},
		{"greek question mark", "a\u037Eb@example.com", "U+037E"},
		{"greek varia", "a\u1FEFb@example.com", "U+1FEF"},
		{"zero-width space", "ka\u200Bte@example.com", "invisible format character U+200B"},
		{"left-to-right mark", "kate\u200E@example.com", "format character U+200E"},
		{"right-to-left override", "\u202Eetak@example.com", "format character U+202E"},
		{"left-to-right isolate", "\u2066kate\u2069@example.com", "format character U+2066"},
		{"byte order mark", "\uFEFFkate@example.com", "format character U+FEFF"},
		{"soft hyphen", "ka\u00ADte@example.com", "format character U+00AD"},
		{"zero-width joiner", "ka\u200Dte@example.com", "format character U+200D"},
		{"line separator", "ka\u2028te@example.com", "separator U+2028"},
		{"line separator at the edge is not trimmed", "\u2028kate@example.com", "separator U+2028"},
		{"paragraph separator", "ka\u2029te@example.com", "separator U+2029"},
		{"no-break space", "ka\u00A0te@example.com", "separator U+00A0"},
		{"ideographic space", "ka\u3000te@example.com", "separator U+3000"},
		{"no-break space quoted", "\"ka\u00A0te\"@example.com", "separator U+00A0"},
		{"ascii space unquoted", "ka te@example.com", "only allowed when quoted"},
		{"nul", "us\x00er@example.com", "control character"},
		{"escape sequence", "us\x1b[31mer@example.com", "control character U+001B"},
		{"c1 control", "us\u0085er@example.com", "control character U+0085"},
		{"tab in quotes", "\"a\tb\"@example.com", "control character U+0009"},
		{"del", "a\x7fb@example.com", "control character U+007F"},
		{"private use", "a\uE000b@example.com", "private-use code point U+E000"},
		{"unassigned", "a\u0378b@example.com", "unassigned code point U+0378"},
		{"noncharacter", "a\uFDD0b@example.com", "unassigned code point U+FDD0"},
		{"variation selector", "\u2764\uFE0F@example.com", "invisible character U+FE0F"},
		{"hangul filler", "a\u3164b@example.com", "invisible character U+3164"},
		{"combining grapheme joiner", "a\u034Fb@example.com", "invisible character U+034F"},
		{"invalid utf-8", "k\xffate@example.com", "not valid UTF-8"},
		{"replacement character in the local part", "us\uFFFDer@example.com", "holds U+FFFD, the replacement character"},
		{"replacement character in the domain", "user@exa\uFFFDmple.com", "holds U+FFFD, the replacement character"},
		{"replacement character quoted", "\"a\uFFFDb\"@example.com", "holds U+FFFD, the replacement character"},
		{"unterminated quote", `"abc@example.com`, "no closing quote"},
		{"lone quote", `"@example.com`, "no closing quote"},
		{"escaped closing quote", `"abc\"@example.com`, "no closing quote"},
		{"trailing backslash", `"abc\@example.com`, "ends in a backslash"},
		{"text after closing quote", `"a"b@example.com`, `has "b" after its closing quote`},
		{"inner unescaped quote", `"a"b"@example.com`, "after its closing quote"},
		{"quote inside dot-string", `a"b"c@example.com`, "quote inside an unquoted local part"},
		{"quoted atom after dot", `a."b"@example.com`, "quote inside an unquoted local part"},
		{"backslash escapes non-ascii", `"a\é"@example.com`, "backslash before U+00E9"},
		{"backslash escapes what NFC composes", "\"\\<\u0338\"@example.com", "after Unicode normalisation (NFC): quoted local part has a backslash before U+226E"},
		{"backslash unquoted", `a\b@example.com`, "only allowed when quoted"},
		{"specials unquoted", "a<\u0338b@example.com", "'<', a character only allowed when quoted"},
		{"leading dot", ".a@example.com", "misplaced dot"},
		{"trailing dot", "a.@example.com", "misplaced dot"},
		{"NFC lengthens past 64 bytes", strings.Repeat("\u0958", 21) + "@example.in", "after Unicode normalisation (NFC): local part is 126 bytes, longer than 64"},
		{"zero-width space in domain", "kate@exa\u200Bmple.com", "domain contains an invisible format character U+200B"},
		{"soft hyphen in domain", "kate@exam\u00ADple.com", "domain contains an invisible format character U+00AD"},
		{"variation selector in domain", "kate@example\uFE0F.com", "domain contains an invisible character U+FE0F"},
		{"line separator in domain", "kate@example.com\u2028", "domain contains a space or separator U+2028"},
		{"control in domain", "kate@exam\x01ple.com", "domain contains a control character U+0001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, _, err := NormaliseAddress(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("NormaliseAddress(%+q) = %+q, %v; want an error containing %q", tc.in, key, err, tc.err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error is not valid UTF-8: %q", err)
			}
		})
	}
}

// TestNormaliseAddressDistinct lists look-alikes that must each keep a key
// of their own (or be refused): a bounce for one must never suppress another.
func TestNormaliseAddressDistinct(t *testing.T) {
	for _, group := range [][]string{
		{"kate@example.com", "\u212Aate@example.com", "ＫＡＴＥ@example.com", "ｋａｔｅ@example.com", "kat\u0435@example.com"},
		{"bill@example.com", "BİLL@example.com", "bıll@example.com", "bi\u0307ll@example.com"},
		{"ΟΔΟΣ@example.gr", "οδος@example.gr", "οδοσ@example.gr", "ΟΔΟς@example.gr"},
		{"jörg@example.de", "jÖrg@example.de", "joerg@example.de", "jorg@example.de"},
		{"strasse@example.de", "straße@example.de", "STRAẞE@example.de"},
		{"kate@example.com", "ka\u200Bte@example.com", "kate\uFE0F@example.com", "ka\u00ADte@example.com"},
		{"john.doe@example.com", `"john doe"@example.com`, "\"john\u00A0doe\"@example.com"},
		{"a@example.com", "a@exa\u200Bmple.com"},
	} {
		seen := map[string]string{}
		for _, in := range group {
			key, _, err := NormaliseAddress(in)
			if err != nil {
				continue
			}
			if prev, ok := seen[key]; ok {
				t.Errorf("%+q and %+q share the key %+q", prev, in, key)
			}
			seen[key] = in
		}
	}
}

// TestNormaliseAddressOneKey lists spellings of one mailbox: ASCII case,
// presentation and Unicode canonical equivalence.
func TestNormaliseAddressOneKey(t *testing.T) {
	for _, group := range [][]string{
		{"kate@example.com", "Kate@example.com", "KATE@EXAMPLE.COM", "<kAtE@Example.Com.>"},
		{"caf\u00e9@example.fr", "cafe\u0301@example.fr", "CAFe\u0301@Example.FR"},
		{"r\u00e9sum\u00e9@b\u00fccher.example", "re\u0301sume\u0301@bu\u0308cher.example", "r\u00e9sum\u00e9@XN--BCHER-KVA.EXAMPLE"},
		{"\u01f0@example.com", "j\u030c@example.com", "J\u030c@example.com"},
		{"bİll@example.com", "BI\u0307LL@example.com"},
		{"\u1e69@example.com", "s\u0323\u0307@example.com", "s\u0307\u0323@example.com", "\u1e61\u0323@example.com"},
	} {
		want, _, err := NormaliseAddress(group[0])
		if err != nil {
			t.Fatalf("NormaliseAddress(%+q): %v", group[0], err)
		}
		for _, in := range group[1:] {
			if key, _, err := NormaliseAddress(in); err != nil || key != want {
				t.Errorf("NormaliseAddress(%+q) = %+q, %v; want %+q, the key of %+q", in, key, err, want, group[0])
			}
		}
	}
}

// TestNFCMakesASCII walks every code point: only the three canonical
// singletons that NFC maps into ASCII are refused for that reason.
func TestNFCMakesASCII(t *testing.T) {
	var got []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if utf8.ValidRune(r) && nfcMakesASCII(r) {
			got = append(got, r)
		}
	}
	if want := []rune{0x037E, 0x1FEF, 0x212A}; !slices.Equal(got, want) {
		t.Fatalf("code points NFC turns into ASCII = %U, want %U", got, want)
	}
}

// TestNormaliseAddressEveryCodePoint puts each code point, alone and after
// each case of an ASCII letter, into a local part: whatever is accepted must
// give a key that normalises to itself, is NFC and has no A-Z.
func TestNormaliseAddressEveryCodePoint(t *testing.T) {
	check := func(in string) {
		key, _, err := NormaliseAddress(in)
		if err != nil {
			return
		}
		local := key[:strings.LastIndexByte(key, '@')]
		if !norm.NFC.IsNormalString(local) || strings.IndexFunc(local, func(r rune) bool { return r >= 'A' && r <= 'Z' }) >= 0 {
			t.Errorf("NormaliseAddress(%+q) = %+q: not NFC or has an ASCII capital", in, key)
		}
		if again, _, err := NormaliseAddress(key); err != nil || again != key {
			t.Errorf("NormaliseAddress(%+q) = %+q, %v; want the key %+q itself (from %+q)", key, again, err, key, in)
		}
	}
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) || checkRune(r) != nil {
			continue // refused whatever surrounds it; TestNormaliseAddressRefuses
		}
		check(string(r) + "@example.com")
		if unicode.In(r, unicode.M) {
			for _, c := range "AaJjWwYyTtHhIiSs" {
				check(string(c) + string(r) + "@example.com")
			}
		}
	}
}

// TestUnicodeEditionsAgree guards key stability: checkRune's categories come
// from package unicode, normalisation from x/text's norm tables. If a
// toolchain or x/text upgrade splits them, a code point could be accepted
// as assigned and normalised as unassigned; decide then which edition wins.
func TestUnicodeEditionsAgree(t *testing.T) {
	if unicode.Version != norm.Version {
		t.Fatalf("unicode.Version = %s, norm.Version = %s; they must agree", unicode.Version, norm.Version)
	}
}
