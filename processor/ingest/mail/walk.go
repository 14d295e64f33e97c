package mail

import (
	"strings"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// maxText bounds the human-readable text kept from a message: the layouts
// this package reads put their recipients and reasons near the top.
const maxText = 64 << 10

// parsed is what the MIME walk found in one message.
type parsed struct {
	top        header // the bounce's (or report's) own header
	reportType string // report-type of a multipart/report, lower case
	text       string // the first human-readable text part, decoded, or the body of a single-part message
	dsn        []byte // the first delivery-status part
	feedback   []byte // the first message/feedback-report part
	orig       header // the original message's header, when attached
	hasOrig    bool
	parts      int
}

// walker carries the limits through the recursion.
type walker struct {
	cfg *Config
	p   *parsed
}

// parse reads a whole message.
func parse(cfg *Config, payload []byte) (*parsed, error) {
	top, body, err := parseHeader(payload, cfg.maxHeaderBytes())
	if err != nil {
		return nil, err
	}
	if len(top) == 0 {
		return nil, raw.Errorf(ErrMalformed, "the record does not start with a header field; want an RFC 5322 message")
	}
	p := &parsed{top: top}
	w := walker{cfg: cfg, p: p}
	if err := w.entity(top, body, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// entity files one MIME entity under what it is and descends into
// multiparts. It does not descend into an attached message beyond its
// header: the original's body is not evidence about the bounce.
func (w *walker) entity(h header, body []byte, depth int) error {
	p := w.p
	if depth > w.cfg.maxDepth() {
		return raw.Errorf(ErrTooDeep, "MIME parts are nested more than %d deep (ingest.mail.max_depth)", w.cfg.maxDepth())
	}
	p.parts++
	if p.parts > w.cfg.maxParts() {
		return raw.Errorf(ErrTooManyParts, "the message has more than %d MIME parts (ingest.mail.max_parts)", w.cfg.maxParts())
	}
	t, params := mediaType(h.get("Content-Type"))
	cte := h.get("Content-Transfer-Encoding")
	switch {
	case strings.HasPrefix(t, "multipart/"):
		if depth == 0 || p.reportType == "" && t == "multipart/report" {
			p.reportType = strings.ToLower(params["report-type"])
		}
		b := params["boundary"]
		if b == "" {
			// A multipart without a boundary cannot be split; its body is
			// still readable as text.
			p.addText(body, cte, params["charset"])
			return nil
		}
		parts := splitMultipart(body, b)
		if len(parts) == 0 {
			// No delimiter in the body (a boundary mangled on the way):
			// read it as text rather than not at all.
			p.addText(body, cte, params["charset"])
		}
		for _, part := range parts {
			ph, pb, err := parseHeader(part, w.cfg.maxHeaderBytes())
			if err != nil {
				return err
			}
			if err := w.entity(ph, pb, depth+1); err != nil {
				return err
			}
		}
	case t == "message/delivery-status" || t == "text/delivery-status" || t == "message/global-delivery-status":
		if p.dsn == nil {
			p.dsn = decodeTransfer(body, cte)
		}
	case t == "message/feedback-report":
		if p.feedback == nil {
			p.feedback = decodeTransfer(body, cte)
		}
	case t == "message/rfc822" || t == "text/rfc822-headers" || t == "message/global" || t == "message/global-headers":
		if p.hasOrig {
			return nil
		}
		oh, _, err := parseHeader(decodeTransfer(body, cte), w.cfg.maxHeaderBytes())
		if err != nil {
			return err
		}
		if len(oh) > 0 {
			p.orig, p.hasOrig = oh, true
		}
	case t == "text/plain" || t == "text" || (depth == 0 && !strings.Contains(t, "/")):
		p.addText(body, cte, params["charset"])
	case t == "text/html" && p.text == "":
		// Some providers send only HTML; its text still names the
		// recipient. Tags are crudely dropped.
		p.addText([]byte(stripTags(string(decodeTransfer(body, cte)))), "", params["charset"])
	}
	return nil
}

// addText keeps the first human-readable part.
func (p *parsed) addText(body []byte, cte, charset string) {
	if p.text != "" {
		return
	}
	b := toUTF8(decodeTransfer(body, cte), charset)
	if len(b) > maxText {
		b = b[:maxText]
	}
	p.text = strings.ReplaceAll(string(b), "\r\n", "\n")
}

// stripTags removes HTML tags and turns block ends into line breaks.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			in = true
			rest := strings.ToLower(s[i+1 : min(len(s), i+4)])
			if strings.HasPrefix(rest, "br") || strings.HasPrefix(rest, "/p") || strings.HasPrefix(rest, "/di") || strings.HasPrefix(rest, "/tr") {
				b.WriteByte('\n')
			}
		case c == '>' && in:
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&nbsp;", " ").Replace(b.String())
}
