package intake

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSNSStringToSign(t *testing.T) {
	tests := []struct {
		name string
		m    snsMessage
		want string
	}{
		{
			name: "notification with subject",
			m:    snsMessage{Type: "Notification", MessageID: "id", Subject: "subj", HasSubject: true, Message: "m\nx", Timestamp: "ts", TopicArn: "arn"},
			want: "Message\nm\nx\nMessageId\nid\nSubject\nsubj\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n",
		},
		{
			name: "notification without subject",
			m:    snsMessage{Type: "Notification", MessageID: "id", Message: "m", Timestamp: "ts", TopicArn: "arn"},
			want: "Message\nm\nMessageId\nid\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n",
		},
		{
			name: "notification with an empty subject present",
			m:    snsMessage{Type: "Notification", MessageID: "id", HasSubject: true, Message: "m", Timestamp: "ts", TopicArn: "arn"},
			want: "Message\nm\nMessageId\nid\nSubject\n\nTimestamp\nts\nTopicArn\narn\nType\nNotification\n",
		},
		{
			name: "subscription confirmation",
			m:    snsMessage{Type: "SubscriptionConfirmation", MessageID: "id", Token: "tok", Message: "m", Timestamp: "ts", TopicArn: "arn", SubscribeURL: "https://s/"},
			want: "Message\nm\nMessageId\nid\nSubscribeURL\nhttps://s/\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n",
		},
		{
			name: "unsubscribe confirmation ignores the subject",
			m:    snsMessage{Type: "UnsubscribeConfirmation", MessageID: "id", Token: "tok", Subject: "s", HasSubject: true, Message: "m", Timestamp: "ts", TopicArn: "arn", SubscribeURL: "https://s/"},
			want: "Message\nm\nMessageId\nid\nSubscribeURL\nhttps://s/\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nUnsubscribeConfirmation\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.stringToSign()
			if err != nil || got != tt.want {
				t.Errorf("stringToSign() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, m := range []snsMessage{
		{},
		{Type: "Other", MessageID: "id", Timestamp: "ts", TopicArn: "arn"},
		{Type: "Notification", Timestamp: "ts", TopicArn: "arn"},
		{Type: "SubscriptionConfirmation", MessageID: "id", Timestamp: "ts", TopicArn: "arn"},
	} {
		if _, err := m.stringToSign(); err == nil {
			t.Errorf("stringToSign(%+v): no error", m)
		}
	}
}

func TestParseSNSStrict(t *testing.T) {
	ok := []string{
		`{"Type":"Notification","Subject":null,"Extra":{"a":[1,2]}}`,
		`  {"Type":"Notification"}  `,
	}
	for _, s := range ok {
		if _, err := parseSNS([]byte(s)); err != nil {
			t.Errorf("parseSNS(%s): %v", s, err)
		}
	}
	bad := []string{
		``,
		`[]`,
		`{"Type":"Notification","Message":"a","Message":"b"}`,
		`{"Type":"Notification","message":"b"}`,
		`{"Type":"Notification","Message":1}`,
		`{"Type":"Notification"} {}`,
		`{"Type":"Notification"`,
		`{"Extra":1,"extra":2}`,
	}
	for _, s := range bad {
		if _, err := parseSNS([]byte(s)); err == nil {
			t.Errorf("parseSNS(%s): no error", s)
		}
	}
	m, err := parseSNS([]byte(`{"Subject":null}`))
	if err != nil || m.HasSubject {
		t.Errorf("a null Subject is absent: %+v, %v", m, err)
	}
}

// snsCase is one request to the SES verifier.
type snsCase struct {
	name    string
	body    func(t *testing.T, f *snsFake) []byte
	header  http.Header
	topics  []string
	noConf  bool
	result  string // "" accepted for producing
	status  int
	confirm int32 // SubscribeURL visits expected
}

func TestSNSVerify(t *testing.T) {
	type change = func(m map[string]string, f *snsFake)
	signed := func(base func(*snsFake) map[string]string, version string, ch change) func(*testing.T, *snsFake) []byte {
		return func(t *testing.T, f *snsFake) []byte {
			m := base(f)
			if ch != nil {
				ch(m, f)
			}
			return f.envelope(t, m, version)
		}
	}
	note := func(*snsFake) map[string]string { return notification() }
	// tamper changes a field after signing.
	tamper := func(version string, key, value string) func(*testing.T, *snsFake) []byte {
		return func(t *testing.T, f *snsFake) []byte {
			var m map[string]string
			if err := json.Unmarshal(f.envelope(t, notification(), version), &m); err != nil {
				t.Fatal(err)
			}
			m[key] = value
			b, _ := json.Marshal(m)
			return b
		}
	}
	tests := []snsCase{
		{name: "notification v1", body: signed(note, "1", nil)},
		{name: "notification v2", body: signed(note, "2", nil)},
		{name: "notification without subject", body: signed(note, "2", change(func(m map[string]string, _ *snsFake) { delete(m, "Subject") }))},
		{name: "topic allowed", body: signed(note, "2", nil), topics: []string{"arn:aws:sns:eu-west-1:1:other", testTopic}},
		{name: "topic not allowed", body: signed(note, "2", nil), topics: []string{"arn:aws:sns:eu-west-1:1:other"}, result: ResultWrongTopic, status: 403},
		{name: "message tampered", body: tamper("2", "Message", `{"notificationType":"Bounce"}`), result: ResultBadSignature, status: 401},
		{name: "subject added", body: tamper("1", "Subject", "x"), result: ResultBadSignature, status: 401},
		{name: "version swapped", body: tamper("1", "SignatureVersion", "2"), result: ResultBadSignature, status: 401},
		{name: "unknown version", body: tamper("2", "SignatureVersion", "3"), result: ResultBadSignature, status: 401},
		{name: "signature not base64", body: tamper("2", "Signature", "***"), result: ResultBadSignature, status: 401},
		{name: "cert over http", body: signed(note, "2", change(func(m map[string]string, f *snsFake) {
			m["SigningCertURL"] = "http://127.0.0.1/cert.pem"
		})), result: ResultBadSignature, status: 401},
		{name: "cert on another host", body: signed(note, "2", change(func(m map[string]string, f *snsFake) {
			m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem"
		})), result: ResultBadSignature, status: 401},
		{name: "cert url with userinfo", body: signed(note, "2", change(func(m map[string]string, f *snsFake) {
			m["SigningCertURL"] = "https://x@evil.example/"
		})), result: ResultBadSignature, status: 401},
		{name: "cert not PEM", body: signed(note, "2", change(func(m map[string]string, f *snsFake) { m["SigningCertURL"] = f.url("/garbage.pem") })), result: ResultBadSignature, status: 401},
		{name: "cert missing", body: signed(note, "2", change(func(m map[string]string, f *snsFake) { m["SigningCertURL"] = f.url("/missing.pem") })), result: ResultFetchFailed, status: 503},
		{name: "cert redirected", body: signed(note, "2", change(func(m map[string]string, f *snsFake) { m["SigningCertURL"] = f.url("/redirect.pem") })), result: ResultFetchFailed, status: 503},
		{name: "no signature", body: tamper("2", "Signature", ""), result: ResultUnauthorized, status: 401},
		{name: "raw delivery body", body: func(*testing.T, *snsFake) []byte { return []byte(`{"notificationType":"Bounce","bounce":{}}`) }, result: ResultUnauthorized, status: 401},
		{name: "raw delivery header", body: signed(note, "2", nil), header: http.Header{"X-Amz-Sns-Rawdelivery": {"true"}}, result: ResultUnauthorized, status: 401},
		{name: "not JSON", body: func(*testing.T, *snsFake) []byte { return []byte("Type=Notification") }, result: ResultMalformed, status: 400},
		{name: "duplicate Message", body: func(t *testing.T, f *snsFake) []byte {
			b := f.envelope(t, notification(), "2")
			return append([]byte(`{"Message":"evil",`), b[1:]...)
		}, result: ResultMalformed, status: 400},
		{name: "unknown type", body: tamper("2", "Type", "Surprise"), result: ResultMalformed, status: 400},
		{name: "subscription confirmed", body: signed(subscription, "2", nil), result: ResultSubscriptionConfirmed, status: 200, confirm: 1},
		{name: "subscription left to the operator", body: signed(subscription, "1", nil), noConf: true, result: ResultIgnored, status: 200},
		{name: "subscription to a topic not allowed", body: signed(subscription, "2", nil), topics: []string{"arn:aws:sns:eu-west-1:1:other"}, result: ResultWrongTopic, status: 403},
		{name: "subscribe url elsewhere", body: signed(subscription, "2", change(func(m map[string]string, _ *snsFake) {
			m["SubscribeURL"] = "https://evil.example/subscribe"
		})), result: ResultBadSignature, status: 401},
		{name: "unsubscribe", body: signed(subscription, "2", change(func(m map[string]string, _ *snsFake) { m["Type"] = "UnsubscribeConfirmation" })), result: ResultIgnored, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSNSFake(t, t0.Add(-time.Hour), t0.Add(time.Hour))
			v, err := newSNSVerifier(SES{CertHostPattern: f.pattern(), TopicARNs: tt.topics, ConfirmSubscriptions: !tt.noConf}, f.srv.Client(), newClock().now)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/intake/ses", nil)
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			out, err := v.verify(context.Background(), req, tt.body(t, f))
			checkOutcome(t, out, err, tt.result, tt.status)
			if got := f.subscribed.Load(); got != tt.confirm {
				t.Errorf("SubscribeURL visited %d times, want %d", got, tt.confirm)
			}
		})
	}
}

// checkOutcome compares a verifier's answer with the expected result:
// "" means "to be produced".
func checkOutcome(t *testing.T, out outcome, err error, result string, status int) {
	t.Helper()
	var rf *refusal
	switch {
	case result == "":
		if err != nil || out.skip != "" {
			t.Fatalf("want produced; got %+v, %v", out, err)
		}
	case status == http.StatusOK:
		if err != nil || out.skip != result {
			t.Fatalf("want %s without producing; got %+v, %v", result, out, err)
		}
	case !errors.As(err, &rf):
		t.Fatalf("want refusal %s (%d); got %+v, %v", result, status, out, err)
	case rf.result != result || rf.status != status:
		t.Fatalf("want %s (%d); got %s (%d): %s", result, status, rf.result, rf.status, rf.reason)
	}
}

func TestSNSCertificate(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		f := newSNSFake(t, t0.Add(-2*time.Hour), t0.Add(-time.Hour))
		v, _ := newSNSVerifier(SES{CertHostPattern: f.pattern()}, f.srv.Client(), newClock().now)
		_, err := v.verify(context.Background(), httptest.NewRequest("POST", "/", nil), f.envelope(t, notification(), "2"))
		checkOutcome(t, outcome{}, err, ResultBadSignature, 401)
	})
	t.Run("not yet valid", func(t *testing.T) {
		f := newSNSFake(t, t0.Add(time.Hour), t0.Add(2*time.Hour))
		v, _ := newSNSVerifier(SES{CertHostPattern: f.pattern()}, f.srv.Client(), newClock().now)
		_, err := v.verify(context.Background(), httptest.NewRequest("POST", "/", nil), f.envelope(t, notification(), "2"))
		checkOutcome(t, outcome{}, err, ResultBadSignature, 401)
	})
	t.Run("cached by URL", func(t *testing.T) {
		f := newSNSFake(t, t0.Add(-time.Hour), t0.Add(time.Hour))
		v, _ := newSNSVerifier(SES{CertHostPattern: f.pattern()}, f.srv.Client(), newClock().now)
		for range 3 {
			out, err := v.verify(context.Background(), httptest.NewRequest("POST", "/", nil), f.envelope(t, notification(), "2"))
			checkOutcome(t, out, err, "", 0)
		}
		if n := f.certFetch.Load(); n != 1 {
			t.Errorf("certificate fetched %d times, want 1", n)
		}
	})
	t.Run("cache bounded", func(t *testing.T) {
		f := newSNSFake(t, t0.Add(-time.Hour), t0.Add(time.Hour))
		c := &certCache{certs: map[string]*x509.Certificate{}}
		for i := range maxCerts + 10 {
			if _, err := c.get(context.Background(), f.srv.Client(), f.url("/cert.pem?"+string(rune('a'+i%26))+string(rune('a'+i/26)))); err != nil {
				t.Fatal(err)
			}
		}
		if len(c.certs) != maxCerts || len(c.order) != maxCerts {
			t.Errorf("cache holds %d (%d in order), want %d", len(c.certs), len(c.order), maxCerts)
		}
	})
}

// FuzzSNS: no envelope makes parseSNS or stringToSign panic, and what
// parses yields a string to sign made only of its fields.
func FuzzSNS(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/sns/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseSNS(body)
		if err != nil {
			return
		}
		s, err := m.stringToSign()
		if err != nil {
			return
		}
		if !bytes.HasSuffix([]byte(s), []byte("Type\n"+m.Type+"\n")) {
			t.Errorf("string to sign does not end with the Type: %q", s)
		}
	})
}
