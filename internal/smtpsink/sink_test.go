package smtpsink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a journal the test can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) entries(t *testing.T) []Entry {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
	for dec.More() {
		var e Entry
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// start runs a Server on a loopback port for the test's duration.
func start(t *testing.T, cfg Config) (addr string, journal *syncBuffer) {
	t.Helper()
	journal = &syncBuffer{}
	cfg.Journal = journal
	cfg.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), journal
}

// client is the test's side of one SMTP connection.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one reply, all its lines as sent (CRLF taken off).
func (c *client) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v (after %q)", err, lines)
		}
		if !strings.HasSuffix(l, "\r\n") {
			c.t.Fatalf("reply line %q does not end in CRLF", l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] == ' ' {
			return lines
		}
	}
}

func (c *client) cmd(line string) []string {
	c.t.Helper()
	if _, err := c.c.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
	return c.reply()
}

func code(lines []string) string { return lines[0][:3] }

func TestSessionAnswersPerRecipient(t *testing.T) {
	addr, journal := start(t, Config{})
	c := dial(t, addr)
	if g := c.reply(); code(g) != "220" {
		t.Fatalf("greeting %q", g)
	}
	ehlo := c.cmd("EHLO client.test")
	if len(ehlo) < 2 || !strings.HasPrefix(ehlo[0], "250-") || !strings.HasPrefix(ehlo[len(ehlo)-1], "250 ") {
		t.Fatalf("EHLO reply %q is not a multi-line 250", ehlo)
	}
	if r := c.cmd("MAIL FROM:<s@client.test> SIZE=100"); code(r) != "250" {
		t.Fatalf("MAIL %q", r)
	}
	for _, tc := range []struct{ rcpt, want string }{
		{"ok@example.test", "250"},
		{"Unknown.X@Example.TEST", "550"},
		{"full@example.test", "552"},
		{"blocked@example.test", "554"},
		{"grey@example.test", "451"},
		{"soft@example.test", "450"},
		{"multiok@example.test", "250"},
		{"anyone@example.test", "250"},
	} {
		if r := c.cmd("RCPT TO:<" + tc.rcpt + ">"); code(r) != tc.want {
			t.Errorf("RCPT %s: %q, want %s", tc.rcpt, r, tc.want)
		}
	}
	multi := c.cmd("RCPT TO:<multi@example.test>")
	want := []string{
		"550-5.1.1 The email account that you tried to reach does not exist.",
		"550-5.1.1 Please try double-checking the recipient's email address.",
		"550 5.1.1 https://support.example.test/mail/?p=NoSuchUser",
	}
	if strings.Join(multi, "|") != strings.Join(want, "|") {
		t.Errorf("multi-line reply\n got %q\nwant %q", multi, want)
	}
	if r := c.cmd("DATA"); code(r) != "354" {
		t.Fatalf("DATA %q", r)
	}
	queued := c.cmd("Subject: x\r\n\r\n..dot-stuffed\r\n.")
	if strings.Join(queued, "|") != "250-2.0.0 Ok: queued as 4F2A1B|250 2.0.0 Thank you" {
		t.Errorf("after DATA: %q, want the multiok recipient's multi-line 250", queued)
	}
	if r := c.cmd("QUIT"); code(r) != "221" {
		t.Errorf("QUIT %q", r)
	}
	c.c.Close()

	es := journal.entries(t)
	var rcpt, data int
	for _, e := range es {
		switch e.Stage {
		case "RCPT":
			rcpt++
		case "DATA":
			data++
			if e.Code != 250 || e.Enhanced != "2.0.0" || e.Text != "Ok: queued as 4F2A1B Thank you" {
				t.Errorf("DATA entry %+v", e)
			}
		}
	}
	if rcpt != 9 || data != 3 {
		t.Errorf("journal has %d RCPT and %d DATA entries, want 9 and 3 (one per accepted recipient)", rcpt, data)
	}
	if e := es[1]; e.Rcpt != "Unknown.X@Example.TEST" || e.Code != 550 || e.Enhanced != "5.1.1" || e.Try != 1 || e.Conn != 1 {
		t.Errorf("second entry %+v", e)
	}
}

