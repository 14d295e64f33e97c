// Package smtpsink is a scripted SMTP server for loopback: it answers each
// recipient with the reply its Script names (accepted, user unknown, mailbox
// full, blocklisted, greylisted, soft-failed for ever, multi-line, rejected
// after DATA), or refuses a whole connection at the greeting, and writes every
// answer it gave to a journal. scripts/mta-logs points a real Postfix and a
// real Exim at it, so that the logs they write can be checked against what the
// remote side really said (see Expect) rather than against bounced's reading
// of them.
//
// It is a test harness, not a mail server: it stores nothing, speaks no TLS
// and no AUTH, and does not advertise PIPELINING (both MTAs then send one
// command at a time, which keeps the journal in the order of the log).
package smtpsink

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Config is one listener's behaviour. The zero value accepts everything
// with the default Script.
type Config struct {
	// Hostname is the name in the greeting and the EHLO reply. Default
	// "sink.example.test".
	Hostname string
	// Greeting, when set, is sent instead of the 220 greeting and the
	// connection is closed after it (e.g. "421 4.7.0 Too busy, try later"
	// for a server that turns every client away).
	Greeting string
	// Script decides the answer to each RCPT and end of DATA. Default
	// DefaultScript().
	Script *Script
	// Journal receives one JSON line per answer (see Entry); nil discards.
	Journal io.Writer
	// Now is the journal's clock. Default time.Now.
	Now func() time.Time
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 60s.
	IdleTimeout time.Duration
}

// Entry is one journal line: an answer the sink gave.
type Entry struct {
	Time time.Time `json:"time"`
	// Listen is the listener's address, Conn the connection's number on
	// it (from 1).
	Listen string `json:"listen"`
	Conn   int    `json:"conn"`
	// Stage is "greeting", "RCPT" or "DATA" (the answer after end of data,
	// written once per accepted recipient of the transaction).
	Stage string `json:"stage"`
	// Rcpt is the recipient as the client sent it (empty at the greeting).
	Rcpt string `json:"rcpt,omitempty"`
	// Try counts the times this recipient (ASCII case folded) reached
	// this stage, from 1.
	Try int `json:"try,omitempty"`
	// Code, Enhanced and Text are the reply's; Text joins the lines of a
	// multi-line reply with a space.
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text"`
}

// Server is one listener's worth of scripted SMTP.
type Server struct {
	cfg Config

	mu    sync.Mutex // guards conns, tries and the journal's writes
	conns int
	tries map[string]int
	jenc  *json.Encoder
}

// New returns a Server with cfg's defaults filled in.
func New(cfg Config) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = "sink.example.test"
	}
	if cfg.Script == nil {
		cfg.Script = DefaultScript()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	s := &Server{cfg: cfg, tries: map[string]int{}}
	if cfg.Journal != nil {
		s.jenc = json.NewEncoder(cfg.Journal)
		s.jenc.SetEscapeHTML(false)
	}
	return s
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// waits for the open connections to end (they are closed too).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var open sync.Map // net.Conn → struct{}, to close them on shutdown
	defer func() {
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("smtpsink: accept on %s: %w", ln.Addr(), err)
		}
		s.mu.Lock()
		s.conns++
		n := s.conns
		s.mu.Unlock()
		open.Store(c, struct{}{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer open.Delete(c)
			defer c.Close()
			s.session(c, ln.Addr().String(), n)
		}()
	}
}

// session is one SMTP connection. Errors end it quietly: the client's log
// says what it saw, which is what the journal is compared with.
func (s *Server) session(c net.Conn, listen string, n int) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(reply string) bool {
		c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
		w.WriteString(wire(reply))
		return w.Flush() == nil
	}
	if s.cfg.Greeting != "" {
		s.journal(Entry{Listen: listen, Conn: n, Stage: "greeting"}, s.cfg.Greeting)
		say(s.cfg.Greeting)
		return
	}
	if !say("220 " + s.cfg.Hostname + " ESMTP smtpsink") {
		return
	}
	var (
		mail     bool
		accepted []string // recipients accepted in this transaction
	)
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if verb == "MAIL" || verb == "RCPT" {
			// "MAIL FROM:<a>" and "RCPT TO:<b>": the verb is two words.
			w2, rest, _ := strings.Cut(arg, ":")
			verb += " " + strings.ToUpper(strings.TrimSpace(w2))
			arg = rest
		}
		var reply string
		switch verb {
		case "EHLO":
			mail, accepted = false, nil
			reply = "250-" + s.cfg.Hostname + " greets " + arg + "\n250-SIZE 10240000\n250-8BITMIME\n250 ENHANCEDSTATUSCODES"
		case "HELO":
			mail, accepted = false, nil
			reply = "250 " + s.cfg.Hostname
		case "MAIL FROM":
			mail, accepted = true, nil
			reply = "250 2.1.0 Ok"
		case "RCPT TO":
			if !mail {
				reply = "503 5.5.1 Error: need MAIL command"
				break
			}
			rcpt := address(arg)
			reply = s.answer(listen, n, "RCPT", rcpt)
			if reply[0] == '2' {
				accepted = append(accepted, rcpt)
			}
		case "DATA":
			if len(accepted) == 0 {
				reply = "554 5.5.1 Error: no valid recipients"
				break
			}
			if !say("354 End data with <CR><LF>.<CR><LF>") {
				return
			}
			if !readData(r, c, s.cfg.IdleTimeout) {
				return
			}
			reply = s.dataAnswer(listen, n, accepted)
			mail, accepted = false, nil
		case "RSET":
			mail, accepted = false, nil
			reply = "250 2.0.0 Ok"
		case "NOOP":
			reply = "250 2.0.0 Ok"
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			reply = "502 5.5.2 Error: command not recognized"
		}
		if !say(reply) {
			return
		}
	}
}

