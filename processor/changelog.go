package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/bounced-dev/bounced/broker"
	"github.com/bounced-dev/bounced/processor/streak"
)

// HeaderSource marks each attempt with the input position stage 1 made it
// from: "topic/partition/offset/index" (index counts the attempts one input
// record yielded). Stage 2 keeps, per attempts partition, the highest
// position applied from each input partition, so attempts that stage 1
// produced again after a crash are recognised and skipped.
const HeaderSource = "bounced.src"

// sourcesKey is the changelog key of a partition's source positions; it
// cannot be an address (no '@').
const sourcesKey = "\x00sources"

// srcPos is a position in an input partition.
type srcPos struct {
	Off int64 `json:"o"`
	Idx int   `json:"i"`
}

func (a srcPos) after(b srcPos) bool { return a.Off > b.Off || a.Off == b.Off && a.Idx > b.Idx }

// parseSource splits a HeaderSource value into its input partition and
// position.
func parseSource(v string) (string, srcPos, bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return "", srcPos{}, false
	}
	j := strings.LastIndexByte(v[:i], '/')
	if j < 0 {
		return "", srcPos{}, false
	}
	off, err1 := strconv.ParseInt(v[j+1:i], 10, 64)
	idx, err2 := strconv.Atoi(v[i+1:])
	if err1 != nil || err2 != nil {
		return "", srcPos{}, false
	}
	return v[:j], srcPos{Off: off, Idx: idx}, true
}

func sourceValue(topic string, partition int, offset int64, index int) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10) + "/" + strconv.Itoa(index)
}

// restore reads partition p of the state changelog to its end and returns
// the latest state of every recipient in it, and the partition's source
// positions. The changelog is compacted and holds absolute states, so the
// last record per key wins and tombstones delete.
func restore(ctx context.Context, conn *broker.Clients, topic string, partition int) (map[string]streak.State, map[string]srcPos, int, error) {
	states := make(map[string]streak.State)
	sources := make(map[string]srcPos)
	records := 0
	_, err := conn.Scan(ctx, topic, partition, func(off int64, key, val []byte) error {
		records++
		if string(key) == sourcesKey {
			if val == nil {
				clear(sources)
				return nil
			}
			if err := json.Unmarshal(val, &sources); err != nil {
				return fmt.Errorf("source positions %s/%d@%d: %w", topic, partition, off, err)
			}
			return nil
		}
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
		return nil, nil, 0, err
	}
	return states, sources, records, nil
}
