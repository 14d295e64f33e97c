package intake

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	b := newBucket(2, 3) // 2/s, burst 3
	for i := range 3 {
		if _, ok := b.take(t0); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	wait, ok := b.take(t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok %v, wait %s; want refused, 500ms", ok, wait)
	}
	if _, ok := b.take(t0.Add(499 * time.Millisecond)); ok {
		t.Fatal("a token before it refilled")
	}
	if _, ok := b.take(t0.Add(500 * time.Millisecond)); !ok {
		t.Fatal("no token after it refilled")
	}
	// A clock stepping back neither refills nor breaks the bucket.
	if _, ok := b.take(t0.Add(-time.Hour)); ok {
		t.Fatal("a clock stepping back refilled the bucket")
	}
	// Idle for long: refilled to the burst, not beyond.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if _, ok := b.take(later); !ok {
			t.Fatalf("request %d after idling refused", i)
		}
	}
	if _, ok := b.take(later); ok {
		t.Fatal("the bucket refilled beyond its burst")
	}
}
