package ingest

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// refKey is the address identity NormaliseAddress promises, written
// independently of it: presentation dropped (ASCII white space, one pair of
// angle brackets, a domain's trailing dot), the local part in NFC with only
// A-Z lower-cased (and NFC again, for a lower-case letter that composes),
// the domain through UTS #46 lookup to lower-case A-labels. Only for inputs
// NormaliseAddress accepted.
func refKey(t *testing.T, addr string) string {
	a := strings.Trim(addr, " \t\r\n")
	if len(a) >= 2 && a[0] == '<' && a[len(a)-1] == '>' {
		a = a[1 : len(a)-1]
	}
	at := strings.LastIndex(a, "@")
	lower := func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r - 'A' + 'a'
		}
		return r
	}
	local := norm.NFC.String(strings.Map(lower, norm.NFC.String(a[:at])))
	dom, err := idna.Lookup.ToASCII(strings.TrimSuffix(a[at+1:], "."))
	if err != nil {
		t.Fatalf("accepted %+q, whose domain IDNA refuses: %v", addr, err)
	}
	return local + "@" + strings.ToLower(dom)
}

// FuzzNormaliseAddress checks that NormaliseAddress never panics, that a key
// normalises to itself, and that two inputs share a key only when refKey
// says they are one mailbox: nothing but ASCII case, canonical equivalence,
// IDNA and presentation ever merges two addresses.
func FuzzNormaliseAddress(f *testing.F) {
	// More seeds, one pair a file, in testdata/fuzz/FuzzNormaliseAddress.
	f.Add("Kate@example.com", "kate@EXAMPLE.com")
	f.Add("caf\u00e9@example.fr", "cafe\u0301@example.fr")
	f.Add("\u212Aate@example.com", "kate@example.com")
	f.Add(`"john doe"@example.com`, `"John Doe"@Example.com.`)
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, da, errA := NormaliseAddress(a)
		kb, db, errB := NormaliseAddress(b)
		for _, c := range []struct {
			in, key, domain string
			err             error
		}{{a, ka, da, errA}, {b, kb, db, errB}} {
			if c.err != nil {
				if !utf8.ValidString(c.err.Error()) {
					t.Fatalf("error for %+q is not valid UTF-8: %q", c.in, c.err)
				}
				continue
			}
			if want := refKey(t, c.in); c.key != want {
				t.Fatalf("NormaliseAddress(%+q) = %+q; the identity says %+q", c.in, c.key, want)
			}
			again, d, err := NormaliseAddress(c.key)
			if err != nil || again != c.key {
				t.Fatalf("NormaliseAddress(%+q) = %+q, %v; a key must normalise to itself (input %+q)", c.key, again, err, c.in)
			}
			if d != c.domain || !strings.HasSuffix(c.key, "@"+d) {
				t.Fatalf("NormaliseAddress(%+q): domain %q, from its key %q; key %+q", c.in, c.domain, d, c.key)
			}
		}
		if errA == nil && errB == nil && ka == kb && refKey(t, a) != refKey(t, b) {
			t.Fatalf("%+q and %+q share the key %+q but are different mailboxes", a, b, ka)
		}
	})
}
