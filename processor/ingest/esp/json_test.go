package esp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
	"github.com/bounced-dev/bounced/processor/reply"
)

// The reference decode: the bodies as encoding/json read them before
// raw.JSON did. The FuzzXDecodeJSON tests feed the same bytes to both and
// require the same attempts, skip or error reason, and (one level down)
// the same structs and the same kind of error.

// UnmarshalJSON accepts a string, number, boolean or null.
func (f *flex) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("want a string or number, got %s", reply.Clip(string(b), 32))
	}
	*f = flex(s)
	return nil
}

// UnmarshalJSON accepts a string, a list of scalars, or null.
func (l *strList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return err
		}
		out := make([]string, 0, len(raws))
		for _, r := range raws {
			if s, ok := scalar(r); ok && s != "" {
				out = append(out, s)
			}
		}
		*l = out
		return nil
	}
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("want a string or a list, got %s", reply.Clip(string(b), 32))
	}
	if s == "" {
		*l = nil
	} else {
		*l = strList{s}
	}
	return nil
}

func stdSES(d *SES, rec raw.Record) ([]event.Attempt, string, error) {
	var body sesBody
	if err := json.Unmarshal(rec.Payload, &body); err != nil {
		return nil, "", jsonFail(KindSES, err)
	}
	return d.notification(&rec, &body)
}

func stdSESMessage(msg json.RawMessage) (*sesEvent, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || string(msg) == "null" {
		return nil, fail(KindSES, reasonShape, "SNS Notification without a Message")
	}
	if msg[0] == '"' {
		var s string
		if err := json.Unmarshal(msg, &s); err != nil {
			return nil, jsonFail(KindSES, err)
		}
		msg = []byte(s)
	}
	var ev sesEvent
	if err := json.Unmarshal(msg, &ev); err != nil {
		return nil, fail(KindSES, "sns_message", "SNS Message is not an SES event: %v", err)
	}
	return &ev, nil
}

func stdReadSendGrid(payload []byte) ([]sgItem, error) {
	p := bytes.TrimSpace(payload)
	var events []json.RawMessage
	switch {
	case len(p) > 0 && p[0] == '[':
		if err := json.Unmarshal(p, &events); err != nil {
			return nil, jsonFail(KindSendGrid, err)
		}
	case len(p) > 0 && p[0] == '{':
		events = []json.RawMessage{p}
	default:
		return nil, fail(KindSendGrid, reasonJSON, "body is neither a JSON array nor an object")
	}
	var items []sgItem
	for _, b := range events {
		var it sgItem
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			it.err = sgErr(reasonJSON, "not a JSON object")
		} else if err := json.Unmarshal(b, &it.ev); err != nil {
			it.err = sgErr(reasonJSON, err.Error())
		}
		for k, v := range fields {
			if !sgFields[k] {
				it.args = append(it.args, sgArg{key: k, val: v})
			}
		}
		items = append(items, it)
	}
	return items, nil
}

func stdMailgun(d *Mailgun, rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindMailgun, reasonJSON, "body is not a JSON object (legacy form-encoded webhooks are not supported)")
	}
	var body mgBody
	if err := json.Unmarshal(p, &body); err != nil {
		return nil, "", jsonFail(KindMailgun, err)
	}
	return d.event(&rec, &body)
}

func stdMgCampaign(cs []json.RawMessage) string {
	for _, c := range cs {
		if s, ok := scalar(c); ok && s != "" {
			return s
		}
		var o struct {
			ID   flex   `json:"id"`
			Name string `json:"name"`
		}
		if json.Unmarshal(c, &o) == nil {
			if id := firstNonEmpty(string(o.ID), o.Name); id != "" {
				return id
			}
		}
	}
	return ""
}

func stdPostmark(d *Postmark, rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindPostmark, reasonJSON, "body is not a JSON object")
	}
	var r pmRecord
	if err := json.Unmarshal(p, &r); err != nil {
		return nil, "", jsonFail(KindPostmark, err)
	}
	return d.record(&rec, &r)
}

