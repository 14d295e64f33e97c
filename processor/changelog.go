package processor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/streak"
)

// restore reads partition p of the state changelog to its end and returns
// the latest state of every recipient in it. The changelog is compacted and
// holds absolute states, so the last record per key wins and tombstones
// delete.
func restore(ctx context.Context, conn *broker.Clients, topic string, partition int) (map[string]streak.State, int, error) {
	states := make(map[string]streak.State)
	records := 0
	_, err := conn.Scan(ctx, topic, partition, func(off int64, key, val []byte) error {
		records++
		if val == nil {
			delete(states, string(key))
			return nil
		}
		var s streak.State
		if err := json.Unmarshal(val, &s); err != nil {
			// A record we cannot read would silently reset a recipient;
			// refuse instead so that an operator looks.
			return fmt.Errorf("state record %s/%d@%d for %q: %w", topic, partition, off, key, err)
		}
		states[string(key)] = s
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return states, records, nil
}
