package intake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const testMailgunKey = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"

func mailgunBody(key, ts, token string) []byte {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(ts + token))
	return mailgunBodySig(ts, token, hex.EncodeToString(mac.Sum(nil)))
}

func mailgunBodySig(ts, token, sig string) []byte {
	b, _ := json.Marshal(map[string]any{
		"signature":  map[string]string{"timestamp": ts, "token": token, "signature": sig},
		"event-data": map[string]any{"event": "failed", "severity": "permanent", "recipient": "a@example.com"},
	})
	return b
}

func TestMailgunVerify(t *testing.T) {
	now := strconv.FormatInt(t0.Unix(), 10)
	old := strconv.FormatInt(t0.Add(-11*time.Minute).Unix(), 10)
	tests := []struct {
		name   string
		body   []byte
		result string
		status int
	}{
		{name: "valid", body: mailgunBody(testMailgunKey, now, "tok-valid")},
		{name: "numeric timestamp", body: []byte(fmt.Sprintf(`{"signature":{"timestamp":%s,"token":"tok-num","signature":%q},"event-data":{}}`,
			now, hex.EncodeToString(hmacHex(testMailgunKey, now+"tok-num"))))},
		{name: "stale", body: mailgunBody(testMailgunKey, old, "tok-old"), result: ResultStale, status: 401},
		{name: "other key", body: mailgunBody("key-other", now, "tok-1"), result: ResultBadSignature, status: 401},
		{name: "signature not hex", body: mailgunBodySig(now, "tok-1", "zz"), result: ResultBadSignature, status: 401},
		{name: "token swapped", body: mailgunBodySig(now, "tok-2", hex.EncodeToString(hmacHex(testMailgunKey, now+"tok-1"))), result: ResultBadSignature, status: 401},
		{name: "no signature object", body: []byte(`{"event-data":{"event":"failed"}}`), result: ResultMalformed, status: 400},
		{name: "no event-data", body: []byte(`{"signature":{"timestamp":"1","token":"t","signature":"00"}}`), result: ResultMalformed, status: 400},
		{name: "legacy form body", body: []byte("timestamp=1&token=t&signature=00&event=bounced"), result: ResultMalformed, status: 400},
		{name: "token too long", body: mailgunBody(testMailgunKey, now, string(make([]byte, maxTokenLen+1))), result: ResultMalformed, status: 400},
	}
	v := newMailgunVerifier(Mailgun{SigningKey: testMailgunKey}, newClock().now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := v.verify(context.Background(), httptest.NewRequest(http.MethodPost, "/", nil), tt.body)
			checkOutcome(t, out, err, tt.result, tt.status)
		})
	}
}

func hmacHex(key, data string) []byte {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// TestMailgunReplay: a token is refused once its first request was
// produced, accepted again if that produce failed, and forgotten only
// after it can no longer pass the timestamp window.
func TestMailgunReplay(t *testing.T) {
	clk := newClock()
	v := newMailgunVerifier(Mailgun{SigningKey: testMailgunKey, MaxAge: 10 * time.Minute}, clk.now)
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	body := mailgunBody(testMailgunKey, strconv.FormatInt(t0.Unix(), 10), "tok-replay")

	first, err := v.verify(context.Background(), req, body)
	checkOutcome(t, first, err, "", 0)
	_, err = v.verify(context.Background(), req, body)
	checkOutcome(t, outcome{}, err, ResultReplayed, http.StatusServiceUnavailable) // still in flight
	first.abort()                                                                  // the produce failed: the retry must pass

	retry, err := v.verify(context.Background(), req, body)
	checkOutcome(t, retry, err, "", 0)
	retry.commit()
	clk.advance(9 * time.Minute)
	_, err = v.verify(context.Background(), req, body)
	checkOutcome(t, outcome{}, err, ResultReplayed, http.StatusNotAcceptable)

	clk.advance(2 * time.Minute)
	_, err = v.verify(context.Background(), req, body)
	checkOutcome(t, outcome{}, err, ResultStale, http.StatusUnauthorized)

	clk.advance(10 * time.Minute)
	v.tokens.reserve("other", clk.now(), clk.now().Add(time.Minute))
	if _, ok := v.tokens.seen["tok-replay"]; ok {
		t.Error("an expired token is still remembered")
	}
}

func TestTokenMemoryBounded(t *testing.T) {
	m := newTokenMemory(4)
	for i := range 10 {
		m.reserve(strconv.Itoa(i), t0, t0.Add(time.Hour))
		m.commit(strconv.Itoa(i))
	}
	if len(m.seen) != 4 {
		t.Errorf("memory holds %d tokens, want 4", len(m.seen))
	}
	if got := m.reserve("9", t0, t0.Add(time.Hour)); got != tokenSeen {
		t.Errorf("the newest token is forgotten: %d", got)
	}
}

// FuzzMailgunParse: no body makes the parser panic, and an accepted body
// has every signature field.
func FuzzMailgunParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/mailgun/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseMailgun(body)
		if err != nil {
			return
		}
		if s.Timestamp == "" || s.Token == "" || s.Signature == "" || len(s.Token) > maxTokenLen {
			t.Errorf("accepted an incomplete signature: %+v", s)
		}
		_ = s.valid([]byte(testMailgunKey))
	})
}
