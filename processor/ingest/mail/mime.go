package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// field is one header field, its value unfolded (line breaks taken out,
// the continuation's white space kept) but otherwise as written.
type field struct {
	name, value string
}

// header is a header block in order: bounces repeat fields (Received) and
// the first occurrence is usually the one that matters.
type header []field

// get returns the first value of the named field, "" when absent.
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// has reports whether the named field is present, empty or not.
func (h header) has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// nextLine cuts the first line off b, without its line ending (LF or CRLF).
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.TrimSuffix(b, []byte("\r")), nil
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:]
}

// parseHeader reads the header block b starts with, up to the first empty
// line, and returns it with the body that follows. It is lenient the way
// bounce mails need: an mbox "From " line is skipped, a line that is not a
// field ends the block (some MTAs write the body without the empty line).
// More than max bytes of header is an error: nothing legitimate needs it,
// and a hostile message could otherwise make every later step slow.
func parseHeader(b []byte, max int) (header, []byte, error) {
	var h header
	start := len(b)
	if bytes.HasPrefix(b, []byte("From ")) {
		_, b = nextLine(b)
	}
	// The current field's value grows in val and becomes a string when
	// the next field starts: appending to the string itself would copy it
	// for every continuation line.
	var val []byte
	flush := func() {
		if len(h) > 0 && val != nil {
			h[len(h)-1].value = strings.TrimSpace(string(val))
		}
		val = val[:0]
	}
	tooLarge := func() error {
		return raw.Errorf(ErrHeaderTooLarge, "a header block is longer than %d bytes (ingest.mail.max_header_bytes); want a smaller header", max)
	}
	for len(b) > 0 {
		if start-len(b) > max {
			return nil, nil, tooLarge()
		}
		line, rest := nextLine(b)
		if len(line) == 0 {
			flush()
			return h, rest, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) > 0 {
				val = append(val, line...)
			}
			b = rest
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isFieldName(line[:colon]) {
			flush()
			return h, b, nil
		}
		flush()
		h = append(h, field{name: string(line[:colon])})
		val = append(val, line[colon+1:]...)
		b = rest
	}
	if start-len(b) > max {
		return nil, nil, tooLarge()
	}
	flush()
	return h, nil, nil
}

// isFieldName reports whether b is an RFC 5322 field name.
func isFieldName(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// mediaType returns a Content-Type's lower-case type and its parameters.
// mime.ParseMediaType is strict (a duplicate parameter, a stray character
// fails it); bounce mails are not, so a value it refuses is read again
// leniently rather than treated as text/plain.
func mediaType(v string) (string, map[string]string) {
	if v == "" {
		return "text/plain", nil
	}
	if t, params, err := mime.ParseMediaType(v); err == nil {
		return t, params
	}
	parts := strings.Split(v, ";")
	t := strings.ToLower(strings.TrimSpace(parts[0]))
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := params[k]; dup {
			continue
		}
		params[k] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return t, params
}

// splitMultipart returns the body parts of a multipart body. A missing
// closing delimiter ends the last part at the end of the body: bounces often
// carry a truncated copy of the original.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	var cur []byte
	in := false
	for len(body) > 0 {
		lineStart := body
		line, rest := nextLine(body)
		if bytes.HasPrefix(line, delim) {
			tail := bytes.TrimRight(line[len(delim):], " \t")
			if len(tail) == 0 || bytes.Equal(tail, []byte("--")) {
				if in {
					parts = append(parts, trimLastBreak(cur[:len(cur)-len(lineStart)]))
				}
				if len(tail) != 0 {
					return parts
				}
				in, cur = true, rest
				body = rest
				continue
			}
		}
		body = rest
	}
	if in {
		parts = append(parts, cur)
	}
	return parts
}

// trimLastBreak drops the line break that belongs to the delimiter after a
// part.
func trimLastBreak(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// decodeTransfer undoes a Content-Transfer-Encoding. A damaged encoding
// keeps what decoded before the damage: half a diagnostic is still evidence.
func decodeTransfer(b []byte, cte string) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		if err != nil {
			return b
		}
		return out
	}
	return b
}

// toUTF8 converts text in the named charset to UTF-8. An unknown charset,
// or text that is already valid UTF-8 under a us-ascii label (8-bit text
// mislabelled, the common case), is kept as it is; reply.Clean masks what
// is still not UTF-8.
func toUTF8(b []byte, charset string) []byte {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return b
	}
	if utf8.Valid(b) && !bytes.Contains(b, []byte{0x1b}) && isASCII(b) {
		return b
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return b
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeWords decodes RFC 2047 encoded words in a header value; a value
// that does not decode is kept as written.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d := mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(strings.ToLower(charset))
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(in), nil
	}}
	out, err := d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}
