package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bounced-dev/bounced/processor/ingest"
	"github.com/segmentio/kafka-go"
)

// Stage 1's adapter state (Postfix correlates lines by queue id, Exim
// remembers arrivals, PowerMTA its header) lives in the compacted
// ingest-state topic, so that it follows an input partition to whichever
// member reads it next. A flush saves it, at most every sessionSaveEvery,
// after the batch's attempts and dead letters and before the offset it
// covers is committed: the state read back belongs with the committed
// offset, or with one a little past it after a crash in between (the
// replayed lines then meet correlation they already made, which repeats
// it). A state is cut into chunks (keys "<source>#<i>") under a manifest
// (key "<source>") written after them to the same partition; a manifest
// whose chunks do not add up (a crash between the two) is dropped, which
// costs correlation, never attempts: status lines decode without it.

const (
	sessionSaveEvery = 10 * time.Second
	// sessionChunk keeps every record well under kafka.max_message_bytes.
	sessionChunk = 256 << 10
)

// sessionManifest says which chunks make a saved state up.
type sessionManifest struct {
	Offset int64  `json:"offset"` // the first input offset the state has not seen
	Chunks int    `json:"chunks"`
	Bytes  int    `json:"bytes"`
	CRC    uint32 `json:"crc"`
	Saved  string `json:"saved"`
}

// sessionKeeper saves and restores one input partition's adapter state.
type sessionKeeper struct {
	b        *base
	o        *owner
	sess     *ingest.Session
	src      string // the partition's source key: the state's key
	topic    string // the ingest-state topic
	stateDir string // where an older version kept the state
	part     int
	chunks   int // in the last state written or read: more are deleted
	last     time.Time
}

// sessionPartition is the ingest-state partition a source's state goes to.
func sessionPartition(src string, partitions int) int {
	h := fnv.New32a()
	h.Write([]byte(src))
	return int(h.Sum32() % uint32(max(partitions, 1)))
}

// restoreSession reads an input partition's adapter state back into sess,
// from the ingest-state topic, else from the local file an older version
// kept under stateDir.
func restoreSession(ctx context.Context, b *base, o *owner, sess *ingest.Session, src, topic, stateDir string) *sessionKeeper {
	log := b.log.With("stage", "ingest", "topic", o.topic, "partition", o.partition)
	k := &sessionKeeper{b: b, o: o, sess: sess, src: src, topic: topic, stateDir: stateDir, last: time.Now()}
	n, err := b.conn.Partitions(ctx, topic)
	if err != nil {
		log.Warn("adapter state topic unreadable; correlation starts afresh", "err", err)
		return k
	}
	k.part = sessionPartition(src, n)
	st, m, err := k.read(ctx)
	switch {
	case err != nil:
		log.Warn("adapter state not restored; correlation starts afresh", "err", err)
	case st != nil:
		if err := sess.Restore(st); err != nil {
			log.Warn("adapter state not restored; correlation starts afresh", "err", err)
			return k
		}
		log.Info("adapter state restored", "bytes", len(st), "saved", m.Saved, "covers_up_to", m.Offset)
	default:
		k.restoreFile(log)
	}
	return k
}

// read returns the latest complete state of the keeper's source, nil when
// there is none.
func (k *sessionKeeper) read(ctx context.Context) ([]byte, *sessionManifest, error) {
	src := k.src
	var manifest []byte
	chunks := map[int][]byte{}
	_, err := k.b.conn.Scan(ctx, k.topic, k.part, func(_ int64, key, value []byte) error {
		ks := string(key)
		switch {
		case ks == src:
			manifest = value
		case strings.HasPrefix(ks, src+"#"):
			if i, err := strconv.Atoi(ks[len(src)+1:]); err == nil {
				if value == nil {
					delete(chunks, i)
				} else {
					chunks[i] = value
				}
			}
		}
		return nil
	})
	if err != nil || manifest == nil {
		return nil, nil, err
	}
	var m sessionManifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("adapter state manifest: %w", err)
	}
	k.chunks = max(m.Chunks, len(chunks))
	b := make([]byte, 0, m.Bytes)
	for i := range m.Chunks {
		b = append(b, chunks[i]...)
	}
	if len(b) != m.Bytes || crc32.ChecksumIEEE(b) != m.CRC {
		return nil, nil, fmt.Errorf("adapter state saved %s does not add up (%d of %d bytes): a save was cut short", m.Saved, len(b), m.Bytes)
	}
	return b, &m, nil
}

// save writes the session's state as covering input offsets below next,
// when one is due (or always, when final).
func (k *sessionKeeper) save(ctx context.Context, next int64, final bool) error {
	if !final && time.Since(k.last) < sessionSaveEvery {
		return nil
	}
	k.last = time.Now()
	b, err := k.sess.Snapshot()
	if err != nil {
		return fmt.Errorf("adapter state: %w", err)
	}
	src := k.src
	var msgs []kafka.Message
	n := 0
	for i := 0; i < len(b) || i == 0; i += sessionChunk {
		msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.part,
			Key: []byte(src + "#" + strconv.Itoa(n)), Value: b[i:min(i+sessionChunk, len(b))]})
		n++
	}
	for i := n; i < k.chunks; i++ { // what a larger state left behind
		msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.part, Key: []byte(src + "#" + strconv.Itoa(i))})
	}
	m, err := json.Marshal(sessionManifest{Offset: next, Chunks: n, Bytes: len(b), CRC: crc32.ChecksumIEEE(b), Saved: k.last.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	msgs = append(msgs, kafka.Message{Topic: k.topic, Partition: k.part, Key: []byte(src), Value: m})
	if err := k.b.write(ctx, k.o, "ingest", "adapter_state", k.b.parts, msgs); err != nil {
		return err
	}
	k.chunks = n
	return nil
}

// restoreFile reads the state an older version saved under stateDir; the
// first save moves it to the topic.
func (k *sessionKeeper) restoreFile(log interface{ Info(string, ...any) }) {
	if k.stateDir == "" {
		return
	}
	path := filepath.Join(k.stateDir, "ingest-state", fmt.Sprintf("%s-%d.json", k.o.topic, k.o.partition))
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if err := k.sess.Restore(b); err == nil {
		log.Info("adapter state restored from the local file of an older version; it moves to the ingest-state topic", "file", path, "bytes", len(b))
	}
}
