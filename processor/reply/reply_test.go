package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// gmailUnknown is Gmail's reply to an unknown recipient as an MTA logs it,
// with the two spaces Gmail puts before the link on the last line.
const gmailUnknown = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
	"550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
	"550-5.1.1 unnecessary spaces. For more information, go to\r\n" +
	"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123456wrx.100 - gsmtp"

const gmailUnknownText = "The email account that you tried to reach does not exist. Please try " +
	"double-checking the recipient's email address for typos or unnecessary spaces. " +
	"For more information, go to"

// TestParse reads real replies the way each kind of source passes them on:
// as an MTA logged the server's lines (Parse), as an ESP renders them in a
// diagnostic (ParseDiagnostic), and as Postfix flattens them into one line,
// the server's lines joined by spaces (ParseFlat).
func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		logged, esp Reply
		flat        Reply
		flatIn      string // the flattened form, when it is not in's lines joined
		noFlat      bool   // Postfix never logs this shape
	}{
		{
			name:   "gmail multi-line 550-5.1.1",
			in:     gmailUnknown,
			logged: Reply{550, "5.1.1", gmailUnknownText + "  https://support.google.com/mail/?p=NoSuchUser a1si123456wrx.100 - gsmtp"},
			esp:    Reply{550, "5.1.1", gmailUnknownText + " https://support.google.com/mail/?p=NoSuchUser a1si123456wrx.100 - gsmtp"},
			flat:   Reply{550, "5.1.1", gmailUnknownText + "  https://support.google.com/mail/?p=NoSuchUser a1si123456wrx.100 - gsmtp"},
		},
		{
			name: "gmail 421-4.7.0 rate limit",
			in: "421-4.7.0 [192.0.2.1      15] Our system has detected an unusual rate of\n" +
				"421-4.7.0 unsolicited mail originating from your IP address.\n" +
				"421 4.7.0  https://support.google.com/mail/answer/81126 - gsmtp",
			logged: Reply{421, "4.7.0", "[192.0.2.1      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address.  https://support.google.com/mail/answer/81126 - gsmtp"},
			esp:    Reply{421, "4.7.0", "[192.0.2.1      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. https://support.google.com/mail/answer/81126 - gsmtp"},
			flat:   Reply{421, "4.7.0", "[192.0.2.1      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address.  https://support.google.com/mail/answer/81126 - gsmtp"},
		},
		{
			name:   "microsoft 550 5.5.0",
			in:     "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT021.eop-EUR03.prod.protection.outlook.com]",
			logged: Reply{550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT021.eop-EUR03.prod.protection.outlook.com]"},
			esp:    Reply{550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT021.eop-EUR03.prod.protection.outlook.com]"},
			flat:   Reply{550, "5.5.0", "Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT021.eop-EUR03.prod.protection.outlook.com]"},
		},
		{
			name:   "microsoft block list 5.7.1 (S3140)",
			in:     "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).",
			logged: Reply{550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140)."},
			esp:    Reply{550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140)."},
			flat:   Reply{550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140)."},
		},
		{
			// Exchange's expiry: the classes disagree. An MTA's log keeps
			// the code in the text; ESPs and Postfix take it.
			name:   "exchange 550 4.4.7",
			in:     "550 4.4.7 QUEUE.Expired; message expired",
			logged: Reply{550, "", "4.4.7 QUEUE.Expired; message expired"},
			esp:    Reply{550, "4.4.7", "QUEUE.Expired; message expired"},
			flat:   Reply{550, "4.4.7", "QUEUE.Expired; message expired"},
		},
		{
			name:   "no enhanced code",
			in:     "550 Requested action not taken: mailbox unavailable",
			logged: Reply{550, "", "Requested action not taken: mailbox unavailable"},
			esp:    Reply{550, "", "Requested action not taken: mailbox unavailable"},
			flat:   Reply{550, "", "Requested action not taken: mailbox unavailable"},
		},
		{
			name:   "yahoo without enhanced code",
			in:     "554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com",
			logged: Reply{554, "", "delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com"},
			esp:    Reply{554, "", "delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com"},
			flat:   Reply{554, "", "delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com"},
		},
		{
			name:   "multi-line without enhanced code",
			in:     "452-Too many recipients\n452 received this hour",
			logged: Reply{452, "", "Too many recipients received this hour"},
			esp:    Reply{452, "", "Too many recipients received this hour"},
			flat:   Reply{452, "", "Too many recipients received this hour"},
		},
		{
			// Flattened, a later bare "550 " is prose: only the last line's
			// prefix goes.
			name:   "flattened without enhanced code, code in the prose",
			in:     "550-a\n550-b\n550 c 550 d",
			logged: Reply{550, "", "a b c 550 d"},
			esp:    Reply{550, "", "a b c 550 d"},
			flat:   Reply{550, "", "a b c 550 d"},
		},
		{
			name:   "code only",
			in:     "550",
			logged: Reply{550, "", ""},
			esp:    Reply{550, "", ""},
			flat:   Reply{550, "", ""},
		},
		{
			name:   "continuation only",
			in:     "550-",
			logged: Reply{550, "", ""},
			esp:    Reply{550, "", ""},
			flat:   Reply{550, "", ""},
		},
		{
			name:   "enhanced code only",
			in:     "250 2.0.0",
			logged: Reply{250, "2.0.0", ""},
			esp:    Reply{250, "2.0.0", ""},
			flat:   Reply{250, "2.0.0", ""},
		},
		{
			// Every line loses its own prefix; the reply is the first
			// line's. Flattened, only the reply's own prefixes are known
			// to be prefixes.
			name:   "continuations with different codes",
			in:     "550-5.1.1 first\n451-4.2.0 second\n550 5.1.1 third",
			logged: Reply{550, "5.1.1", "first second third"},
			esp:    Reply{550, "5.1.1", "first second third"},
			flat:   Reply{550, "5.1.1", "first 451-4.2.0 second third"},
		},
		{
			name:   "enhanced code on a later line only",
			in:     "550-Mailbox unavailable\n550 5.1.1 User unknown",
			logged: Reply{550, "", "Mailbox unavailable User unknown"},
			esp:    Reply{550, "5.1.1", "Mailbox unavailable User unknown"},
			flat:   Reply{550, "", "Mailbox unavailable 5.1.1 User unknown"},
		},
		{
			name:   "bad code 600",
			in:     "600 5.1.1 no such code",
			logged: Reply{0, "", "600 5.1.1 no such code"},
			esp:    Reply{0, "", "600 5.1.1 no such code"},
			flat:   Reply{0, "", "600 5.1.1 no such code"},
		},
		{
			name:   "bad code 099",
			in:     "099 odd",
			logged: Reply{0, "", "099 odd"},
			esp:    Reply{0, "", "099 odd"},
			flat:   Reply{0, "", "099 odd"},
		},
		{
			// RFC 5321 allows no second digit above 5; MTAs log such codes
			// anyway, ESPs use them for conditions of their own.
			name:   "code 590",
			in:     "590 5.1.1 odd",
			logged: Reply{590, "5.1.1", "odd"},
			esp:    Reply{0, "", "590 5.1.1 odd"},
			flat:   Reply{590, "5.1.1", "odd"},
		},
		{
			name:   "mailgun pseudo-code 498",
			in:     "498 No MX for nomx.example.com",
			logged: Reply{498, "", "No MX for nomx.example.com"},
			esp:    Reply{0, "", "498 No MX for nomx.example.com"},
			flat:   Reply{498, "", "No MX for nomx.example.com"},
		},
		{
			name:   "version 1.2.3 is not an enhanced code",
			in:     "550 1.2.3 rejected",
			logged: Reply{550, "", "1.2.3 rejected"},
			esp:    Reply{550, "", "1.2.3 rejected"},
			flat:   Reply{550, "", "1.2.3 rejected"},
		},
		{
			name:   "9.9.9 is not an enhanced code",
			in:     "550 9.9.9 rejected",
			logged: Reply{550, "", "9.9.9 rejected"},
			esp:    Reply{550, "", "9.9.9 rejected"},
			flat:   Reply{550, "", "9.9.9 rejected"},
		},
		{
			name:   "four-digit detail is a number",
			in:     "550 5.1.1000 rejected",
			logged: Reply{550, "", "5.1.1000 rejected"},
			esp:    Reply{550, "", "5.1.1000 rejected"},
			flat:   Reply{550, "", "5.1.1000 rejected"},
		},
		{
			name:   "no separator after the code",
			in:     "550x rejected",
			logged: Reply{0, "", "550x rejected"},
			esp:    Reply{0, "", "550x rejected"},
			flat:   Reply{0, "", "550x rejected"},
		},
		{
			name:   "prose",
			in:     "Connection timed out",
			logged: Reply{0, "", "Connection timed out"},
			esp:    Reply{0, "", "Connection timed out"},
			flat:   Reply{0, "", "Connection timed out"},
		},
		{
			// An MTA's reply starts with its code; an ESP's prose may come
			// first.
			name:   "prose before the reply",
			in:     "Remote said:\n550 5.1.1 no such user",
			logged: Reply{0, "", "Remote said: 550 5.1.1 no such user"},
			esp:    Reply{550, "5.1.1", "Remote said: no such user"},
			noFlat: true,
		},
		{
			name: "empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parse(tt.in); got != tt.logged {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.logged)
			}
			if got := ParseDiagnostic(tt.in); got != tt.esp {
				t.Errorf("ParseDiagnostic(%q)\n got %+v\nwant %+v", tt.in, got, tt.esp)
			}
			if tt.noFlat {
				return
			}
			flat := tt.flatIn
			if flat == "" {
				flat = strings.ReplaceAll(strings.ReplaceAll(tt.in, "\r\n", " "), "\n", " ")
			}
			if got := ParseFlat(flat); got != tt.flat {
				t.Errorf("ParseFlat(%q)\n got %+v\nwant %+v", flat, got, tt.flat)
			}
		})
	}
}