func stdPostal(d *Postal, rec raw.Record) ([]event.Attempt, string, error) {
	p := bytes.TrimSpace(rec.Payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, "", fail(KindPostal, reasonJSON, "body is not a JSON object")
	}
	var b psBody
	if err := json.Unmarshal(p, &b); err != nil {
		return nil, "", jsonFail(KindPostal, err)
	}
	return d.body(&rec, &b)
}

// errClass names the kind of a decode error, so that encoding/json's and
// raw.JSON's can be compared.
func errClass(err error) string {
	var (
		se  *json.SyntaxError
		rse *raw.JSONSyntaxError
		te  *json.UnmarshalTypeError
		rte *raw.JSONTypeError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se), errors.As(err, &rse):
		return "syntax"
	case errors.As(err, &te), errors.As(err, &rte):
		return "type"
	}
	return "method" // an UnmarshalJSON's error (flex, strList)
}

// sameStruct decodes b both ways into T and fails on any difference.
func sameStruct[T any](t *testing.T, b []byte, read func(*raw.JSON, *T)) (T, bool) {
	t.Helper()
	var want, got T
	werr := json.Unmarshal(b, &want)
	gerr := readJSONAs(b, &got, read, false)
	if wc, gc := errClass(werr), errClass(gerr); wc != gc {
		t.Fatalf("encoding/json: %s (%v)\none pass:      %s (%v)\ninput %q", wc, werr, gc, gerr, b)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %q", want, got, b)
	}
	return want, werr == nil
}

type result struct {
	as   []event.Attempt
	skip string
	err  error
}

// sameResult compares two Decode results: the same attempts, skip, or error
// reason.
//
// The decoders read strictly: they may refuse, as <kind>.malformed_json
// wrapping a *raw.JSONStrictError, a body encoding/json reads with a guess
// (strictViolation must agree that it holds a repeated key or a string
// that is not UTF-8).
func sameResult(t *testing.T, b []byte, want, got result) {
	t.Helper()
	var se *raw.JSONStrictError
	if errors.As(got.err, &se) {
		if r := errReason(got.err); !strings.HasSuffix(r, "."+reasonJSON) || len(got.as) != 0 || !strictViolation(b) {
			t.Fatalf("strict refusal %v with reason %q and %d attempts\ninput %q", got.err, r, len(got.as), b)
		}
		return
	}
	if wr, gr := errReason(want.err), errReason(got.err); wr != gr || want.skip != got.skip {
		t.Fatalf("encoding/json: %q %q (%v)\none pass:      %q %q (%v)\ninput %q", wr, want.skip, want.err, gr, got.skip, got.err, b)
	}
	if !reflect.DeepEqual(want.as, got.as) {
		t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %q", want.as, got.as, b)
	}
}

func errReason(err error) string {
	var re *raw.Error
	if errors.As(err, &re) {
		return re.Reason
	}
	if err != nil {
		return "not a raw.Error: " + err.Error()
	}
	return ""
}

