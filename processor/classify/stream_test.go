package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
)

func ExampleStream() {
	c, err := Default()
	if err != nil {
		panic(err)
	}
	in := strings.NewReader(`{"smtp":{"code":550,"enhanced":"5.1.1","text":"550 5.1.1 <a@example.org>: Recipient address rejected: User unknown in local recipient table"}}
{"recipient":"b@example.com","outcome":"deferred","diagnostic":"connect to mx.example.com[192.0.2.1]:25: Connection timed out"}
{"smtp":{"text":"KumoMTA internal: failed to resolve MX"}}
not json
{"recipient":"c@example.com"}
`)
	if err := Stream(context.Background(), c, in, os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// {"class":"hard","label":"mailbox_unknown","scope":"recipient","rule":"text.user_unknown"}
	// {"class":"soft","label":"network_error","scope":"transport","rule":"text.connect_failed"}
	// {"class":"soft","label":"network_error","scope":"transport","rule":"local.kumomta","local":true}
	// {"line":4,"error":"invalid JSON: invalid character 'o' in literal null (expecting 'u')"}
	// {"line":5,"error":"nothing to classify: want smtp.code, smtp.enhanced, smtp.text or diagnostic"}
}

func TestStreamLongLine(t *testing.T) {
	c := defaultClassifier(t)
	long := `{"diagnostic":"` + strings.Repeat("x", MaxLine) + `"}`
	in := long + "\n" + `{"smtp":{"code":550}}` + "\n" + `{"diagnostic":"` + strings.Repeat("y", MaxLine-100) + ` mailbox full"}`
	var out bytes.Buffer
	if err := Stream(context.Background(), c, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `"line":1`) || !strings.Contains(lines[0], "longer than") {
		t.Errorf("line 1: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"rule":"code.5xx"`) {
		t.Errorf("line 2: %s", lines[1])
	}
	if !strings.Contains(lines[2], `"label":"mailbox_full"`) {
		t.Errorf("line 3 (just under the limit, no final newline): %s", lines[2])
	}
}

func TestStreamCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Stream(ctx, defaultClassifier(t), strings.NewReader(`{"smtp":{"code":550}}`+"\n"), &bytes.Buffer{})
	if err == nil {
		t.Error("Stream ignored a canceled context")
	}
}

func FuzzClassify(f *testing.F) {
	c := defaultClassifier(f)
	f.Add(550, "5.1.1", "550-5.1.1 user unknown\n550 5.1.1 more", "RCPT TO", "gmail.com", "bounced", "", "")
	f.Add(0, "", "smtp; 421 4.7.0 [TSS04] try again later", "", "", "deferred", "ses", "Complaint")
	f.Add(0, "#5.", "(-12) KumoMTA internal 550-", "end of DATA", ".", "dropped", "", "")
	f.Add(250, "2.0.0", "", "", "", "delivered", "", "")
	f.Add(550, "5.1.1", "550 5.1.1 user unknown", "", "gmail.com", "complaint", "arf", "not-spam")
	f.Fuzz(func(t *testing.T, code int, enh, text, cmd, domain, outcome, scheme, value string) {
		v := c.Classify(Input{Code: code, Enhanced: enh, Text: text, Command: cmd, Domain: domain,
			Outcome: event.Outcome(outcome), SourceScheme: scheme, SourceValue: value})
		class, scope, ok := v.Label.Taxonomy()
		if !ok || v.Class != class || v.Scope != scope || v.Rule == "" {
			t.Fatalf("invalid verdict %+v", v)
		}
		if event.Outcome(outcome) == event.Complaint && (v.Label != event.LabelComplaint || v.Rule != RuleOutcomeComplaint) {
			t.Fatalf("outcome complaint classified %+v, want %s", v, RuleOutcomeComplaint)
		}
	})
}

func FuzzStream(f *testing.F) {
	c := defaultClassifier(f)
	f.Add([]byte(`{"smtp":{"code":550,"text":"user unknown"}}` + "\n" + `{"diagnostic":"x"}`))
	f.Add([]byte("\n\n{}\nnull\n[1]\n\"s\"\n"))
	f.Add([]byte(`{"occurred_at":"bad","recipient":1}` + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		if err := Stream(context.Background(), c, bytes.NewReader(data), &out); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		inputs := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(strings.TrimSuffix(l, "\r")) != "" {
				inputs++
			}
		}
		outs := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if out.Len() == 0 {
			outs = nil
		}
		if len(outs) != inputs {
			t.Fatalf("%d non-blank input lines, %d output lines", inputs, len(outs))
		}
		for _, o := range outs {
			var m map[string]any
			if err := json.Unmarshal([]byte(o), &m); err != nil {
				t.Fatalf("output %q is not JSON: %v", o, err)
			}
			if _, isErr := m["error"]; isErr {
				continue
			}
			l := event.Label(fmt.Sprint(m["label"]))
			if class, _, ok := l.Taxonomy(); !ok || string(class) != m["class"] {
				t.Fatalf("bad verdict line %q", o)
			}
		}
	})
}