// TestParseDiagnostic covers what only ESPs write: a diagnostic type, and
// Mailgun's enhanced codes without a reply code.
func TestParseDiagnostic(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Reply
	}{
		{"smtp; 550 5.1.1 <jane@example.com>... User unknown", Reply{550, "5.1.1", "<jane@example.com>... User unknown"}},
		{"smtp;550 5.1.1 The email account", Reply{550, "5.1.1", "The email account"}},
		{"5.1.1 The email account that you tried to reach does not exist. Please try\n5.1.1 double-checking", Reply{0, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking"}},
		{"550-5.7.1 first\n550-5.7.1 second\n550 5.7.1 third", Reply{550, "5.7.1", "first second third"}},
		{"250 2.6.0 Message received", Reply{250, "2.6.0", "Message received"}},
		{"250 OK", Reply{250, "", "OK"}},
		{"No MX for nomx.example.com", Reply{0, "", "No MX for nomx.example.com"}},
		{"498 No MX", Reply{0, "", "498 No MX"}},
		{"X-Postfix; host gone", Reply{0, "", "host gone"}},
		{"Amazon SES has suppressed sending; see docs", Reply{0, "", "Amazon SES has suppressed sending; see docs"}},
		{"", Reply{}},
	} {
		if got := ParseDiagnostic(tc.in); got != tc.want {
			t.Errorf("ParseDiagnostic(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		in, enh, text string
		code          int
	}{
		{"550-5.1.1 text", "5.1.1", "text", 550},
		{"550 text", "", "text", 550},
		{"550  5.1.1  text", "5.1.1", " text", 550}, // the server's spacing, as logged
		{"550 5.1.1", "5.1.1", "", 550},
		{"550 5.1.1\ttext", "", "5.1.1\ttext", 550},
		{"550 4.4.7 expired", "", "4.4.7 expired", 550},
		{"421-4.7.0 try later", "4.7.0", "try later", 421},
		{"550", "", "", 550},
		{"550-", "", "", 550},
		{"hello 550", "", "hello 550", 0},
		{"", "", "", 0},
	} {
		code, enh, text := Line(tc.in)
		if code != tc.code || enh != tc.enh || text != tc.text {
			t.Errorf("Line(%q) = %d %q %q, want %d %q %q", tc.in, code, enh, text, tc.code, tc.enh, tc.text)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		in        string
		code      int
		validCode bool
	}{
		{"550", 550, true},
		{"550 x", 550, true},
		{"550-x", 550, true},
		{"250 ok", 250, true},
		{"354 go ahead", 354, true},
		{"421-4.7.0", 421, true},
		{"498 No MX", 498, false},
		{"590 x", 590, false},
		{"600 x", 0, false},
		{"099 x", 0, false},
		{"199 x", 0, false},
		{"55 x", 0, false},
		{"550x", 0, false},
		{"5500", 0, false},
		{" 550", 0, false},
		{"", 0, false},
	} {
		code := Code(tc.in)
		if code != tc.code || ValidCode(code) != tc.validCode {
			t.Errorf("Code(%q) = %d (valid %v), want %d (valid %v)", tc.in, code, ValidCode(code), tc.code, tc.validCode)
		}
	}
}

func TestEnhanced(t *testing.T) {
	for _, tc := range []struct {
		in    string
		valid bool
	}{
		{"5.1.1", true},
		{"4.7.0", true},
		{"2.0.0", true},
		{"5.7.26", true},
		{"5.100.999", true},
		{"1.2.3", false},
		{"3.1.1", false},
		{"9.9.9", false},
		{"5.1", false},
		{"5.1.", false},
		{"5..1", false},
		{"5.1.1.1", false},
		{"5.1.1000", false},
		{"5.1000.1", false},
		{"5.a.1", false},
		{"55.1.1", false},
		{" 5.1.1", false},
		{"5.1.1 ", false},
		{"", false},
	} {
		if got := ValidEnhanced(tc.in); got != tc.valid {
			t.Errorf("ValidEnhanced(%q) = %v, want %v", tc.in, got, tc.valid)
		}
	}
	for _, tc := range []struct {
		in, enh, rest string
		ok            bool
	}{
		{"5.1.1 text", "5.1.1", "text", true},
		{"5.1.1  text", "5.1.1", " text", true},
		{"5.1.1", "5.1.1", "", true},
		{"5.1.1: text", "", "5.1.1: text", false},
		{"5.1.1.2 text", "", "5.1.1.2 text", false},
		{"text", "", "text", false},
	} {
		enh, rest, ok := CutEnhanced(tc.in)
		if enh != tc.enh || rest != tc.rest || ok != tc.ok {
			t.Errorf("CutEnhanced(%q) = %q %q %v, want %q %q %v", tc.in, enh, rest, ok, tc.enh, tc.rest, tc.ok)
		}
	}
	if e, n := ScanEnhanced("5.7.26 blocked"); e != (Status{5, 7, 26}) || n != 6 || e.String() != "5.7.26" {
		t.Errorf("ScanEnhanced = %v %d", e, n)
	}
	if e, n := ScanEnhanced("5.7."); e.Valid() || n != 0 || e.String() != "" {
		t.Errorf("ScanEnhanced(5.7.) = %v %d, want nothing", e, n)
	}
}

func TestCutType(t *testing.T) {
	for _, tc := range []struct {
		in, rest string
		ok       bool
	}{
		{"smtp; 550 5.1.1 x", "550 5.1.1 x", true},
		{"smtp;550", "550", true},
		{"X-Postfix; host gone", "host gone", true},
		{"Amazon SES has suppressed sending; see docs", "Amazon SES has suppressed sending; see docs", false},
		{";550 x", ";550 x", false},
		{"a.b;550 x", "a.b;550 x", false},
		{"seventeen-chars-x;550", "seventeen-chars-x;550", false},
		{"550 5.1.1 x", "550 5.1.1 x", false},
	} {
		rest, ok := CutType(tc.in)
		if rest != tc.rest || ok != tc.ok {
			t.Errorf("CutType(%q) = %q %v, want %q %v", tc.in, rest, ok, tc.rest, tc.ok)
		}
	}
}

func TestFind(t *testing.T) {
	tests := []struct {
		text string
		code int
		enh  string
	}{
		{"smtp; 550 5.1.1 user unknown", 550, "5.1.1"},
		{"550-5.7.1 [192.0.2.1] blocked\n550 5.7.1 more", 550, "5.7.1"},
		{"Diagnostic-Code: SMTP; 552 Requested mailbox exceeds quota.", 552, ""},
		{"host mx3.qq.com[103.7.30.40] said: 550 DMARC check failed", 550, ""},
		{"Sorry, I couldn't find any host named x. (#5.1.2)", 0, "5.1.2"},
		{"X-Unix; 255", 0, ""},
		{"delivery via mx[192.0.2.2]:25: 250 2.1.5 Ok", 250, "2.1.5"},
		{"Thu, 29 Apr 2015 23:34:45 +0900 from 192.0.2.4", 0, ""},
		{"550 4.4.7 expired", 550, "4.4.7"},
		{"version 1.2.3 and 9.9.9", 0, ""},
	}
	for _, tt := range tests {
		code, enh := Find(tt.text)
		if code != tt.code || enh.String() != tt.enh {
			t.Errorf("Find(%q) = %d %q, want %d %q", tt.text, code, enh, tt.code, tt.enh)
		}
	}
}

func TestContinuation(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int
	}{
		{"550-5.7.1 blocked", len("550-5.7.1")},
		{"550-5.7.1", len("550-5.7.1")},
		{"550-blocked", len("550-")},
		{"550-5.7.1x", len("550-")},
		{"550 5.7.1 blocked", 0},
		{"354-go", 0},
		{"55-", 0},
	} {
		if n := Continuation(tc.in); n != tc.n {
			t.Errorf("Continuation(%q) = %d, want %d", tc.in, n, tc.n)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in         string
		n          int
		clip, elid string
	}{
		{"abc", 5, "abc", "abc"},
		{"abc", 3, "abc", "abc"},
		{"abcdef", 3, "abc", "abc…"},
		{"héllo", 2, "h", "h…"},
		{"héllo", 3, "hé", "hé…"},
		{"a😀b", 4, "a", "a…"},
		{"a😀b", 5, "a😀", "a😀…"},
		{"€uro", 1, "", "…"},
		{"abc", 0, "", "…"},
		{"abc", -1, "", "…"},
		// Bytes that are not UTF-8 are runes of their own: no backing off
		// over them.
		{"\x80\x80\x80\x80\x80", 3, "\x80\x80\x80", "\x80\x80\x80…"},
	} {
		if got := Clip(tc.in, tc.n); got != tc.clip {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.clip)
		}
		if got := Elide(tc.in, tc.n); got != tc.elid {
			t.Errorf("Elide(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.elid)
		}
	}
}

// FuzzParse: no reader panics; a reply has no code or a 2xx-5xx one, no
// enhanced code or a valid one; the text of a multi-line reply is one line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		gmailUnknown, "smtp; 550 5.1.1 <a@example.org>... User unknown", "550 4.4.7 QUEUE.Expired", "550", "550-",
		"550-5.1.1 a\n451-4.2.0 b\n550 5.1.1 c", "5.1.1 a\n5.1.1 b", "498 No MX", "600 x", "099 x", "550 1.2.3 x",
		"550 9.9.9 x", "550-a 550-b 550 c 550 d", "421-4.7.0 a 421-4.7.0  b 421 4.7.0 c", "Remote said:\n550 5.1.1 x", "héllo\x80",
		"550 9.9.9.9.9 x", "550 5.1.1.1 x", "5.1.1.1 x (#9.9.9.9.9)", "550-5.1000.1 a 550 5.1000.1 b", "550 5.1.1\x1b[31m x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(reader string, r Reply, oneLine bool) {
			if r.Code != 0 && (r.Code < 200 || r.Code > 599) {
				t.Fatalf("%s(%q): code %d", reader, s, r.Code)
			}
			if r.Enhanced != "" && !ValidEnhanced(r.Enhanced) {
				t.Fatalf("%s(%q): enhanced %q", reader, s, r.Enhanced)
			}
			if oneLine && strings.Contains(r.Text, "\n") {
				t.Fatalf("%s(%q): text %q has a newline", reader, s, r.Text)
			}
		}
		p := Parse(s)
		check("Parse", p, true)
		if p.Enhanced != "" && p.Enhanced[0] != byte('0'+p.Code/100) {
			t.Fatalf("Parse(%q): enhanced %q with code %d", s, p.Enhanced, p.Code)
		}
		d := ParseDiagnostic(s)
		check("ParseDiagnostic", d, true)
		if d.Code != 0 && !ValidCode(d.Code) {
			t.Fatalf("ParseDiagnostic(%q): code %d", s, d.Code)
		}
		check("ParseFlat", ParseFlat(s), false)
		code, enh, _ := Line(s)
		check("Line", Reply{Code: code, Enhanced: enh}, false)
		fc, fe := Find(s)
		check("Find", Reply{Code: fc, Enhanced: fe.String()}, false)
		if fe.Valid() != (fe.String() != "") {
			t.Fatalf("Find(%q): status %v", s, fe)
		}
		for _, n := range []int{0, 1, 3, 40, 80} {
			c := Clip(s, n)
			if len(c) > max(n, 0) || !strings.HasPrefix(s, c) || utf8.ValidString(s) && !utf8.ValidString(c) {
				t.Fatalf("Clip(%q, %d) = %q", s, n, c)
			}
		}
	})
}

