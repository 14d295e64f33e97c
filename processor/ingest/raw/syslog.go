package raw

import (
	"bytes"
	"time"
)

// prefix is what a syslog prefix told about its line.
type prefix struct {
	form    string // "rfc3164", "rfc5424", "iso" (rsyslog high precision) or "tag"
	stamp   stamp  // valid when hasTime
	hasTime bool
	host    []byte
	program []byte
	pid     int
	msg     []byte
}

// stamp is a timestamp as written: wall-clock fields, and the offset when
// the writer gave one. RFC 3164 stamps have no year (noYear); a written
// year 0000 is a year, and a wrong one, not a missing one.
type stamp struct {
	year, month, day, hour, min, sec, nsec int
	off                                    int // seconds east of UTC, when zoned
	zoned                                  bool
	noYear                                 bool
}

// parseSyslog strips a syslog prefix from line. The forms, tried in this
// order on what follows an optional "<PRI>":
//
//	RFC 5424   "1 2024-04-05T16:41:54.123456+02:00 host app procid msgid [SD] msg" (only after <PRI>)
//	ISO        "2024-04-05T16:41:54.123456+02:00 host program[pid]: msg" (rsyslog high precision)
//	RFC 3164   "Apr  5 16:41:54 host program[pid]: msg"
//	tag only   "program[pid]: msg" (the pid is required, or every "QUEUEID: text" would be a tag)
//
// In the ISO and RFC 3164 forms the host may be missing (local writers omit
// it) and the "[pid]" is optional. Anything that does not parse completely
// is not a prefix: ok is false and the caller keeps the whole line, so a
// malformed prefix never loses bytes.
func parseSyslog(line []byte) (p prefix, ok bool) {
	i := 0
	hasPri := false
	if len(line) > 0 && line[0] == '<' {
		j := 1
		for j < len(line) && j <= 4 && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		if j == 1 || j > 4 || j >= len(line) || line[j] != '>' {
			return p, false
		}
		if n, _ := atoi(line[1:j]); n > 191 {
			return p, false
		}
		i, hasPri = j+1, true
	}
	rest := line[i:]
	if hasPri && len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return parse5424(rest[2:])
	}
	if st, n, ok := scanISO(rest, 'T'); ok {
		if n >= len(rest) || rest[n] != ' ' {
			return p, false
		}
		p.form, p.stamp, p.hasTime = "iso", st, true
		return hostTag(p, rest[n+1:])
	}
	if st, n, ok := scan3164(rest); ok {
		p.form, p.stamp, p.hasTime = "rfc3164", st, true
		return hostTag(p, rest[n:])
	}
	p.form = "tag"
	return tag(p, rest, true)
}

// hostTag parses "[host ]program[[pid]]: msg". A first word that is itself
// a complete tag means there is no host.
func hostTag(p prefix, s []byte) (prefix, bool) {
	if q, ok := tag(p, s, false); ok {
		return q, true
	}
	sp := bytes.IndexByte(s, ' ')
	if sp <= 0 {
		return p, false
	}
	p.host = s[:sp]
	return tag(p, s[sp+1:], false)
}

// tag parses "program[[pid]]: msg" at the start of s.
func tag(p prefix, s []byte, needPID bool) (prefix, bool) {
	j := 0
	for j < len(s) && j <= 128 && s[j] > ' ' && s[j] != '[' && s[j] != ':' && s[j] < 0x7f {
		j++
	}
	if j == 0 || j > 128 || j >= len(s) {
		return p, false
	}
	p.program = s[:j]
	p.pid = 0
	if s[j] == '[' {
		k := j + 1
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k == j+1 || k-j-1 > 10 || k >= len(s) || s[k] != ']' {
			return p, false
		}
		n, _ := atoi(s[j+1 : k])
		p.pid = int(n)
		j = k + 1
	} else if needPID {
		return p, false
	}
	if j >= len(s) || s[j] != ':' {
		return p, false
	}
	j++
	if j < len(s) {
		if s[j] != ' ' {
			return p, false
		}
		j++
	}
	p.msg = s[j:]
	return p, true
}

// parse5424 parses what follows "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID STRUCTURED-DATA [MSG], each "-" when absent. A PROCID that is
// not a number leaves PID at 0; MSGID and the structured data are dropped,
// since no mail log source puts delivery facts there.
func parse5424(s []byte) (prefix, bool) {
	p := prefix{form: "rfc5424"}
	var fields [5][]byte
	for k := range fields {
		sp := bytes.IndexByte(s, ' ')
		if sp <= 0 {
			return p, false
		}
		fields[k], s = s[:sp], s[sp+1:]
	}
	if ts := fields[0]; !(len(ts) == 1 && ts[0] == '-') {
		st, n, ok := scanISO(ts, 'T')
		if !ok || n != len(ts) {
			return p, false
		}
		p.stamp, p.hasTime = st, true
	}
	if h := fields[1]; !nilValue(h) {
		p.host = h
	}
	if a := fields[2]; !nilValue(a) {
		p.program = a
	}
	if n, ok := atoi(fields[3]); ok && n <= 1<<31 {
		p.pid = int(n)
	}
	n, ok := skipSD(s)
	if !ok {
		return p, false
	}
	s = s[n:]
	if len(s) > 0 {
		if s[0] != ' ' {
			return p, false
		}
		s = s[1:]
	}
	p.msg = bytes.TrimPrefix(s, []byte("\xef\xbb\xbf")) // RFC 5424 allows a UTF-8 BOM before MSG
	return p, true
}

