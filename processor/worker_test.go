package processor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestRefusedForGood(t *testing.T) {
	msgs := []kafka.Message{{Value: []byte("a")}, {Value: []byte("big")}, {Value: []byte("c")}}
	tooLarge := kafka.MessageTooLargeError{Message: msgs[1], Remaining: []kafka.Message{msgs[0], msgs[2]}}
	tests := []struct {
		name string
		err  error
		want []int
	}{
		{"kafka-go refused one record before sending", tooLarge, []int{1}},
		{"wrapped", fmt.Errorf("write: %w", tooLarge), []int{1}},
		{"a whole batch refused by the broker: retried", kafka.WriteErrors{kafka.MessageSizeTooLarge, kafka.MessageSizeTooLarge, nil}, nil},
		{"a transient error: retried", kafka.NotLeaderForPartition, nil},
		{"no error", nil, nil},
		{"a record not in this write", kafka.MessageTooLargeError{Message: kafka.Message{Value: []byte("big")}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := refusedForGood(tt.err, msgs)
			if len(got) != len(tt.want) {
				t.Fatalf("refusedForGood = %v, want indexes %v", got, tt.want)
			}
			for _, i := range tt.want {
				if got[i] == nil {
					t.Errorf("index %d not refused: %v", i, got)
				}
			}
		})
	}
	var uw *unwritableError
	if err := fmt.Errorf("attempts: %w", &unwritableError{bad: map[int]error{1: tooLarge}, err: tooLarge}); !errors.As(err, &uw) || !errors.Is(err, kafka.MessageSizeTooLarge) {
		t.Errorf("unwritableError does not unwrap: %v", err)
	}
}