// jsonSeeds are bodies that reach the corners of encoding/json's rules, in
// any provider's shape.
var jsonSeeds = []string{
	`{"RecordType":"Bounce","Type":"HardBounce","TypeCode":1,"ID":42,"Email":"a@example.org","BouncedAt":"2024-05-01T10:00:00Z","Inactive":true,"CanActivate":null,"Metadata":{"campaign":"c","n":1,"o":{"a" : [1, 2]}},"Tag":"t<&>"}`,
	`{"recordtype":"Bounce","TYPE":"HardBounce","email":"a@example.org","bouncedat":"2024-05-01T10:00:00Z","Inactive":"yes"}`,
	`{"RecordType":"Bounce","ID":{"a":1},"Email":"a@example.org","BouncedAt":"2024-05-01T10:00:00Z"}`,
	`{"RecordType":"Delivery","Recipient":"a@example.org","DeliveredAt":"2024-05-01T10:00:00Z","Metadata":{"a":"1"},"Metadata":{"b":"2"},"Metadata":null}`,
	`{"event-data":{"event":"failed","severity":"permanent","recipient":"a@example.org","timestamp":"1714557600.5","campaigns":[{"id":7},"",null,{"name":"n"}],"tags":["x",1,null,true,""],"user-variables":{"campaign":{"a":1},"x":null},"delivery-status":{"code":"550","attempt-no":[1]}}}`,
	`{"event-data":{"event":"failed","recipient":"a@example.org","timestamp":1714557600,"campaigns":[{"id":{"x":1}},{"name":5},{"id":"c9"}],"tags":"one"},"event-data":null,"event":"delivered","recipient":"b@example.org","timestamp":1}`,
	`{"Event-Data":{"Event":"delivered","RECIPIENT":"a@example.org","timestamp":1e9,"envelope":{"sender":"s@x.y","sending-ip":"192.0.2.1"},"message":{"headers":{"message-id":"m@x"}}},"signature":{}}`,
	`[{"email":"a@example.org","timestamp":1714557600,"event":"bounce","status":"5.1.1","reason":"550 5.1.1 no","category":["a","b"],"campaign_id":"c","Email":"b@example.org","pool":{"name":"p","id":1},"x":{"y" : [ 1 ]}},null,{"event":"open"}]`,
	`[{"email":"a@example.org","timestamp":"1714557600","event":"deferred","attempt":"3","category":"one","sg_event_id":"e1","EVENT":"bounce"}]`,
	`[{"email":"a@example.org","timestamp":1714557600,"event":"bounce","category":{"a":1}}]`,
	`[{"email":"a@example.org","timestamp":1714557600,"event":"bounce","Category":{"a":1}}]`,
	`[{"email":5,"timestamp":1714557600,"event":"bounce"},{"email":"a@example.org","event":"open"}]`,
	`[{"event":"open"},1,{"event":"click"}]`,
	`[{"event":"open"},{"event":"click"}`,
	`[]`,
	`{"email":"a@example.org","timestamp":1714557600,"event":"delivered","response":"250 ok","sg_event_id":"x"} x`,
	`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.org"},{"emailAddress":"b@example.org"}],"bouncedRecipients":[null],"timestamp":"2024-05-01T10:00:00Z"},"mail":{"headers":[{"name":"X-Campaign-ID","value":"h"}],"tags":{"campaign":["t",2],"n":null,"s":"x"},"commonHeaders":{"messageId":"<m>"}}}`,
	`{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":"a@example.org"},{"emailAddress":"b@example.org"},{"emailAddress":"c@example.org"}],"bouncedRecipients":[{"status":"5.0.0"}],"bouncedRecipients":[{"action":"failed"},{"action":"x"}]},"mail":{"timestamp":"2024-05-01T10:00:00Z"}}`,
	`{"eventType":"Delivery","delivery":{"recipients":["a@example.org","b@example.org"],"recipients":[null,"c@example.org",null],"processingTimeMillis":"12","timestamp":"2024-05-01T10:00:00Z"},"mail":{"tags":{"campaign":{"x":1}}}}`,
	`{"Type":"Notification","MessageId":"m","Message":"{\"notificationType\":\"Complaint\",\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"a@example.org\"}],\"timestamp\":\"2024-05-01T10:00:00Z\"},\"mail\":{}}\n"}`,
	`{"Type":"Notification","MessageId":"m","Message":{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"timestamp":"2024-05-01T10:00:00Z"}}}`,
	`{"Type":"Notification","Message":"{\"notificationType\":\"Bounce\"} x"}`,
	`{"Type":"Notification","Message":"[1]"}`,
	`{"Type":"Notification","Message":null}`,
	`{"type":"notification","message":"{\"eventType\":\"DeliveryDelay\",\"deliveryDelay\":{\"delayType\":\"MailboxFull\",\"delayedRecipients\":[{\"emailAddress\":\"a@example.org\",\"status\":\"4.2.2\",\"diagnosticCode\":\"smtp; 452 4.2.2 full\"}],\"timestamp\":\"2024-05-01T10:00:00Z\"}}"}`,
	"{\"RecordType\":\"Bounce\",\"Email\":\"a\xffb@example.org\",\"Tag\":\"\xfe\u2028\",\"BouncedAt\":\"2024-05-01T10:00:00Z\",\"Details\":\"\\ud800 x\"}",
}

