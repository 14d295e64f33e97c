package suppressions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bounced-dev/bounced/processor/event"
)

// Format renders the list, sorted by address, into a file's content. It
// returns how many addresses it wrote: fewer than len(recs) when some
// cannot be represented in the format.
type Format func(w io.Writer, recs []event.Suppression) (int, error)

// FileConfig configures a File. Path and Format are required.
type FileConfig struct {
	// Path is the file kept in sync; its directory must exist.
	Path string
	// Format renders the list.
	Format Format
	// Hook is a shell command (sh -c) run after each write, e.g.
	// "postmap hash:/etc/postfix/suppressed"; empty for none. Its failure
	// is logged, not fatal: the next write runs it again. The written
	// path is in its environment as BOUNCED_SYNC_FILE.
	Hook string
	// Debounce is the least time between two writes (default 2s): a burst
	// of changes becomes one write and one hook run.
	Debounce time.Duration
	// HookTimeout bounds a hook run (default 2m).
	HookTimeout time.Duration
	// IncludeHeld writes held records too (the incident guard's, not
	// enforced); by default the file is the enforced list only.
	IncludeHeld bool
	// Wrote, when set, is told of every write (for a progress line).
	Wrote func(Written)
}

// Written describes one write of a File.
type Written struct {
	Path      string
	Addresses int // written to the file
	Skipped   int // not representable in the format
	Took      time.Duration
}

// File keeps a file in sync with the list: it is a Handler of a Feed. The
// file is replaced atomically (a reader sees the old or the new list, never
// a part), first when the feed has caught up and then at most every
// Debounce while changes arrive, and only when its content changes.
type File struct {
	cfg FileConfig
	log *slog.Logger

	wmu sync.Mutex // one write at a time (the ticker, CaughtUp)

	mu    sync.Mutex
	recs  map[string]event.Suppression
	dirty bool
	ready bool
	last  []byte // the content written last
}

// NewFile checks that cfg.Path can be written and returns its File.
func NewFile(cfg FileConfig, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 2 * time.Second
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = 2 * time.Minute
	}
	if cfg.Format == nil {
		return nil, errors.New("sync file: no format")
	}
	if err := checkWritable(cfg.Path); err != nil {
		return nil, err
	}
	return &File{cfg: cfg, log: log, recs: map[string]event.Suppression{}}, nil
}

// checkWritable fails unless a file can be created beside path and path is
// not a directory.
func checkWritable(path string) error {
	if path == "" {
		return errors.New("sync file: no path given")
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sync file %s: directory %s does not exist; create it first", path, dir)
	case err != nil:
		return fmt.Errorf("sync file %s: %w", path, err)
	case !st.IsDir():
		return fmt.Errorf("sync file %s: %s is not a directory", path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("sync file %s: is a directory; want a file path", path)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("sync file %s: directory %s is not writable: %w", path, dir, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// Change records c; the file is written at the next flush.
func (f *File) Change(_ context.Context, c Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Record == nil {
		delete(f.recs, c.Address)
	} else {
		f.recs[c.Address] = *c.Record
	}
	f.dirty = true
	return nil
}

// Reached is part of Handler; a file keeps no positions.
func (f *File) Reached(int, int64) {}

// CaughtUp writes the file for the first time.
func (f *File) CaughtUp(ctx context.Context) error {
	f.mu.Lock()
	f.ready, f.dirty = true, true
	f.mu.Unlock()
	return f.Flush(ctx)
}

// Run flushes changes at most every Debounce until ctx ends, then once more
// (bounded by a fresh 30 s) so that a stop loses nothing already read. A
// failed write is logged and tried again at the next tick.
func (f *File) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Debounce)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			return f.Flush(fctx)
		case <-t.C:
			if err := f.Flush(ctx); err != nil {
				f.log.Error("suppression sync: write failed; retrying", "path", f.cfg.Path, "err", err)
			}
		}
	}
}

// Flush writes the file when something changed since the last write and
// the feed has caught up, then runs the hook.
func (f *File) Flush(ctx context.Context) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	start := time.Now()
	f.mu.Lock()
	if !f.ready || !f.dirty {
		f.mu.Unlock()
		return nil
	}
	recs := make([]event.Suppression, 0, len(f.recs))
	for _, r := range f.recs {
		if r.Status == event.StatusSuppressed || f.cfg.IncludeHeld {
			recs = append(recs, r)
		}
	}
	f.dirty = false
	f.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].Address < recs[j].Address })
	var buf bytes.Buffer
	n, err := f.cfg.Format(&buf, recs)
	if err != nil {
		f.markDirty()
		return fmt.Errorf("sync file %s: render: %w", f.cfg.Path, err)
	}
	if f.last != nil && bytes.Equal(buf.Bytes(), f.last) {
		return nil // nothing the file shows changed (a held record, evidence)
	}
	if err := WriteAtomic(f.cfg.Path, buf.Bytes()); err != nil {
		f.markDirty()
		return err
	}
	f.last = buf.Bytes()
	if n < len(recs) {
		f.log.Warn("suppression sync: addresses the format cannot represent were left out",
			"path", f.cfg.Path, "skipped", len(recs)-n)
	}
	f.runHook(ctx)
	if f.cfg.Wrote != nil {
		f.cfg.Wrote(Written{Path: f.cfg.Path, Addresses: n, Skipped: len(recs) - n, Took: time.Since(start)})
	}
	return nil
}

func (f *File) markDirty() {
	f.mu.Lock()
	f.dirty = true
	f.mu.Unlock()
}

// runHook runs the hook and logs its failure: the file is already in
// place, and the next write runs the hook again.
func (f *File) runHook(ctx context.Context) {
	if f.cfg.Hook == "" {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, f.cfg.HookTimeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "/bin/sh", "-c", f.cfg.Hook)
	cmd.Env = append(os.Environ(), "BOUNCED_SYNC_FILE="+f.cfg.Path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		f.log.Error("suppression sync: hook failed", "hook", f.cfg.Hook, "err", err, "output", msg)
	}
}

// WriteAtomic replaces path with data: a temporary file in the same
// directory, synced, renamed over path, and the directory synced. A reader
// opens either the old file or the new one, never a part. An existing
// file's permissions are kept (new files get 0644).
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The rename is durable once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}
