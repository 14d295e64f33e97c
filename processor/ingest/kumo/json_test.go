package kumo

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// The reference decode: a record as json.Decoder (with UseNumber) read it
// before raw.JSON did.

func stdReadRecord(b []byte, r *record) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(r); err != nil {
		return raw.Errorf(ErrUnparsable, "%v", err)
	}
	if dec.More() {
		return raw.Errorf(ErrUnparsable, "more than one JSON value")
	}
	return nil
}

func stdRecipients(m json.RawMessage) ([]string, error) {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || string(m) == "null" {
		return nil, nil
	}
	switch m[0] {
	case '"':
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, raw.Errorf(ErrUnparsable, "recipient: %v", err)
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	case '[':
		var ss []string
		if err := json.Unmarshal(m, &ss); err != nil {
			return nil, raw.Errorf(ErrUnparsable, "recipient: %v", err)
		}
		out := ss[:0]
		for _, s := range ss {
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, raw.Errorf(ErrUnparsable, "recipient is neither a string nor an array")
}

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
	return "other"
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

// FuzzKumoDecodeJSON holds the one-pass decode to json.Decoder's: the same
// record struct and kind of error, the same recipients and feedback
// report, and the same attempts, skip or error reason.
func FuzzKumoDecodeJSON(f *testing.F) {
	lines, _ := os.ReadFile("testdata/kumomta.txt")
	for l := range strings.SplitSeq(string(lines), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			f.Add([]byte(l))
		}
	}
	for _, s := range []string{
		`{"type":"Feedback","id":"f","timestamp":1,"feedback_report":{"feedback_type":"abuse","original_rcpt_to":["a@b.c",1],"original_mail_from":"s@x.y","supplemental_trace":{"recipient":["a@b.c"],"campaign":"c","n":1.5,"big":1e400,"o":{"a":[1,null]}}}}`,
		`{"type":"Feedback","timestamp":1,"feedback_report":{"supplemental_trace":{"recipient":"a@b.c"},"supplemental_trace":{"x":1},"original_rcpt_to":null}}`,
		`{"type":"Feedback","timestamp":1,"feedback_report":[1]}`,
		`{"type":"Bounce","recipient":["a@b.c","",null],"timestamp":1.5,"source_address":{"address":"[::1]:25"}}`,
		`{"type":"Bounce","recipient":["a@b.c",5],"timestamp":"1.5"}`,
		`{"type":"Bounce","recipient":"a@b.c","timestamp":"x"}`,
		`{"type":"Bounce","recipient":"a@b.c","timestamp":"1\u0032","created":true}`,
		`{"TYPE":"Delivery","Recipient":"a@b.c","timestamp":1,"meta":{"a":1,"b":"x","c":[1,{"d":2e3}],"e":null,"f":true},"meta":{"g":"h"},"headers":{"Message-ID":"<m>","X-Campaign":["a"]}}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1,"response":{"code":250,"enhanced_code":{"class":2,"subject":0,"detail":0}},"response":{"enhanced_code":{"detail":1}},"peer_address":{"name":"mx"},"peer_address":{"addr":"192.0.2.1"}}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1,"num_attempts":1.5}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1}}garbage`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1} ]`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1} {}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1`,
		`null`,
		`"x"`,
		`[{"type":"Delivery"}]`,
		``,
	} {
		f.Add([]byte(s))
	}
	d := New(Config{CampaignMeta: "campaign", TenantMeta: "tenant"})
	f.Fuzz(func(t *testing.T, b []byte) { sameAsStd(t, d, b) })
}

// TestDecodeDeep: nesting as deep as encoding/json allows and one level
// deeper (too slow as fuzz seeds).
func TestDecodeDeep(t *testing.T) {
	d := New(Config{})
	for _, s := range []string{
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1,"meta":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1,"meta":{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}`,
		`{"type":"Delivery","recipient":"a@b.c","timestamp":1,"meta":{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}}`,
		`{"type":"Feedback","timestamp":1,"feedback_report":{"original_rcpt_to":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}`,
	} {
		sameAsStd(t, d, []byte(s))
	}
}

// sameAsStd decodes b with json.Decoder and with the one-pass decoder and
// fails on any difference.
func sameAsStd(t *testing.T, d *Decoder, b []byte) {
	t.Helper()
	var want, got record
	werr := stdReadRecord(b, &want)
	gerr := readRecordAs(b, &got, false)
	if errReason(werr) != errReason(gerr) {
		t.Fatalf("encoding/json: %v\none pass:      %v\ninput %q", werr, gerr, b)
	}
	if werr == nil {
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("encoding/json: %+v\none pass:      %+v\ninput %q", want, got, b)
		}
		wr, werr := stdRecipients(want.Recipient)
		gr, gerr := recipients(want.Recipient)
		if errReason(werr) != errReason(gerr) || !reflect.DeepEqual(wr, gr) {
			t.Fatalf("recipients: encoding/json %q (%v), one pass %q (%v)\ninput %q", wr, werr, gr, gerr, b)
		}
		if len(want.FeedbackReport) > 0 {
			var wfr, gfr feedbackReport
			werr := json.Unmarshal(want.FeedbackReport, &wfr)
			gerr := readFeedbackReportAs(want.FeedbackReport, &gfr, false)
			if errClass(werr) != errClass(gerr) || werr == nil && !reflect.DeepEqual(wfr, gfr) {
				t.Fatalf("feedback_report: encoding/json %+v (%v), one pass %+v (%v)\ninput %q", wfr, werr, gfr, gerr, b)
			}
		}
	}
	rec := raw.Record{Payload: b, Host: "h"}
	var (
		was, gas     []event.Attempt
		wskip, gskip string
	)
	if werr == nil {
		was, wskip, werr = d.record(rec, &want)
	}
	gas, gskip, gerr = d.Decode(rec)
	var se *raw.JSONStrictError
	if errors.As(gerr, &se) {
		// The strict read refuses what json.Decoder reads with a guess
		// (a repeated key, a string that is not UTF-8).
		if errReason(gerr) != ErrUnparsable || len(gas) != 0 || !strictViolation(b) {
			t.Fatalf("strict refusal %v with reason %q and %d attempts; input %q", gerr, errReason(gerr), len(gas), b)
		}
		return
	}
	if errReason(werr) != errReason(gerr) || wskip != gskip || !reflect.DeepEqual(was, gas) {
		t.Fatalf("encoding/json: %+v %q (%v)\none pass:      %+v %q (%v)\ninput %q", was, wskip, werr, gas, gskip, gerr, b)
	}
}
