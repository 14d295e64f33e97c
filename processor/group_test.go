package processor

import (
	"testing"
	"time"
)

func TestWindowEnd(t *testing.T) {
	base := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		now      time.Time
		interval time.Duration
		want     time.Duration
	}{
		{"on a boundary: the next one", base, time.Second, time.Second},
		{"early in a second: the next boundary", base.Add(300 * time.Millisecond), time.Second, 700 * time.Millisecond},
		{"half way: the next boundary, half an interval away", base.Add(500 * time.Millisecond), time.Second, 500 * time.Millisecond},
		{"late in a second: the one after", base.Add(900 * time.Millisecond), time.Second, 1100 * time.Millisecond},
		{"other intervals", base.Add(4 * time.Second), 5 * time.Second, 6 * time.Second},
		{"off", base, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := windowEnd(tt.now, tt.interval); got != tt.want {
				t.Errorf("windowEnd(%s, %s) = %s, want %s", tt.now.Format("15:04:05.000"), tt.interval, got, tt.want)
			}
		})
	}
	// Two workers whose first records come at different times close their
	// windows at the same instant.
	a, b := base.Add(120*time.Millisecond), base.Add(410*time.Millisecond)
	if ea, eb := a.Add(windowEnd(a, time.Second)), b.Add(windowEnd(b, time.Second)); !ea.Equal(eb) {
		t.Errorf("windows end at %s and %s, want one instant", ea.Format("15:04:05.000"), eb.Format("15:04:05.000"))
	}
}