func TestGreylistedThenAccepted(t *testing.T) {
	addr, journal := start(t, Config{})
	for try, want := range []string{"451", "250", "250"} {
		c := dial(t, addr)
		c.reply()
		c.cmd("HELO client.test")
		c.cmd("MAIL FROM:<>")
		if r := c.cmd("RCPT TO:<GREY@example.test>"); code(r) != want {
			t.Errorf("try %d: %q, want %s", try+1, r, want)
		}
		c.cmd("QUIT")
	}
	es := journal.entries(t)
	if len(es) != 3 || es[0].Try != 1 || es[2].Try != 3 || es[2].Conn != 3 {
		t.Errorf("journal %+v", es)
	}
}

func TestRejectedAfterData(t *testing.T) {
	addr, journal := start(t, Config{})
	c := dial(t, addr)
	c.reply()
	c.cmd("EHLO client.test")
	c.cmd("MAIL FROM:<s@client.test>")
	c.cmd("RCPT TO:<ok@example.test>")
	c.cmd("RCPT TO:<spam@example.test>")
	c.cmd("DATA")
	if r := c.cmd("hello\r\n."); strings.Join(r, "") != ReplySpam {
		t.Errorf("after DATA: %q, want %q", r, ReplySpam)
	}
	es := journal.entries(t)
	if len(es) != 4 || es[2].Stage != "DATA" || es[2].Rcpt != "ok@example.test" || es[3].Code != 550 {
		t.Errorf("journal %+v", es)
	}
}

func TestGreeting421(t *testing.T) {
	addr, journal := start(t, Config{Greeting: ReplyGreeting421})
	c := dial(t, addr)
	if r := c.reply(); strings.Join(r, "") != ReplyGreeting421 {
		t.Errorf("greeting %q", r)
	}
	if _, err := c.r.ReadByte(); err == nil {
		t.Error("the connection stayed open after the 421 greeting")
	}
	es := journal.entries(t)
	if len(es) != 1 || es[0].Stage != "greeting" || es[0].Code != 421 || es[0].Enhanced != "4.7.0" {
		t.Errorf("journal %+v", es)
	}
}

func TestProtocolErrors(t *testing.T) {
	addr, journal := start(t, Config{})
	c := dial(t, addr)
	c.reply()
	for _, tc := range []struct{ cmd, want string }{
		{"RCPT TO:<ok@example.test>", "503"},
		{"VRFY x", "502"},
		{"NOOP", "250"},
		{"MAIL FROM:<s@x>", "250"},
		{"DATA", "554"},
		{"RSET", "250"},
	} {
		if r := c.cmd(tc.cmd); code(r) != tc.want {
			t.Errorf("%s: %q, want %s", tc.cmd, r, tc.want)
		}
	}
	if es := journal.entries(t); len(es) != 0 {
		t.Errorf("journal has %+v; refused commands are not answers to recipients", es)
	}
}

func TestSplitReply(t *testing.T) {
	for _, tc := range []struct {
		reply    string
		code     int
		enhanced string
		text     string
	}{
		{ReplyOK, 250, "2.1.5", "Ok"},
		{ReplyBlocked, 554, "5.7.1", "Service unavailable; client [127.0.0.1] blocked using zen.spamhaus.org"},
		{ReplyMultiReject, 550, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address. https://support.example.test/mail/?p=NoSuchUser"},
		{"250 sink.example.test", 250, "", "sink.example.test"},
		{"421 4.7.0", 421, "4.7.0", ""},
		{"550 9.9.9 not enhanced", 550, "", "9.9.9 not enhanced"},
	} {
		c, e, txt := splitReply(tc.reply)
		if c != tc.code || e != tc.enhanced || txt != tc.text {
			t.Errorf("splitReply(%q) = %d %q %q, want %d %q %q", tc.reply, c, e, txt, tc.code, tc.enhanced, tc.text)
		}
	}
}

func TestScriptRule(t *testing.T) {
	s := DefaultScript()
	for _, tc := range []struct{ rcpt, want string }{
		{"ok@example.test", ReplyOK},
		{"OK.MixedCase@Example.TEST", ReplyOK},
		{"unknown.two@example.test", ReplyUnknown},
		{"Unknown-x@example.test", ReplyUnknown},
		{"full+tag@example.test", ReplyFull},
		{"nobody@example.test", ReplyOK},
		{"noat", ReplyOK},
	} {
		if got := s.Rule(tc.rcpt).RCPT.at(1); got != tc.want {
			t.Errorf("Rule(%q) = %q, want %q", tc.rcpt, got, tc.want)
		}
	}
	g := s.Rule("grey@example.test").RCPT
	if g.at(1) != ReplyGreylisted || g.at(2) != ReplyOK || g.at(9) != ReplyOK {
		t.Errorf("greylisting replies %q", g)
	}
}