// TestDeepBodies: nesting as deep as encoding/json allows and one level
// deeper (too slow as fuzz seeds).
func TestDeepBodies(t *testing.T) {
	for _, s := range []string{
		`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
		`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`[{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]`,
		`[{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}]`,
		`{"event-data":{"campaigns":[` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `]}}`,
	} {
		b := []byte(s)
		sameSES(t, NewSES(Config{}), b)
		sameSendGrid(t, NewSendGrid(Config{}), b)
		sameMailgun(t, NewMailgun(Config{}), b)
		samePostmark(t, NewPostmark(Config{}), b)
		samePostal(t, NewPostal(Config{}), b)
	}
}

// fuzzSeeds adds every sample and table body of kind, and the JSON seeds.
func fuzzSeeds(f *testing.F, kind string) {
	files, _ := filepath.Glob("testdata/" + kind + "_*.txt")
	for _, p := range files {
		f.Add(readSample(f, p))
	}
	for _, tc := range tableCases() {
		if strings.HasPrefix(tc.kind, kind) {
			f.Add([]byte(tc.body))
		}
	}
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
}

func FuzzSESDecodeJSON(f *testing.F) {
	fuzzSeeds(f, KindSES)
	d := NewSES(Config{})
	f.Fuzz(func(t *testing.T, b []byte) { sameSES(t, d, b) })
}

func sameSES(t *testing.T, d *SES, b []byte) {
	t.Helper()
	if body, ok := sameStruct(t, b, readSESBody); ok && body.Message != nil {
		wev, werr := stdSESMessage(body.Message)
		gev, gerr := sesMessage(body.Message)
		var se *raw.JSONStrictError
		if errors.As(gerr, &se) {
			if !strictViolation(body.Message) {
				t.Fatalf("SNS Message: strict refusal %v of a message without a repeated key or bad UTF-8\ninput %q", gerr, b)
			}
		} else if errReason(werr) != errReason(gerr) || !reflect.DeepEqual(wev, gev) {
			t.Fatalf("SNS Message: encoding/json %+v (%v), one pass %+v (%v)\ninput %q", wev, werr, gev, gerr, b)
		}
	}
	rec := raw.Record{Payload: b, Host: "h"}
	var want, got result
	want.as, want.skip, want.err = stdSES(d, rec)
	got.as, got.skip, got.err = d.Decode(rec)
	sameResult(t, b, want, got)
}

func FuzzSendGridDecodeJSON(f *testing.F) {
	fuzzSeeds(f, KindSendGrid)
	d := NewSendGrid(Config{})
	f.Fuzz(func(t *testing.T, b []byte) { sameSendGrid(t, d, b) })
}

func sameSendGrid(t *testing.T, d *SendGrid, b []byte) {
	t.Helper()
	witems, werr := stdReadSendGrid(b)
	gitems, gerr := readSendGridAs(b, false)
	if errReason(werr) != errReason(gerr) || len(witems) != len(gitems) {
		t.Fatalf("encoding/json: %d events (%v)\none pass:      %d events (%v)\ninput %q", len(witems), werr, len(gitems), gerr, b)
	}
	for i := range witems {
		w, g := &witems[i], &gitems[i]
		if (w.err == nil) != (g.err == nil) || w.err != nil && w.err.reason != g.err.reason {
			t.Fatalf("event %d: encoding/json %v, one pass %v\ninput %q", i, w.err, g.err, b)
		}
		if w.err == nil && (!reflect.DeepEqual(w.ev, g.ev) || !reflect.DeepEqual(argMap(w.args), argMap(g.args))) {
			t.Fatalf("event %d: encoding/json %+v %q\none pass:      %+v %q\ninput %q", i, w.ev, argMap(w.args), g.ev, argMap(g.args), b)
		}
	}
	rec := raw.Record{Payload: b, Host: "h"}
	var want, got result
	if werr != nil {
		want.err = werr
	} else {
		want.as, want.skip, want.err = d.events(&rec, witems)
	}
	got.as, got.skip, got.err = d.Decode(rec)
	sameResult(t, b, want, got)
}

