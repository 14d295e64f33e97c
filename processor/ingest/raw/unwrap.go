package raw

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// Reasons Unwrap refuses a record (the Reason of its *Error).
const (
	// ReasonTooLarge: the value is longer than Config.MaxBytes.
	ReasonTooLarge = "too_large"
	// ReasonEmpty: nothing is left once white space, the envelope and the
	// syslog prefix are taken off.
	ReasonEmpty = "empty"
	// ReasonJSON: a JSON object repeats a key (its top level, or an
	// envelope's object that Unwrap reads: log, log.file, host). Which
	// value the writer meant is a guess, so the record is refused rather
	// than read with the last one. The same token as ingest.ReasonJSON.
	ReasonJSON = "malformed_json"
	// ReasonTime: a timestamp is present but is not a time, or is outside
	// 1990..2100 (see ValidTime): a syslog prefix's year 0000, an
	// envelope's "timestamp": "yesterday". Only an absent time falls back
	// to another. The same token as ingest.ReasonTime.
	ReasonTime = "invalid_time"
)

// ValidTime reports whether t is within the years bounced accepts,
// 1990-01-01 to 2100-01-01 (exclusive), as ingest does for an attempt's
// times: anything outside is a clock or a parser gone wrong, and ClickHouse's
// DateTime ends in 2106.
func ValidTime(t time.Time) bool {
	return !t.Before(earliest) && t.Before(latest)
}

var (
	earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Shipper names a Record can carry besides those of the shippers.
const (
	// ShipperGeneric is an envelope that has a message but no key that
	// tells which shipper wrote it, e.g. {"message": "<webhook body>"}
	// from an HTTP-to-Kafka bridge.
	ShipperGeneric = "generic"
)

// Time sources (Record.TimeSource).
const (
	// TimeLine: Time is the line's own timestamp, from its syslog prefix or
	// from syslog fields a shipper parsed out of it.
	TimeLine = "line"
	// TimeShipper: Time is when the shipper read the line (Filebeat
	// @timestamp, Vector and Fluent Bit's timestamp): close to, but not,
	// when it was logged. Adapters whose payload carries its own time
	// (Exim, PowerMTA, KumoMTA, the ESPs) should prefer that.
	TimeShipper = "shipper"
)

func Unwrap(cfg Config, value []byte, received time.Time) (Record, error) {
	rec := Record{Received: received}
	if max := cfg.maxBytes(); len(value) > max {
		return rec, Errorf(ReasonTooLarge, "record is %d bytes, more than ingest.max_record_bytes (%d)", len(value), max)
	}
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) == 0 {
		return rec, Errorf(ReasonEmpty, "record is empty")
	}
	payload := trimmed
	switch trimmed[0] {
	case '[':
		rec.Payload = value
		return rec, nil
	case '{':
		env, ok, err := envelope(trimmed, &cfg)
		if err != nil {
			return rec, err
		}
		if !ok {
			rec.Payload = value
			return rec, nil
		}
		if err := env.fill(&rec, &cfg); err != nil {
			return rec, err
		}
		if env.nested {
			rec.Payload = env.payload
			return rec, nil
		}
		payload = bytes.TrimSpace(env.payload)
		if len(payload) == 0 {
			return rec, Errorf(ReasonEmpty, "the %s envelope's message is empty", rec.Shipper)
		}
		if payload[0] == '{' || payload[0] == '[' {
			rec.Payload = payload
			return rec, nil
		}
	}
	p, ok := parseSyslog(payload)
	if !ok {
		rec.Payload = payload
		return rec, nil
	}
	if p.host != nil {
		rec.Host = string(p.host)
	}
	if p.program != nil {
		rec.Program = string(p.program)
	}
	if p.pid != 0 {
		rec.PID = p.pid
	}
	if p.hasTime {
		if err := setLineTime(&rec, &cfg, p.stamp, received); err != nil {
			return rec, err
		}
	}
	rec.Payload = bytes.TrimSpace(p.msg)
	if len(rec.Payload) == 0 {
		return rec, Errorf(ReasonEmpty, "the syslog line has no message after its prefix")
	}
	return rec, nil
}

