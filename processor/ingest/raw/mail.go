package raw

import "bytes"

// mailHeaders are header fields every mail system writes; one of them at the
// start of a line of the header block tells a message from a log line whose
// first word happens to end in a colon (a Postfix queue id).
var mailHeaders = [][]byte{
	[]byte("from:"), []byte("to:"), []byte("date:"), []byte("subject:"), []byte("received:"),
	[]byte("return-path:"), []byte("message-id:"), []byte("mime-version:"), []byte("content-type:"),
	[]byte("delivered-to:"), []byte("x-original-to:"),
}

// IsMail reports whether p looks like an RFC 5322 message: it starts with a
// header field ("Name: value", or an mbox "From " line), and its header block,
// which ends at the first empty line, has at least two fields, one of them a
// field every mail system writes.
func IsMail(p []byte) bool {
	if bytes.HasPrefix(p, []byte("From ")) {
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			p = p[i+1:]
		}
	}
	fields, known := 0, false
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return fields >= 2 && known
		}
		if line[0] == ' ' || line[0] == '\t' {
			if fields == 0 {
				return false
			}
			continue // a folded continuation
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !fieldName(line[:colon]) {
			return false
		}
		fields++
		for _, h := range mailHeaders {
			if len(line) >= len(h) && bytes.EqualFold(line[:len(h)], h) {
				known = true
				break
			}
		}
	}
	return false
}

// fieldName reports whether b is an RFC 5322 field name: printable ASCII
// other than the colon, no space.
func fieldName(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}