func nilValue(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// skipSD returns the length of the structured data at the start of s: "-"
// or one or more "[id param="value"…]" elements, whose values may hold
// escaped quotes and brackets.
func skipSD(s []byte) (int, bool) {
	if len(s) > 0 && s[0] == '-' {
		return 1, true
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		inQuote := false
		j := i + 1
		for ; j < len(s); j++ {
			c := s[j]
			if inQuote {
				if c == '\\' {
					j++
				} else if c == '"' {
					inQuote = false
				}
				continue
			}
			if c == '"' {
				inQuote = true
			} else if c == ']' {
				break
			}
		}
		if j >= len(s) {
			return 0, false
		}
		i = j + 1
	}
	return i, i > 0
}

// scanISO reads "YYYY-MM-DD<sep>hh:mm:ss[.frac][Z|±hh:mm|±hhmm]" at the
// start of s and returns how many bytes it used. sep 0 accepts 'T' or ' '.
func scanISO(s []byte, sep byte) (st stamp, n int, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return st, 0, false
	}
	if c := s[10]; !(c == sep || (sep == 0 && (c == 'T' || c == ' '))) {
		return st, 0, false
	}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	st.year, ok1 = digits(s[0:4])
	st.month, ok2 = digits(s[5:7])
	st.day, ok3 = digits(s[8:10])
	st.hour, ok4 = digits(s[11:13])
	st.min, ok5 = digits(s[14:16])
	st.sec, ok6 = digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validClock(st) || !validDate(st.year, st.month, st.day) {
		return st, 0, false
	}
	n = 19
	n, st.nsec = fraction(s, n)
	if n < len(s) {
		switch s[n] {
		case 'Z', 'z':
			st.zoned = true
			n++
		case '+', '-':
			off, m, ok := scanOffset(s[n:])
			if !ok {
				return st, 0, false
			}
			st.off, st.zoned = off, true
			n += m
		}
	}
	return st, n, true
}

// scanOffset reads "±hh:mm" or "±hhmm".
func scanOffset(s []byte) (off, n int, ok bool) {
	var hh, mm int
	var ok1, ok2 bool
	switch {
	case len(s) >= 6 && s[3] == ':':
		hh, ok1 = digits(s[1:3])
		mm, ok2 = digits(s[4:6])
		n = 6
	case len(s) >= 5:
		hh, ok1 = digits(s[1:3])
		mm, ok2 = digits(s[3:5])
		n = 5
	default:
		return 0, 0, false
	}
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, 0, false
	}
	off = hh*3600 + mm*60
	if s[0] == '-' {
		off = -off
	}
	return off, n, true
}

// fraction reads an optional ".ddd…" at s[n:], keeping nine digits at most.
func fraction(s []byte, n int) (int, int) {
	if n >= len(s) || s[n] != '.' {
		return n, 0
	}
	j := n + 1
	ns, k := 0, 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		if k < 9 {
			ns = ns*10 + int(s[j]-'0')
			k++
		}
		j++
	}
	if j == n+1 {
		return n, 0 // a dot with no digits is not a fraction
	}
	for ; k < 9; k++ {
		ns *= 10
	}
	return j, ns
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// scan3164 reads "Mmm dd hh:mm:ss[.frac] " (day space- or zero-padded, or
// one digit) at the start of s, including the space after it.
func scan3164(s []byte) (st stamp, n int, ok bool) {
	if len(s) < 15 || s[3] != ' ' {
		return st, 0, false
	}
	for k, m := range months {
		if string(s[:3]) == m {
			st.month = k + 1
		}
	}
	if st.month == 0 {
		return st, 0, false
	}
	st.noYear = true
	i := 4
	if s[i] == ' ' {
		i++
	}
	j := i
	for j < len(s) && j-i < 2 && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i || j >= len(s) || s[j] != ' ' {
		return st, 0, false
	}
	st.day, _ = digits(s[i:j])
	i = j + 1
	if len(s) < i+8 || s[i+2] != ':' || s[i+5] != ':' {
		return st, 0, false
	}
	var ok1, ok2, ok3 bool
	st.hour, ok1 = digits(s[i : i+2])
	st.min, ok2 = digits(s[i+3 : i+5])
	st.sec, ok3 = digits(s[i+6 : i+8])
	// 2000 is a leap year: Feb 29 is a valid year-less date.
	if !(ok1 && ok2 && ok3) || !validClock(st) || !validDate(2000, st.month, st.day) {
		return st, 0, false
	}
	i, st.nsec = fraction(s, i+8)
	if i >= len(s) || s[i] != ' ' {
		return st, 0, false
	}
	return st, i + 1, true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func validClock(st stamp) bool {
	return st.hour <= 23 && st.min <= 59 && st.sec <= 60 // 60: a leap second, which time.Date rolls over
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(y, m)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// at turns a stamp with its year into an instant in UTC, reading a zoneless
// stamp in loc.
func (st stamp) at(loc *time.Location) time.Time {
	if st.zoned {
		// Computing in UTC and subtracting the offset gives the same
		// instant as time.FixedZone without allocating a Location.
		return time.Date(st.year, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, time.UTC).
			Add(-time.Duration(st.off) * time.Second)
	}
	return time.Date(st.year, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, loc).UTC()
}

// inferYear gives a year-less RFC 3164 stamp the year that puts it closest
// to ref without being more than a day after it: a log line cannot be
// written after it is received, but clocks drift and the zone may be
// wrong, so a day of slack is allowed. A "Dec 31" line received on Jan 1
// thus gets last year, and "Feb 29" the latest leap year.
func inferYear(st stamp, loc *time.Location, ref time.Time) (time.Time, bool) {
	limit := ref.Add(24 * time.Hour)
	y := ref.In(loc).Year()
	for cand := y + 1; cand >= y-8; cand-- {
		if !validDate(cand, st.month, st.day) {
			continue
		}
		st.year = cand
		if t := st.at(loc); !t.After(limit) {
			return t, true
		}
	}
	return time.Time{}, false
}
