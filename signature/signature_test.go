package signature

import (
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"address":"a@example.org"}`)
	at := time.Unix(1_800_000_000, 0)
	good := Sign(secret, at, body)
	if !strings.HasPrefix(good, "t=1800000000,v1=") || len(good) != len("t=1800000000,v1=")+64 {
		t.Fatalf("Sign = %q, want t=<unix>,v1=<64 hex digits>", good)
	}
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", secret, good, body, at.Add(time.Minute), true},
		{"other body", secret, good, []byte("{}"), at, false},
		{"other secret", []byte("nope"), good, body, at, false},
		{"too old", secret, good, body, at.Add(6 * time.Minute), false},
		{"from the future", secret, good, body, at.Add(-6 * time.Minute), false},
		{"no v1", secret, "t=1800000000", body, at, false},
		{"not hex", secret, "t=1800000000,v1=zz", body, at, false},
		{"garbage", secret, "hello", body, at, false},
		{"spaces", secret, " t=1800000000 , " + good[len("t=1800000000,"):], body, at, true},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
