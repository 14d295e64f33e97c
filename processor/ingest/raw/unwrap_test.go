package raw

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var recv = time.Date(2024, 4, 6, 0, 0, 0, 0, time.UTC)

func TestUnwrapEdges(t *testing.T) {
	huge := append([]byte(`{"message":"`), bytes.Repeat([]byte("x"), DefaultMaxBytes)...)
	huge = append(huge, `"}`...)
	for _, c := range []struct {
		name    string
		cfg     Config
		value   string
		reason  string // want an *Error with this Reason
		payload string
		shipper string
	}{
		{name: "empty", value: "", reason: ReasonEmpty},
		{name: "white space", value: " \t\r\n ", reason: ReasonEmpty},
		{name: "huge", value: string(huge), reason: ReasonTooLarge},
		{name: "over a small limit", cfg: Config{MaxBytes: 1024}, value: strings.Repeat("a", 1025), reason: ReasonTooLarge},
		{name: "at a small limit", cfg: Config{MaxBytes: 1024}, value: strings.Repeat("a", 1024), payload: strings.Repeat("a", 1024)},
		{name: "non-JSON text", value: "hello world\n", payload: "hello world"},
		{name: "malformed JSON passes through", value: `{"message":"x"`, payload: `{"message":"x"`},
		{name: "JSON array passes through unchanged", value: "[{\"sg_event_id\":\"x\"}]\n", payload: "[{\"sg_event_id\":\"x\"}]\n"},
		{name: "canonical passes through unchanged", value: ` {"recipient":"a@b","outcome":"bounced","source":{"host":"mx1"},"timestamp":"x"}`,
			payload: ` {"recipient":"a@b","outcome":"bounced","source":{"host":"mx1"},"timestamp":"x"}`},
		{name: "kumomta with host-like keys passes through", value: `{"type":"Delivery","id":"1","timestamp":1691595584,"nodeid":"n"}`,
			payload: `{"type":"Delivery","id":"1","timestamp":1691595584,"nodeid":"n"}`},
		{name: "mailgun message object is not an envelope", value: `{"event":"failed","recipient":"a@b","message":{"headers":{}},"timestamp":1.5}`,
			payload: `{"event":"failed","recipient":"a@b","message":{"headers":{}},"timestamp":1.5}`},
		{name: "message that is a number is not an envelope", value: `{"message":12,"host":"mx"}`, payload: `{"message":12,"host":"mx"}`},
		{name: "generic message envelope", value: `{"message":"hello"}`, payload: "hello", shipper: ShipperGeneric},
		{name: "envelope with empty message", value: `{"message":"  ","host":"mx"}`, reason: ReasonEmpty},
		{name: "envelope with escapes", value: `{"message":"a\"b\\c\u00e9\ud83d\ude00\n","host":"mx"}`, payload: "a\"b\\cé😀", shipper: "vector"},
		{name: "envelope with a lone surrogate", value: `{"message":"a\ud83d b","host":"mx"}`, reason: ReasonJSON},
		{name: "envelope with a lone low surrogate", value: `{"message":"us\udcffer@example.org","host":"mx"}`, reason: ReasonJSON},
		{name: "fluent bit log with a lone surrogate", value: `{"log":"a\udcff b","stream":"stdout"}`, reason: ReasonJSON},
		{name: "a surrogate pair across escapes is fine", value: `{"message":"\uD83D\uDE00","host":"mx"}`, payload: "😀", shipper: "vector"},
		{name: "envelope with a bad escape passes through", value: `{"message":"a\qb","host":"mx"}`, payload: `{"message":"a\qb","host":"mx"}`},
		{name: "nested payload object", value: `{"message":{"type":"Delivery","id":"1"},"source_type":"kafka"}`,
			payload: `{"type":"Delivery","id":"1"}`, shipper: "vector"},
		{name: "nested payload array", value: `{"message":[{"sg_event_id":"x"}],"host":"bridge"}`,
			payload: `[{"sg_event_id":"x"}]`, shipper: "vector"},
		{name: "JSON string payload", value: `{"message":"{\"RecordType\":\"Bounce\"}\n"}`, payload: `{"RecordType":"Bounce"}`, shipper: ShipperGeneric},
		{name: "marker allows unknown keys", value: `{"@metadata":{"beat":"filebeat"},"message":"x","custom":1}`, payload: "x", shipper: "filebeat"},
		{name: "fluent bit log", value: `{"log":"x","stream":"stdout","time":"2024-04-05T16:41:54Z"}`, payload: "x", shipper: "fluentbit"},
		{name: "message wins over log", value: `{"log":"raw line","message":"parsed"}`, payload: "parsed", shipper: "fluentbit"},
		{name: "syslog line with no message", value: "Apr  5 16:41:54 kedumba postfix/smtp[18733]:", reason: ReasonEmpty},
		{name: "trailing garbage after object", value: `{"message":"x"} trailing`, payload: `{"message":"x"} trailing`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, err := Unwrap(c.cfg, []byte(c.value), recv)
			if c.reason != "" {
				var re *Error
				if !errors.As(err, &re) || re.Reason != c.reason {
					t.Fatalf("err = %v, want reason %q", err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Payload) != c.payload {
				t.Errorf("payload = %q, want %q", rec.Payload, c.payload)
			}
			if rec.Shipper != c.shipper {
				t.Errorf("shipper = %q, want %q", rec.Shipper, c.shipper)
			}
			if !rec.Received.Equal(recv) {
				t.Errorf("received = %v", rec.Received)
			}
		})
	}
}

// Envelope fields, shipper by shipper.
func TestUnwrapEnvelopeFields(t *testing.T) {
	cfg := Config{}.WithDefaults()
	for _, c := range []struct {
		name  string
		value string
		want  Record
	}{
		{"filebeat host.hostname", `{"@timestamp":"2024-04-05T16:41:55.5Z","agent":{"type":"filebeat"},"host":{"hostname":"mx"},"log":{"file":{"path":"/var/log/mail.log"},"offset":77},"message":"x"}`,
			Record{Payload: []byte("x"), Host: "mx", Shipper: "filebeat", File: "/var/log/mail.log", Offset: 77,
				Time: time.Date(2024, 4, 5, 16, 41, 55, 5e8, time.UTC), TimeSource: TimeShipper}},
		{"fluent bit date double", `{"date":1712335314.25,"log":"x","hostname":"mx"}`,
			Record{Payload: []byte("x"), Host: "mx", Shipper: "fluentbit",
				Time: time.Date(2024, 4, 5, 16, 41, 54, 25e7, time.UTC), TimeSource: TimeShipper}},
		{"fluent bit syslog parser", `{"@timestamp":1712335314,"host":"mx","ident":"postfix/smtp","pid":"9","message":"x"}`,
			Record{Payload: []byte("x"), Host: "mx", Program: "postfix/smtp", PID: 9, Shipper: "fluentbit",
				Time: time.Date(2024, 4, 5, 16, 41, 54, 0, time.UTC), TimeSource: TimeLine}},
		{"vector parse_syslog procid number", `{"appname":"postfix/qmgr","procid":2426,"hostname":"mx","host":"shipper","message":"x","timestamp":"2024-04-05T16:41:54+02:00"}`,
			Record{Payload: []byte("x"), Host: "mx", Program: "postfix/qmgr", PID: 2426, Shipper: "vector",
				Time: time.Date(2024, 4, 5, 14, 41, 54, 0, time.UTC), TimeSource: TimeLine}},
		{"vector zoneless timestamp is inferred", `{"host":"mx","message":"x","timestamp":"2024-04-05T16:41:54"}`,
			Record{Payload: []byte("x"), Host: "mx", Shipper: "vector",
				Time: time.Date(2024, 4, 5, 16, 41, 54, 0, time.UTC), TimeSource: TimeShipper, TimeInferred: true}},
		{"syslog in the line beats the envelope", `{"host":"shipper","message":"Apr  5 16:41:54 mx postfix/smtp[1]: x","timestamp":"2024-04-05T16:41:59Z","source_type":"file"}`,
			Record{Payload: []byte("x"), Host: "mx", Program: "postfix/smtp", PID: 1, Shipper: "vector",
				Time: time.Date(2024, 4, 5, 16, 41, 54, 0, time.UTC), TimeSource: TimeLine, TimeInferred: true}},
		{"a null shipper time is an absent one", `{"host":"mx","message":"x","timestamp":null,"source_type":"file"}`,
			Record{Payload: []byte("x"), Host: "mx", Shipper: "vector"}},
		{"no shipper time", `{"host":"mx","message":"x","source_type":"file"}`,
			Record{Payload: []byte("x"), Host: "mx", Shipper: "vector"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, err := Unwrap(cfg, []byte(c.value), recv)
			if err != nil {
				t.Fatal(err)
			}
			c.want.Received = recv
			if !bytes.Equal(rec.Payload, c.want.Payload) || !rec.Time.Equal(c.want.Time) {
				t.Errorf("payload %q time %v, want %q %v", rec.Payload, rec.Time, c.want.Payload, c.want.Time)
			}
			rec.Payload, c.want.Payload = nil, nil
			rec.Time, c.want.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(rec, c.want) {
				t.Errorf("got  %+v\nwant %+v", rec, c.want)
			}
		})
	}
}

// TestUnwrapStrict: what Unwrap used to read with a guess (a repeated key,
// a time that is not one, a year 0000) it refuses with a reason.
func TestUnwrapStrict(t *testing.T) {
	cfg := Config{}.WithDefaults()
	for _, c := range []struct {
		name, value string
		reason      string // "" when accepted
		msg         string // in the error
	}{
		// repeated keys
		{"repeated message", `{"message":"a","message":"b","host":"mx"}`, ReasonJSON, `duplicate key "message"`},
		{"repeated timestamp", `{"message":"a","timestamp":"2024-04-05T16:41:54Z","timestamp":"2024-04-05T16:41:55Z","source_type":"file"}`, ReasonJSON, `duplicate key "timestamp"`},
		{"repeated key by escape", `{"message":"a","messag\u0065":"b","host":"mx"}`, ReasonJSON, `duplicate key "message"`},
		{"repeated key of a canonical record", `{"recipient":"a@b","outcome":"bounced","outcome":"delivered"}`, ReasonJSON, `duplicate key "outcome"`},
		{"repeated key in filebeat's log", `{"@timestamp":"2024-04-05T16:41:55Z","agent":{},"log":{"offset":1,"offset":2},"message":"x"}`, ReasonJSON, `duplicate key "log.offset"`},
		{"repeated key in filebeat's log.file", `{"@timestamp":"2024-04-05T16:41:55Z","agent":{},"log":{"file":{"path":"/a","path":"/b"}},"message":"x"}`, ReasonJSON, `duplicate key "log.file.path"`},
		{"repeated key in filebeat's host", `{"@timestamp":"2024-04-05T16:41:55Z","agent":{},"host":{"name":"a","name":"b"},"message":"x"}`, ReasonJSON, `duplicate key "host.name"`},
		{"repeated key in a nested payload is the adapter's", `{"message":{"a":1,"a":2},"host":"mx"}`, "", ""},
		{"repeated key in malformed JSON passes through", `{"a":1,"a":2`, "", ""},
		{"many keys, one repeated", `{` + manyKeys(100) + `,"k7":0}`, ReasonJSON, `duplicate key "k7"`},
		{"many keys, none repeated", `{` + manyKeys(100) + `}`, "", ""},
		// envelope times
		{"vector time that is not one", `{"host":"mx","message":"x","timestamp":"yesterday"}`, ReasonTime, `vector envelope's timestamp "yesterday" is not a time`},
		{"filebeat time that is not one", `{"@timestamp":"2024-13-05T16:41:55Z","agent":{},"message":"x"}`, ReasonTime, `filebeat envelope's @timestamp`},
		{"fluent bit time that is not one", `{"date":"1712335314.25x","log":"x"}`, ReasonTime, `fluentbit envelope's date`},
		{"fluent bit time as an object", `{"date":{"s":1},"log":"x"}`, ReasonTime, `is not a time`},
		{"generic time that is not one", `{"message":"x","@timestamp":"soon"}`, ReasonTime, `generic envelope's @timestamp "soon"`},
		{"time in year 0000", `{"host":"mx","message":"x","timestamp":"0000-04-05T16:41:54Z"}`, ReasonTime, `outside 1990..2100`},
		{"time in year 1", `{"host":"mx","message":"x","timestamp":"0001-01-01T00:00:00Z"}`, ReasonTime, `outside 1990..2100`},
		{"epoch 0", `{"date":0,"log":"x"}`, ReasonTime, `outside 1990..2100`},
		{"epoch milliseconds", `{"date":1712335314250,"log":"x"}`, ReasonTime, `date 1712335314250 is not a time`},
		{"epoch milliseconds under 2^40", `{"date":171233531425,"log":"x"}`, ReasonTime, `outside 1990..2100`},
		{"time in 2100", `{"host":"mx","message":"x","timestamp":"2100-01-01T00:00:00Z"}`, ReasonTime, `outside 1990..2100`},
		{"time in 1990", `{"host":"mx","message":"x","timestamp":"1990-01-01T00:00:00Z"}`, "", ""},
		{"time in 2099", `{"host":"mx","message":"x","timestamp":"2099-12-31T23:59:59Z"}`, "", ""},
		// syslog years
		{"rfc5424 year 0000", "<22>1 0000-04-05T16:41:54Z mx postfix 1 - - x", ReasonTime, `syslog timestamp 0000-04-05T16:41:54 is outside 1990..2100`},
		{"iso year 0000", "0000-04-05T16:41:54+02:00 mx postfix/smtp[1]: x", ReasonTime, `syslog timestamp 0000-04-05`},
		{"iso year 1989", "1989-12-31T23:59:59Z mx postfix/smtp[1]: x", ReasonTime, `outside 1990..2100`},
		{"iso year 2100", "2100-01-01T00:00:00Z mx postfix/smtp[1]: x", ReasonTime, `outside 1990..2100`},
		{"iso year 9999 in an envelope", `{"host":"mx","message":"9999-04-05T16:41:54Z mx postfix/smtp[1]: x"}`, ReasonTime, `syslog timestamp 9999-04-05`},
		{"iso year 2024", "2024-04-05T16:41:54Z mx postfix/smtp[1]: x", "", ""},
		{"rfc3164 has no year and takes one", "Apr  5 16:41:54 mx postfix/smtp[1]: x", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unwrap(cfg, []byte(c.value), recv)
			var re *Error
			switch {
			case c.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.reason == "":
			case !errors.As(err, &re) || re.Reason != c.reason:
				t.Fatalf("err = %v, want reason %s", err, c.reason)
			case !strings.Contains(err.Error(), c.msg):
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

// TestUnwrapYearFromBadReceived: a Kafka timestamp outside 1990..2100 (a
// producer that set none) is no reference for an RFC 3164 year.
func TestUnwrapYearFromBadReceived(t *testing.T) {
	rec, err := Unwrap(Config{}, []byte("Apr  5 16:41:54 mx postfix/smtp[1]: x"), time.UnixMilli(-1))
	if err != nil || !rec.Time.IsZero() {
		t.Errorf("time %v, err %v; want no time and no error", rec.Time, err)
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	return b.String()
}

// An RFC 3164 line without a Kafka timestamp takes its year from the
// shipper's time.
func TestUnwrapYearFromShipper(t *testing.T) {
	rec, err := Unwrap(Config{}, []byte(`{"@timestamp":1710549270.25,"log":"Mar 16 00:34:30 server postfix/qmgr[1]: x"}`), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 3, 16, 0, 34, 30, 0, time.UTC); !rec.Time.Equal(want) || !rec.TimeInferred {
		t.Errorf("time %v inferred %v, want %v inferred", rec.Time, rec.TimeInferred, want)
	}
}

// Payload aliases the value when nothing had to be decoded: no copy per
// record.
func TestUnwrapNoCopy(t *testing.T) {
	v := []byte(`{"host":"mx","message":"Apr  5 16:41:54 mx postfix/smtp[1]: hello","source_type":"file"}`)
	rec, err := Unwrap(Config{}, v, recv)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(v, []byte("hello"))
	if &rec.Payload[0] != &v[i] {
		t.Error("payload was copied")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // prefix of the error, "" for none
	}{
		{Config{}, ""},
		{Config{Zone: "Europe/Berlin", MaxBytes: 4096}, ""},
		{Config{Zone: "Local"}, ""},
		{Config{Zone: "Mars/Olympus"}, "ingest.zone:"},
		{Config{MaxBytes: -1}, "ingest.max_record_bytes:"},
		{Config{MaxBytes: 10}, "ingest.max_record_bytes:"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%+v: err = %v, want %s…", c.cfg, err, c.want)
		}
	}
	d := Config{}.WithDefaults()
	if d.Zone != "UTC" || d.MaxBytes != DefaultMaxBytes || d.loc != time.UTC {
		t.Errorf("defaults = %+v", d)
	}
}