func argMap(args []sgArg) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		m[a.key] = valueText(a.val)
	}
	return m
}

func FuzzMailgunDecodeJSON(f *testing.F) {
	fuzzSeeds(f, KindMailgun)
	d := NewMailgun(Config{})
	f.Fuzz(func(t *testing.T, b []byte) { sameMailgun(t, d, b) })
}

func sameMailgun(t *testing.T, d *Mailgun, b []byte) {
	t.Helper()
	if body, ok := sameStruct(t, b, readMGBody); ok {
		for _, cs := range [][]json.RawMessage{body.Campaigns, eventCampaigns(body.EventData)} {
			if w, g := stdMgCampaign(cs), mgCampaign(cs); w != g {
				t.Fatalf("campaign: encoding/json %q, one pass %q\ninput %q", w, g, b)
			}
		}
	}
	rec := raw.Record{Payload: b, Host: "h"}
	var want, got result
	want.as, want.skip, want.err = stdMailgun(d, rec)
	got.as, got.skip, got.err = d.Decode(rec)
	sameResult(t, b, want, got)
}

func eventCampaigns(ev *mgEvent) []json.RawMessage {
	if ev == nil {
		return nil
	}
	return ev.Campaigns
}

func FuzzPostmarkDecodeJSON(f *testing.F) {
	fuzzSeeds(f, KindPostmark)
	d := NewPostmark(Config{})
	f.Fuzz(func(t *testing.T, b []byte) { samePostmark(t, d, b) })
}

func samePostmark(t *testing.T, d *Postmark, b []byte) {
	t.Helper()
	sameStruct(t, b, readPMRecord)
	rec := raw.Record{Payload: b, Host: "h"}
	var want, got result
	want.as, want.skip, want.err = stdPostmark(d, rec)
	got.as, got.skip, got.err = d.Decode(rec)
	sameResult(t, b, want, got)
}

func FuzzPostalDecodeJSON(f *testing.F) {
	fuzzSeeds(f, KindPostal)
	d := NewPostal(Config{})
	f.Fuzz(func(t *testing.T, b []byte) { samePostal(t, d, b) })
}

func samePostal(t *testing.T, d *Postal, b []byte) {
	t.Helper()
	sameStruct(t, b, readPSBody)
	rec := raw.Record{Payload: b, Host: "h"}
	var want, got result
	want.as, want.skip, want.err = stdPostal(d, rec)
	got.as, got.skip, got.err = d.Decode(rec)
	sameResult(t, b, want, got)
}

// TestJoinTags holds appendJSONString to json.Marshal.
func TestJoinTags(t *testing.T) {
	for _, tags := range [][]string{
		{"a"}, {"a,b", `q"uote`, `back\slash`}, {"<script>&amp;</script>"}, {"\x00\x01\x1f\t\n\r\b\f\x7f"},
		{"é \u2028 \u2029 \xff \xed\xa0\x80 😀"}, {""},
	} {
		want, _ := json.Marshal(tags)
		if got := joinTags(tags); got != string(want) {
			t.Errorf("joinTags(%q) = %s, want %s", tags, got, want)
		}
	}
}

func FuzzJoinTags(f *testing.F) {
	f.Add("a", "<b>")
	f.Add("\xff\u2028", "\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		want, _ := json.Marshal([]string{a, b})
		if got := joinTags([]string{a, b}); got != string(want) {
			t.Fatalf("joinTags(%q, %q) = %s, want %s", a, b, got, want)
		}
	})
}