// setLineTime sets Time from a syslog stamp. A stamp without a year (RFC
// 3164) takes its year from received or, when the caller did not know
// that (or it is outside ValidTime's years), from the shipper's time; with
// neither, Time stays zero rather than land in year 1. A stamp without a
// zone is read in cfg.Zone. Either guess sets TimeInferred. A stamp that
// has a year outside 1990..2100 (year 0000 included) is an error: the
// line's own time is wrong, and guessing another would hide it.
func setLineTime(rec *Record, cfg *Config, st stamp, received time.Time) error {
	var t time.Time
	loc := time.UTC
	if !st.zoned {
		loc = cfg.location()
	}
	if st.noYear {
		ref := received
		if !ValidTime(ref) {
			ref = rec.Time
		}
		if !ValidTime(ref) {
			return nil
		}
		var ok bool
		if t, ok = inferYear(st, loc, ref); !ok {
			return nil
		}
	} else {
		t = st.at(loc)
		if !ValidTime(t) {
			return Errorf(ReasonTime, "the syslog timestamp %04d-%02d-%02dT%02d:%02d:%02d is outside 1990..2100",
				st.year, st.month, st.day, st.hour, st.min, st.sec)
		}
	}
	rec.Time, rec.TimeSource = t, TimeLine
	rec.TimeInferred = st.noYear || !st.zoned
	return nil
}

// env is what an envelope told.
type env struct {
	shipper  string
	payload  []byte
	nested   bool // payload is JSON text of an object or array
	host     []byte
	hostJSON []byte // a JSON string to unquote (host values may be escaped)
	program  []byte // JSON string
	pid      []byte // JSON number or string
	file     []byte // JSON string
	offset   int64
	time     []byte // JSON string or number
	timeKey  string // the key time came from
	lineTime bool   // time is the line's own, not the read time
}

// Shipper markers seen among an object's keys.
const (
	markFilebeat = 1 << iota
	markFluentBit
	markVector
	markVectorSyslog // parse_syslog ran: timestamp is the line's own
	markFluentSyslog // Fluent Bit's syslog parser ran: likewise
)

