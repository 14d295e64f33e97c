package raw

import (
	"bytes"
	"errors"
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
		{name: "envelope with a lone surrogate", value: `{"message":"a\ud83d b","host":"mx"}`, payload: "a\uFFFD b", shipper: "vector"},
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
		{"unparsable shipper time is dropped", `{"host":"mx","message":"x","timestamp":"yesterday"}`,
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
