package raw

import (
	"bytes"
	"time"
)

// Reasons Unwrap refuses a record (the Reason of its *Error).
const (
	// ReasonTooLarge: the value is longer than Config.MaxBytes.
	ReasonTooLarge = "too_large"
	// ReasonEmpty: nothing is left once white space, the envelope and the
	// syslog prefix are taken off.
	ReasonEmpty = "empty"
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
		env, ok := envelope(trimmed, &cfg)
		if !ok {
			rec.Payload = value
			return rec, nil
		}
		env.fill(&rec, &cfg)
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
		setLineTime(&rec, &cfg, p.stamp, received)
	}
	rec.Payload = bytes.TrimSpace(p.msg)
	if len(rec.Payload) == 0 {
		return rec, Errorf(ReasonEmpty, "the syslog line has no message after its prefix")
	}
	return rec, nil
}

// setLineTime sets Time from a syslog stamp. A stamp without a year (RFC
// 3164) takes its year from received or, when the caller did not know
// that, from the shipper's time; with neither, Time stays zero rather than
// land in year 1. A stamp without a zone is read in cfg.Zone. Either guess
// sets TimeInferred.
func setLineTime(rec *Record, cfg *Config, st stamp, received time.Time) {
	var t time.Time
	loc := time.UTC
	if !st.zoned {
		loc = cfg.location()
	}
	if st.year == 0 {
		ref := received
		if ref.IsZero() {
			ref = rec.Time
		}
		if ref.IsZero() {
			return
		}
		var ok bool
		if t, ok = inferYear(st, loc, ref); !ok {
			return
		}
	} else {
		t = st.at(loc)
	}
	if t.IsZero() {
		return // "0001-01-01T00:00:00Z" is a stamp, but Time cannot tell it from none
	}
	rec.Time, rec.TimeSource = t, TimeLine
	rec.TimeInferred = st.year == 0 || !st.zoned
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
func envelope(obj []byte, cfg *Config) (env, bool) {
	var e env
	m, ok := objectMembers(obj)
	if !ok {
		return e, false
	}
	var (
		message, log, atTS, ts, date, host, hostname, file, appname, procid, ident, pid []byte
		marks                                                                           int
		foreign                                                                         bool
	)
	for {
		k, v, ok := m.next()
		if !ok {
			break
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
		return e, false
	}
	switch {
	case isString(message):
		e.payload = message
	case isContainer(message):
		e.payload, e.nested = message, true
	case isString(log):
		e.payload = log
	default:
		return e, false
	}
	if foreign && marks == 0 {
		return e, false
	}
	if !e.nested {
		s, ok := unquote(e.payload)
		if !ok {
			return e, false
		}
		e.payload = s
	}
	switch {
	case marks&markFilebeat != 0:
		e.shipper = "filebeat"
		e.time = atTS
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
		e.time = firstOf(atTS, date, ts)
		e.lineTime = marks&markFluentSyslog != 0
		e.hostJSON = firstOf(hostname, host)
		e.program, e.pid = ident, pid
	case marks&markVector != 0 || isString(host) || isString(ts) || isString(file):
		e.shipper = "vector"
		e.time = firstOf(ts, atTS)
		e.lineTime = marks&markVectorSyslog != 0
		e.hostJSON = firstOf(hostname, host)
		e.program, e.pid, e.file = appname, firstOf(procid, pid), file
	default:
		e.shipper = ShipperGeneric
		e.time = firstOf(atTS, ts, date)
		e.hostJSON = firstOf(hostname, host)
	}
	return e, true
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

// fill copies what the envelope told into rec.
func (e *env) fill(rec *Record, cfg *Config) {
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
	if len(e.time) > 0 {
		if t, zoned, ok := jsonTime(e.time, cfg); ok && !t.IsZero() {
			rec.Time, rec.TimeSource, rec.TimeInferred = t, TimeShipper, !zoned
			if e.lineTime {
				rec.TimeSource = TimeLine
			}
		}
	}
}