// envelope recognises a shipper envelope in obj. An object is an envelope
// when it is well formed, its message is a JSON string, object or array,
// and either it has a key that only a shipper writes (a marker) or all of
// its keys are ones shippers write. Canonical
// events, KumoMTA records and ESP bodies have none of the markers and keys
// outside the vocabulary (recipient, outcome, type, id, event, …) — their
// "host" or "timestamp" keys alone do not make them envelopes, and a
// Mailgun event's "message" object does not either, because its other keys
// (event, recipient, id) are foreign.
//
// Markers:
//
//	Filebeat   @metadata, agent, ecs or input (objects); log as an object (log.file.path, log.offset)
//	Fluent Bit log as a string (tail without a parser); ident (syslog parser); date or @timestamp as a number
//	Vector     source_type; appname, procid or facility (parse_syslog fields)
//
// Vocabulary (keys an envelope may have without a marker): message, host,
// hostname, timestamp, @timestamp, date, time, file, path, pid, severity,
// msgid, version, pri, tags, fields, stream, _p, level. Without a marker, a
// message with host, timestamp or file is Vector's file source; anything
// else is ShipperGeneric. When markers of several shippers appear,
// Filebeat's win, then Fluent Bit's, then Vector's.
//
// The payload is message when it is a string, object or array, else log
// when it is a string. Host is hostname (the syslog host a shipper parsed),
// else host as a string, else Filebeat's host.name or host.hostname.
//
// A well-formed object that repeats a key is an error (ReasonJSON), whether
// or not it is an envelope: the last value would win in one reader and the
// first in another.
func envelope(obj []byte, cfg *Config) (env, bool, error) {
	var e env
	m, ok := objectMembers(obj)
	if !ok {
		return e, false, nil
	}
	var (
		message, log, atTS, ts, date, host, hostname, file, appname, procid, ident, pid []byte
		marks                                                                           int
		foreign                                                                         bool
		seen                                                                            keySet
		repeated                                                                        []byte
	)
	for {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if repeated == nil && !seen.add(k) {
			repeated = k
		}
		switch string(k) {
		case "message":
			message = v
		case "log":
			switch {
			case isString(v):
				log = v
				marks |= markFluentBit
			case len(v) > 0 && v[0] == '{':
				log = v
				marks |= markFilebeat
			default:
				foreign = true
			}
		case "@timestamp":
			atTS = v
			if !isString(v) {
				marks |= markFluentBit
			}
		case "timestamp":
			ts = v
		case "date":
			date = v
			if !isString(v) {
				marks |= markFluentBit
			}
		case "host":
			host = v
		case "hostname":
			hostname = v
		case "file":
			file = v
		case "source_type":
			marks |= markVector
		case "appname":
			appname = v
			marks |= markVector | markVectorSyslog
		case "procid":
			procid = v
			marks |= markVector | markVectorSyslog
		case "facility":
			marks |= markVector | markVectorSyslog
		case "ident":
			ident = v
			marks |= markFluentBit | markFluentSyslog
		case "pid":
			pid = v
		case "@metadata", "agent", "ecs", "input":
			// agent.type names the beat; every beat's envelope is the
			// same, so which one does not matter here.
			if len(v) > 0 && v[0] == '{' {
				marks |= markFilebeat
			}
		case "time", "path", "severity", "msgid", "version", "pri", "tags", "fields", "stream", "_p", "level":
		default:
			foreign = true
		}
	}
	if !m.complete() {
		return e, false, nil
	}
	if repeated != nil {
		return e, false, repeatError("", repeated)
	}
	switch {
	case isString(message):
		e.payload = message
	case isContainer(message):
		e.payload, e.nested = message, true
	case isString(log):
		e.payload = log
	default:
		return e, false, nil
	}
	if foreign && marks == 0 {
		return e, false, nil
	}
	if !e.nested {
		s, lone, ok := unquoteLone(e.payload)
		if !ok {
			return e, false, nil
		}
		if lone {
			// encoding/json would read U+FFFD where the half pair was: a
			// damaged line, whose recipient or text bounced would store
			// with a guess in it.
			key := "message"
			if !isString(message) {
				key = "log"
			}
			return e, false, Errorf(ReasonJSON, "the envelope's %s holds a lone UTF-16 surrogate escape (half of a pair): the line was damaged before it was shipped", key)
		}
		e.payload = s
	}
	switch {
	case marks&markFilebeat != 0:
		e.shipper = "filebeat"
		e.time, e.timeKey = present(atTS), "@timestamp"
		for _, o := range []struct {
			path string
			obj  []byte
		}{{"host.", host}, {"log.", log}} {
			if len(o.obj) > 0 && o.obj[0] == '{' {
				if k := repeatedKey(o.obj); k != nil {
					return e, false, repeatError(o.path, k)
				}
			}
		}
		if isString(hostname) {
			e.hostJSON = hostname
		} else if isString(host) {
			e.hostJSON = host
		} else if len(host) > 0 && host[0] == '{' {
			if h, ok := member(host, "name"); ok && isString(h) {
				e.hostJSON = h
			} else if h, ok := member(host, "hostname"); ok && isString(h) {
				e.hostJSON = h
			}
		}
		if len(log) > 0 && log[0] == '{' {
			if f, ok := member(log, "file"); ok {
				if k := repeatedKey(f); k != nil {
					return e, false, repeatError("log.file.", k)
				}
				if p, ok := member(f, "path"); ok {
					e.file = p
				}
			}
			if o, ok := member(log, "offset"); ok {
				e.offset, _ = atoi(o)
			}
		}
	case marks&markFluentBit != 0:
		e.shipper = "fluentbit"
		e.time, e.timeKey = firstTime(atTS, date, ts)
		e.lineTime = marks&markFluentSyslog != 0
		e.hostJSON = firstOf(hostname, host)
		e.program, e.pid = ident, pid
	case marks&markVector != 0 || isString(host) || isString(ts) || isString(file):
		e.shipper = "vector"
		e.time, e.timeKey = firstTime(nil, nil, ts, atTS)
		e.lineTime = marks&markVectorSyslog != 0
		e.hostJSON = firstOf(hostname, host)
		e.program, e.pid, e.file = appname, firstOf(procid, pid), file
	default:
		e.shipper = ShipperGeneric
		e.time, e.timeKey = firstTime(atTS, date, ts)
		e.hostJSON = firstOf(hostname, host)
	}
	return e, true, nil
}

