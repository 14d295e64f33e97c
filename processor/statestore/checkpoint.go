package statestore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/bounced-dev/bounced/processor/streak"
)

// magic opens every checkpoint file; the byte after it is the version.
const magic = "bounced-state\x00"

const version = 1

// Checkpoint describes what a checkpoint file covers.
type Checkpoint struct {
	// Topic and Partition name the changelog partition the table folds.
	Topic     string
	Partition int
	// Offset is the changelog offset the table is complete up to: reading
	// the changelog from Offset to its end brings the table up to date.
	Offset int64
	// Meta is the caller's own data, kept with the table (stage 2 keeps
	// its input positions there).
	Meta []byte
}

// ErrNoCheckpoint is returned by Load when the file does not exist.
var ErrNoCheckpoint = errors.New("statestore: no checkpoint")

// Save writes t and c to path atomically: a crash leaves the previous
// checkpoint or the new one, never a torn file, and Load verifies a
// checksum besides.
func Save(path string, t *Table, c Checkpoint) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	w := bufio.NewWriterSize(io.MultiWriter(tmp, crc), 1<<20)
	buf := make([]byte, 0, 256)
	buf = append(buf, magic...)
	buf = append(buf, version)
	buf = appendString(buf, c.Topic)
	buf = binary.AppendVarint(buf, int64(c.Partition))
	buf = binary.AppendVarint(buf, c.Offset)
	buf = appendString(buf, string(c.Meta))
	buf = binary.AppendUvarint(buf, uint64(t.Len()))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	var werr error
	t.Range(func(key []byte, s streak.State) bool {
		buf = appendString(buf[:0], string(key))
		n := len(buf)
		buf = append(buf, 0, 0, 0, 0) // state length, filled in below
		if buf, werr = s.AppendBinary(buf); werr != nil {
			return false
		}
		binary.LittleEndian.PutUint32(buf[n:], uint32(len(buf)-n-4))
		_, werr = w.Write(buf)
		return werr == nil
	})
	if werr != nil {
		return fmt.Errorf("statestore: save: %w", werr)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	if _, err := tmp.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("statestore: save: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Load reads a checkpoint written by Save. A missing file is
// ErrNoCheckpoint; a damaged one is an error (the caller then restores from
// the changelog alone).
func Load(path string) (*Table, Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Checkpoint{}, ErrNoCheckpoint
	}
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load: %w", err)
	}
	if st.Size() < int64(len(magic))+5 {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load %s: file too short", path)
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	r := &reader{r: bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, st.Size()-4), crc), 1<<20)}
	t, c, err := r.read()
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load %s: %w", path, err)
	}
	var sum [4]byte
	if _, err := io.ReadFull(f, sum[:]); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load %s: checksum: %w", path, err)
	}
	if binary.LittleEndian.Uint32(sum[:]) != crc.Sum32() {
		return nil, Checkpoint{}, fmt.Errorf("statestore: load %s: checksum mismatch", path)
	}
	return t, c, nil
}

type reader struct {
	r   *bufio.Reader
	buf []byte
}

func (r *reader) read() (*Table, Checkpoint, error) {
	head := make([]byte, len(magic)+1)
	if _, err := io.ReadFull(r.r, head); err != nil {
		return nil, Checkpoint{}, err
	}
	if string(head[:len(magic)]) != magic {
		return nil, Checkpoint{}, errors.New("not a checkpoint file")
	}
	if head[len(magic)] != version {
		return nil, Checkpoint{}, fmt.Errorf("checkpoint version %d, this build reads %d", head[len(magic)], version)
	}
	var c Checkpoint
	topic, err := r.bytes()
	if err != nil {
		return nil, c, err
	}
	c.Topic = string(topic)
	p, err := binary.ReadVarint(r.r)
	if err != nil {
		return nil, c, err
	}
	c.Partition = int(p)
	if c.Offset, err = binary.ReadVarint(r.r); err != nil {
		return nil, c, err
	}
	meta, err := r.bytes()
	if err != nil {
		return nil, c, err
	}
	c.Meta = append([]byte(nil), meta...)
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return nil, c, err
	}
	t := NewTable(int(min(n, 1<<26)))
	var lenbuf [4]byte
	for range n {
		key, err := r.bytes()
		if err != nil {
			return nil, c, err
		}
		k := string(key)
		if _, err := io.ReadFull(r.r, lenbuf[:]); err != nil {
			return nil, c, err
		}
		val, err := r.next(int(binary.LittleEndian.Uint32(lenbuf[:])))
		if err != nil {
			return nil, c, err
		}
		var s streak.State
		if err := s.UnmarshalBinary(val); err != nil {
			return nil, c, fmt.Errorf("state of %q: %w", k, err)
		}
		t.Put(k, s)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return nil, c, errors.New("trailing bytes")
	}
	return t, c, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return nil, err
	}
	return r.next(int(n))
}

// next reads n bytes into a buffer reused between calls.
func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("length %d out of range", n)
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, err
	}
	return b, nil
}
