package kumo

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/ingest/internal/golden"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the decoder's output")

// TestGolden decodes testdata/*.txt, one record per line, and compares the
// result with testdata/golden/<name>.jsonl. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			golden.File(t, name, *update, New(Config{}), func(l string) raw.Record { return raw.Record{Payload: []byte(l)} })
		})
	}
}

func decodeOne(t *testing.T, d *Decoder, doc string) []event.Attempt {
	t.Helper()
	atts, skip, err := d.Decode(raw.Record{Payload: []byte(doc), Host: "kumo1"})
	if err != nil || skip != "" {
		t.Fatalf("Decode = %q, %v", skip, err)
	}
	return atts
}

func TestRecords(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []event.Attempt
	}{
		{
			// Reconstructed around the fragments of KumoMTA issue #431: a
			// 552 classified InvalidRecipient yet logged TransientFailure,
			// null enhanced_code, command ".\r\n".
			name: "issue 431: null enhanced_code, CRLF command",
			doc:  `{"type":"TransientFailure","id":"a1","sender":"s@s.example","recipient":"u@example.org","queue":"example.org","response":{"code":552,"enhanced_code":null,"content":"1 Requested mail action aborted, mailbox not found","command":".\r\n"},"peer_address":{"name":"mx.example.org.","addr":"192.0.2.9"},"timestamp":1760500000,"created":1760499000,"num_attempts":2,"bounce_classification":"InvalidRecipient"}`,
			want: []event.Attempt{{
				OccurredAt: time.Unix(1760500000, 0).UTC(), SentAt: time.Unix(1760499000, 0).UTC(),
				Recipient: "u@example.org", Outcome: event.Deferred, Source: event.Source{Kind: Kind, Host: "kumo1"},
				Sender: "s@s.example", QueueID: "a1", Attempt: 2,
				SMTP:                 event.SMTP{Code: 552, Text: "1 Requested mail action aborted, mailbox not found", Command: "END-OF-DATA", RemoteHost: "mx.example.org.", RemoteIP: "192.0.2.9"},
				Diagnostic:           "1 Requested mail action aborted, mailbox not found",
				DelaySeconds:         1000,
				SourceClassification: &event.SourceClassification{Scheme: "kumomta", Value: "InvalidRecipient"},
			}},
		},
		{
			name: "recipient array: one attempt per recipient",
			doc:  `{"type":"Bounce","id":"b2","sender":"s@s.example","recipient":["a@example.org","b@example.org"],"queue":"spring:acme@example.org","response":{"code":550,"enhanced_code":{"class":5,"subject":1,"detail":1},"content":"no such user","command":"RCPT TO:<a@example.org>\r\n"},"event_time":"2025-12-03T10:00:00.5Z","timestamp":1764756000,"num_attempts":1,"egress_pool":"shared","egress_source":"192.0.2.44","headers":{"Message-ID":"<m@s.example>"},"meta":{"list":"weekly","n":3}}`,
			want: []event.Attempt{{
				OccurredAt: time.Date(2025, 12, 3, 10, 0, 0, 5e8, time.UTC),
				Recipient:  "a@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "kumo1"},
				Sender: "s@s.example", MessageID: "<m@s.example>", QueueID: "b2", CampaignID: "spring", Tenant: "acme", Pool: "shared", SendingIP: "192.0.2.44", Attempt: 1,
				SMTP:       event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "no such user", Command: "RCPT TO"},
				Diagnostic: "no such user",
				Metadata:   map[string]string{"header.message-id": "<m@s.example>", "meta.list": "weekly", "meta.n": "3"},
			}, {
				OccurredAt: time.Date(2025, 12, 3, 10, 0, 0, 5e8, time.UTC),
				Recipient:  "b@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "kumo1"},
				Sender: "s@s.example", MessageID: "<m@s.example>", QueueID: "b2", CampaignID: "spring", Tenant: "acme", Pool: "shared", SendingIP: "192.0.2.44", Attempt: 1,
				SMTP:       event.SMTP{Code: 550, Enhanced: "5.1.1", Text: "no such user", Command: "RCPT TO"},
				Diagnostic: "no such user",
				Metadata:   map[string]string{"header.message-id": "<m@s.example>", "meta.list": "weekly", "meta.n": "3"},
			}},
		},
		{
			name: "OOB is an asynchronous bounce",
			doc:  `{"type":"OOB","id":"c3","sender":"s@s.example","recipient":"u@example.org","queue":"acme@example.org","response":{"code":550,"enhanced_code":{"class":5,"subject":2,"detail":1},"content":"mailbox disabled","command":null},"timestamp":1764756000}`,
			want: []event.Attempt{{
				OccurredAt: time.Unix(1764756000, 0).UTC(),
				Recipient:  "u@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "kumo1"},
				Sender: "s@s.example", QueueID: "c3", Tenant: "acme",
				SMTP:       event.SMTP{Code: 550, Enhanced: "5.2.1", Text: "mailbox disabled"},
				Diagnostic: "mailbox disabled",
				Metadata:   map[string]string{"async": "true"},
			}},
		},
		{
			name: "AdminBounce and a KumoMTA internal reply",
			doc:  `{"type":"AdminBounce","id":"d4","recipient":"u@example.org","queue":"c:@example.org","response":{"code":551,"enhanced_code":null,"content":"KumoMTA internal: Administratively bounced","command":null},"timestamp":1764756000.25}`,
			want: []event.Attempt{{
				OccurredAt: time.Unix(1764756000, 25e7).UTC(),
				Recipient:  "u@example.org", Outcome: event.Bounced, Source: event.Source{Kind: Kind, Host: "kumo1"},
				QueueID: "d4", CampaignID: "c",
				SMTP:       event.SMTP{Code: 551, Text: "KumoMTA internal: Administratively bounced"},
				Diagnostic: "KumoMTA internal: Administratively bounced",
				Metadata:   map[string]string{"admin": "true", "local_failure": "true"},
			}},
		},
		{
			name: "Expiration",
			doc:  `{"type":"Expiration","id":"e5","recipient":"u@example.org","queue":"example.org","response":{"code":551,"enhanced_code":{"class":5,"subject":4,"detail":7},"content":"Next delivery time would be at ... which exceeds the expiry time","command":null},"timestamp":1764756000,"num_attempts":9}`,
			want: []event.Attempt{{
				OccurredAt: time.Unix(1764756000, 0).UTC(),
				Recipient:  "u@example.org", Outcome: event.Expired, Source: event.Source{Kind: Kind, Host: "kumo1"},
				QueueID: "e5", Attempt: 9,
				SMTP:       event.SMTP{Code: 551, Enhanced: "5.4.7", Text: "Next delivery time would be at ... which exceeds the expiry time"},
				Diagnostic: "Next delivery time would be at ... which exceeds the expiry time",
			}},
		},
		{
			name: "Feedback: the complainer comes from the report, not the record",
			doc:  `{"type":"Feedback","id":"f6","sender":"abuse@isp.example","recipient":"fbl@s.example","queue":"s.example","response":{"code":250,"enhanced_code":null,"content":"","command":null},"timestamp":1764756000,"feedback_report":{"feedback_type":"abuse","original_mail_from":"news@s.example","original_rcpt_to":["other@example.org"],"supplemental_trace":{"recipient":"u@example.org","campaign":"spring","tenant":"acme"}}}`,
			want: []event.Attempt{{
				OccurredAt: time.Unix(1764756000, 0).UTC(),
				Recipient:  "u@example.org", Outcome: event.Delivered, Source: event.Source{Kind: Kind, Host: "kumo1"},
				Sender: "news@s.example", CampaignID: "spring", Tenant: "acme",
				SourceClassification: &event.SourceClassification{Scheme: "kumomta_feedback", Value: "complaint"},
				Metadata:             map[string]string{"feedback_type": "abuse", "feedback_id": "f6", "meta.campaign": "spring", "meta.tenant": "acme"},
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atts := decodeOne(t, New(Config{}), tc.doc)
			for i := range atts {
				if atts[i].EventID == "" {
					t.Errorf("attempt %d has no event id", i)
				}
				atts[i].EventID = ""
			}
			gj, _ := json.Marshal(atts)
			wj, _ := json.Marshal(tc.want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestEventIDsDiffer(t *testing.T) {
	atts := decodeOne(t, New(Config{}), `{"type":"Delivery","id":"x","recipient":["a@example.org","b@example.org"],"timestamp":1}`)
	if atts[0].EventID == atts[1].EventID {
		t.Error("recipients of one batch share an event id")
	}
	atts[0].Metadata = map[string]string{"k": "v"}
	if atts[1].Metadata != nil {
		t.Error("attempts share a metadata map")
	}
}

func TestQueueParts(t *testing.T) {
	for _, tc := range []struct{ q, campaign, tenant string }{
		{"campaign:tenant@domain", "campaign", "tenant"},
		{"tenant@domain", "", "tenant"},
		{"campaign:@domain", "campaign", ""},
		{"campaign:domain", "campaign", ""},
		{"domain", "", ""},
		{"c:t@domain!routing.example", "c", "t"},
		{"", "", ""},
	} {
		c, tn := queueParts(tc.q)
		if c != tc.campaign || tn != tc.tenant {
			t.Errorf("queueParts(%q) = %q, %q; want %q, %q", tc.q, c, tn, tc.campaign, tc.tenant)
		}
	}
}

func TestConfigMeta(t *testing.T) {
	d := New(Config{CampaignMeta: "campaign_id", TenantMeta: "customer"})
	atts := decodeOne(t, d, `{"type":"Delivery","id":"x","recipient":"a@example.org","queue":"q:t@example.org","timestamp":1,"meta":{"campaign_id":"c9","customer":"k"}}`)
	if atts[0].CampaignID != "c9" || atts[0].Tenant != "k" {
		t.Errorf("campaign %q tenant %q", atts[0].CampaignID, atts[0].Tenant)
	}
}

func TestSkipsAndErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, skip, err string
	}{
		{doc: `{"type":"Reception","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipReception},
		{doc: `{"type":"Rejection","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipRejection},
		{doc: `{"type":"XferOut","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipXferOut},
		{doc: `{"type":"XferIn","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipXferIn},
		{doc: `{"type":"AdminRebind","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipAdminRebind},
		{doc: `{"type":"DeferredInjectionRebind","id":"x","recipient":"a@example.org","timestamp":1}`, skip: SkipInjectRebind},
		{doc: `{"type":"Feedback","id":"x","recipient":"fbl@s.example","timestamp":1,"feedback_report":{"feedback_type":"abuse"}}`, skip: SkipFeedbackNoRcpt},
		{doc: `{"type":"Delivery","id":"x","recipient":[],"timestamp":1}`, err: ErrRecipient},
		{doc: `{"type":"Bounce","id":"x","recipient":"","timestamp":1,"response":{"code":550,"content":"User unknown","command":"RCPT TO:<a@b.c>\r\n"}}`, err: ErrRecipient},
		{doc: `{"type":"TransientFailure","id":"x","recipient":null,"timestamp":1}`, err: ErrRecipient},
		{doc: `{"type":"Bounce","id":"x","recipient":"a@example.org","timestamp":1,"response":"550 no"}`, err: ErrUnparsable},
		{doc: `{"type":"Delivery","id":"x","timestamp":1}`, err: ErrRecipient},
		{doc: `{"type":"Delivery","id":"x","recipient":7,"timestamp":1}`, err: ErrUnparsable},
		{doc: `{"type":"Delivery","id":"x","recipient":"a@example.org"}`, err: ErrTime},
		{doc: `{"type":"Delivery","id":"x","recipient":"a@example.org","timestamp":1,"event_time":"yesterday"}`, skip: ""},
		{doc: `{"type":"Delivery","id":"x","recipient":"a@example.org","event_time":"yesterday"}`, err: ErrTime},
		{doc: `{"type":"Delivery","id":"x","recipient":"a@example.org","timestamp":-5}`, err: ErrTime},
		{doc: `{"type":"Teleport","id":"x","recipient":"a@example.org","timestamp":1}`, err: ErrUnknownType},
		{doc: `{"id":"x"}`, err: ErrUnparsable},
		{doc: `[1,2]`, err: ErrUnparsable},
		{doc: `{"type":"Delivery"} {}`, err: ErrUnparsable},
		{doc: ``, err: ErrUnparsable},
	} {
		_, skip, err := New(Config{}).Decode(raw.Record{Payload: []byte(tc.doc)})
		var re *raw.Error
		switch {
		case tc.err != "" && (!errors.As(err, &re) || re.Reason != tc.err):
			t.Errorf("%s: err %v, want %s", tc.doc, err, tc.err)
		case tc.err == "" && (err != nil || skip != tc.skip):
			t.Errorf("%s: skip %q err %v, want %q", tc.doc, skip, err, tc.skip)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := (Config{CampaignMeta: " x"}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "ingest.kumomta.campaign_meta") {
		t.Errorf("campaign_meta: %v", err)
	}
	if err := (Config{TenantMeta: "x "}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "ingest.kumomta.tenant_meta") {
		t.Errorf("tenant_meta: %v", err)
	}
}

// FuzzDecode: the decoder never panics, and a failure is always a
// *raw.Error with a "kumomta." reason.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		lines, _ := os.ReadFile(file)
		for l := range strings.SplitSeq(string(lines), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				f.Add(l)
			}
		}
	}
	f.Add(`{"type":"Feedback","id":"f","timestamp":1,"feedback_report":{"supplemental_trace":{"recipient":["a@b.c"]}}}`)
	f.Add(`{"type":"Bounce","recipient":["a@b.c",""],"timestamp":1.5,"source_address":{"address":"[::1]:25"}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		atts, skip, err := New(Config{}).Decode(raw.Record{Payload: []byte(doc)})
		if err != nil {
			var re *raw.Error
			if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, "kumomta.") {
				t.Fatalf("error %T %v is not a *raw.Error with a kumomta. reason", err, err)
			}
			return
		}
		if skip == "" && len(atts) == 0 {
			t.Fatal("neither attempts nor a skip reason")
		}
		for _, a := range atts {
			if !a.Outcome.Valid() || a.Recipient == "" || a.OccurredAt.IsZero() {
				t.Fatalf("bad attempt %+v", a)
			}
		}
	})
}

// BenchmarkDecode decodes the reference Delivery record of
// docs/reference/log_record.md.
func BenchmarkDecode(b *testing.B) {
	data, _ := os.ReadFile("testdata/kumomta.txt")
	var doc []byte
	for l := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(l, `"type":"Delivery"`) {
			doc = []byte(l)
		}
	}
	if doc == nil {
		b.Fatal("no Delivery record in testdata")
	}
	d := New(Config{})
	rec := raw.Record{Payload: doc}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, _, err := d.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestGreetingCommand: a remote reply logged without a command answered
// the greeting; KumoMTA's own messages and asynchronous records are left
// without one.
func TestGreetingCommand(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"421 banner", `{"type":"TransientFailure","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":421,"enhanced_code":{"class":4,"subject":7,"detail":0},"content":"Try later","command":null},"peer_address":{"name":"mx.example.org","addr":"192.0.2.1"}}`, "CONNECT"},
		{"554 banner bounce", `{"type":"Bounce","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":554,"content":"No SMTP service here","command":null},"peer_address":{"name":"mx.example.org","addr":"192.0.2.1"}}`, "CONNECT"},
		{"RCPT reply", `{"type":"Bounce","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":550,"content":"no","command":"RCPT TO:<a@example.org>\r\n"},"peer_address":{"name":"mx.example.org","addr":"192.0.2.1"}}`, "RCPT TO"},
		{"internal", `{"type":"TransientFailure","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":400,"content":"KumoMTA internal: failed to connect","command":null},"peer_address":{"name":"mx.example.org","addr":"192.0.2.1"}}`, ""},
		{"no peer", `{"type":"Bounce","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":550,"content":"Unable to resolve MX","command":null}}`, ""},
		{"OOB", `{"type":"OOB","id":"x","recipient":"a@example.org","timestamp":1,"response":{"code":550,"content":"gone","command":null},"peer_address":{"name":"mx.example.org","addr":"192.0.2.1"}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atts := decodeOne(t, New(Config{}), tc.doc)
			if got := atts[0].SMTP.Command; got != tc.want {
				t.Errorf("command %q, want %q", got, tc.want)
			}
		})
	}
}