// TestInvalidEnhanced: what RFC 3463 does not allow ("class.subject.detail",
// class 2, 4 or 5, subject and detail of one to three digits) is no
// enhanced code to any reader: a separate field refuses it (ValidEnhanced),
// and in a reply it stays part of the text.
func TestInvalidEnhanced(t *testing.T) {
	for _, bad := range []string{
		"9.9.9.9.9", "5.1.1.1", "5.1.1.1.1", "9.9.9", "0.0.0", "6.1.1", "5.1000.1", "5.1.1000", "5.1", "5..1", "5.1.",
		".5.1.1", "5.-1.1", "5.1.a", "5,1,1", "5.1.1x", "５.1.1",
	} {
		if ValidEnhanced(bad) {
			t.Errorf("ValidEnhanced(%q) = true", bad)
		}
		if enh, _, ok := CutEnhanced(bad + " text"); ok {
			t.Errorf("CutEnhanced(%q) = %q", bad+" text", enh)
		}
		if r := Parse("550 " + bad + " text"); r.Enhanced != "" || r.Code != 550 || r.Text != bad+" text" {
			t.Errorf("Parse(550 %s text) = %+v", bad, r)
		}
		if r := ParseFlat("550-" + bad + " a 550 " + bad + " b"); r.Enhanced != "" {
			t.Errorf("ParseFlat(%q) = %+v", "550-"+bad+" a 550 "+bad+" b", r)
		}
		if r := ParseDiagnostic("smtp; 550 " + bad + " text"); r.Enhanced != "" {
			t.Errorf("ParseDiagnostic(smtp; 550 %s text) = %+v", bad, r)
		}
		if r := ParseDiagnostic(bad + " text"); r.Enhanced != "" {
			t.Errorf("ParseDiagnostic(%s text) = %+v", bad, r)
		}
		if code, enh, _ := Line("550 " + bad + " text"); enh != "" || code != 550 {
			t.Errorf("Line(550 %s text) = %d %q", bad, code, enh)
		}
		for _, text := range []string{bad, "status " + bad + " here", "(#" + bad + ")", "550 " + bad + " x", "550-" + bad + " x"} {
			if _, enh := Find(text); enh.Valid() {
				t.Errorf("Find(%q) found %v", text, enh)
			}
		}
		if n := Continuation("550-" + bad + " x"); n != len("550-") {
			t.Errorf("Continuation(550-%s x) = %d, want %d", bad, n, len("550-"))
		}
	}
}