// repeatError is the error for an object that repeats key; path says
// which object ("log.file.", or "" for the record).
func repeatError(path string, key []byte) error {
	if bytes.IndexByte(key, '\\') >= 0 {
		if u, ok := unquote(append(append([]byte{'"'}, key...), '"')); ok {
			key = u
		}
	}
	return Errorf(ReasonJSON, "duplicate key %q in the JSON record: a key may appear once in an object", path+clipKey(key))
}

// clipKey keeps an error message short and printable whatever the key.
func clipKey(k []byte) string {
	if len(k) > 64 {
		k = k[:64]
	}
	if !utf8.Valid(k) {
		return string(bytes.ToValidUTF8(k, []byte("\uFFFD")))
	}
	return string(k)
}

// present returns v unless it is a JSON null, which says no more than an
// absent key.
func present(v []byte) []byte {
	if string(v) == "null" {
		return nil
	}
	return v
}

// firstTime returns the first time value present among @timestamp, date,
// timestamp and atTS2 (a second @timestamp, for Vector's order), and its
// key.
func firstTime(atTS, date, ts []byte, atTS2 ...[]byte) ([]byte, string) {
	switch {
	case present(atTS) != nil:
		return atTS, "@timestamp"
	case present(date) != nil:
		return date, "date"
	case present(ts) != nil:
		return ts, "timestamp"
	}
	for _, v := range atTS2 {
		if present(v) != nil {
			return v, "@timestamp"
		}
	}
	return nil, ""
}

// firstOf returns the first value that is present.
func firstOf(vals ...[]byte) []byte {
	for _, v := range vals {
		if len(v) > 0 {
			return v
		}
	}
	return nil
}

// fill copies what the envelope told into rec. A time that is present but
// is not one, or is outside ValidTime's years, is an error (ReasonTime):
// only an absent time leaves Time for the line, or the caller, to give.
func (e *env) fill(rec *Record, cfg *Config) error {
	rec.Shipper = e.shipper
	if s, ok := unquote(e.hostJSON); ok && isString(e.hostJSON) {
		rec.Host = string(s)
	}
	if s, ok := unquote(e.program); ok {
		rec.Program = string(s)
	}
	if n, ok := jsonInt(e.pid); ok && n <= 1<<31 {
		rec.PID = int(n)
	}
	if s, ok := unquote(e.file); ok {
		rec.File = string(s)
	}
	rec.Offset = e.offset
	if len(e.time) == 0 {
		return nil
	}
	t, zoned, ok := jsonTime(e.time, cfg)
	if !ok {
		return Errorf(ReasonTime, "the %s envelope's %s %s is not a time: want an RFC 3339 string or a number of epoch seconds",
			e.shipper, e.timeKey, clipKey(e.time))
	}
	if !ValidTime(t) {
		return Errorf(ReasonTime, "the %s envelope's %s %s is outside 1990..2100", e.shipper, e.timeKey, clipKey(e.time))
	}
	rec.Time, rec.TimeSource, rec.TimeInferred = t, TimeShipper, !zoned
	if e.lineTime {
		rec.TimeSource = TimeLine
	}
	return nil
}
