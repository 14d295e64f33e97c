// Package raw is what every input adapter starts from: one record as a
// shipper delivered it, taken out of its Vector / Fluent Bit / Filebeat
// envelope and its syslog prefix, with what those told about it (host, time,
// file position). Adapters (postfix, exim, pmta, kumo, esp) turn a Record
// into canonical attempts.
package raw

import (
	"fmt"
	"time"
)

// Record is one input record after unwrapping.
type Record struct {
	// Payload is the record proper: a log line without its syslog prefix,
	// a CSV line, or a JSON document.
	Payload []byte
	// Host is the machine that logged it (syslog host, Filebeat host.name,
	// Vector host), when known.
	Host string
	// Program and PID come from a syslog prefix ("postfix/smtp", 18733).
	Program string
	PID     int
	// Time is when the line was logged, from the syslog prefix or the
	// shipper's timestamp; zero when unknown. TimeInferred is set when the
	// year or the zone had to be guessed (RFC 3164 prefixes carry neither).
	Time         time.Time
	TimeInferred bool
	// TimeSource says what Time is: TimeLine (the line's own timestamp)
	// or TimeShipper (when the shipper read the line, a stand-in for
	// the log time); "" when Time is zero. Time is always in UTC.
	TimeSource string
	// Shipper names the envelope: "vector", "fluentbit", "filebeat",
	// "generic" (an envelope no shipper's keys identify) or "" (bare).
	// File and Offset are the shipper's file position, if given.
	Shipper string
	File    string
	Offset  int64
	// Received is when Kafka got the record (its timestamp): the reference
	// for inferring a missing year.
	Received time.Time
}

// Error says why a record cannot be decoded. Reason is a short, stable
// token (it labels the DLQ header and the metric); Err the detail.
type Error struct {
	Reason string
	Err    error
}

// Error puts the reason first, so that log lines group by it.
func (e *Error) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap gives errors.Is and errors.As the detail.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(reason, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}