// answer is the reply to one RCPT, journaled.
func (s *Server) answer(listen string, n int, stage, rcpt string) string {
	rule := s.cfg.Script.Rule(rcpt)
	s.mu.Lock()
	key := stage + " " + strings.ToLower(rcpt)
	s.tries[key]++
	try := s.tries[key]
	s.mu.Unlock()
	reply := rule.RCPT.at(try)
	s.journal(Entry{Listen: listen, Conn: n, Stage: stage, Rcpt: rcpt, Try: try}, reply)
	return reply
}

// dataAnswer is the reply after end of data. SMTP has one reply for the
// whole message, so the first accepted recipient whose rule has a DATA
// reply decides it; each accepted recipient gets a journal line with it.
func (s *Server) dataAnswer(listen string, n int, accepted []string) string {
	reply := "250 2.0.0 Ok: queued"
	tries := make([]int, len(accepted))
	s.mu.Lock()
	for i, rcpt := range accepted {
		key := "DATA " + strings.ToLower(rcpt)
		s.tries[key]++
		tries[i] = s.tries[key]
	}
	s.mu.Unlock()
	for i, rcpt := range accepted {
		if d := s.cfg.Script.Rule(rcpt).Data; len(d) > 0 {
			reply = d.at(tries[i])
			break
		}
	}
	for i, rcpt := range accepted {
		s.journal(Entry{Listen: listen, Conn: n, Stage: "DATA", Rcpt: rcpt, Try: tries[i]}, reply)
	}
	return reply
}

func (s *Server) journal(e Entry, reply string) {
	if s.jenc == nil {
		return
	}
	e.Time = s.cfg.Now().UTC()
	e.Code, e.Enhanced, e.Text = splitReply(reply)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jenc.Encode(e) // a journal that cannot be written shows as missing lines in the check
}

// readData reads the message up to the lone dot.
func readData(r *bufio.Reader, c net.Conn, idle time.Duration) bool {
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if strings.TrimRight(line, "\r\n") == "." {
			return true
		}
	}
}

// address takes the mailbox out of "<a@b> SIZE=123".
func address(arg string) string {
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(arg, "<") {
		if end := strings.IndexByte(arg, '>'); end > 0 {
			return arg[1:end]
		}
	}
	a, _, _ := strings.Cut(arg, " ")
	return a
}

// wire puts a reply written with "\n" between its lines on the wire: CRLF
// line ends, and every line but the last with its code followed by "-".
func wire(reply string) string {
	lines := strings.Split(reply, "\n")
	var b strings.Builder
	for i, l := range lines {
		if len(l) >= 4 && i < len(lines)-1 && l[3] == ' ' {
			l = l[:3] + "-" + l[4:]
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// splitReply reads the code, the enhanced code of the first line and the
// text of every line (joined with a space) out of a reply.
func splitReply(reply string) (code int, enhanced, text string) {
	var texts []string
	for i, l := range strings.Split(reply, "\n") {
		if len(l) < 3 {
			continue
		}
		if i == 0 {
			fmt.Sscanf(l[:3], "%d", &code)
		}
		rest := ""
		if len(l) > 4 {
			rest = l[4:]
		}
		if e, t, ok := strings.Cut(rest, " "); ok && isEnhanced(e) {
			if i == 0 {
				enhanced = e
			}
			rest = t
		} else if isEnhanced(rest) {
			if i == 0 {
				enhanced = rest
			}
			rest = ""
		}
		if rest != "" {
			texts = append(texts, rest)
		}
	}
	return code, enhanced, strings.Join(texts, " ")
}

// isEnhanced reports whether s is an RFC 3463 code: class.subject.detail.
func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsRune("245", rune(parts[0][0])) {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
