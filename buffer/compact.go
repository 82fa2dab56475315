package buffer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/internal/durable"
)

const compactSuffix = ".compact"

// maybeCompact runs after a commit, under commitMu. It costs a stat: the
// file is compacted when it is over max_bytes (at most every
// compactMinGap), or, checked at most every compactEvery, when it is mostly
// free space (over 4x the live data and over compactMinFil): a drained
// backlog leaves bbolt's file at its high-water size, and its mapped pages
// count against a small board's memory.
func (r *Ring) maybeCompact() {
	fi, err := os.Stat(r.path)
	if err != nil {
		return
	}
	size, now := fi.Size(), time.Now()
	over := size > int64(r.cfg.MaxBytes)
	switch {
	case over:
		if now.Sub(r.lastCompact) < r.tn.compactMinGap {
			return
		}
	case now.Sub(r.lastCompactCheck) < r.tn.compactEvery:
		return
	default:
		r.lastCompactCheck = now
		// bbolt grows the file a step ahead of its pages: a freshly
		// compacted file carries that step, which is not free space.
		if size-int64(allocSize(r.cfg)) <= 4*r.st.bytes() || size <= r.tn.compactMinFil {
			return
		}
	}
	r.lastCompact = now
	start := time.Now()
	if err := r.compact(); err != nil {
		r.log.Error("compaction failed; keeping the file as it is", "path", r.path, "err", err)
		return
	}
	after := size
	if fi, err := os.Stat(r.path); err == nil {
		after = fi.Size()
	}
	r.log.Info("compacted", "path", r.path, "from_bytes", size, "to_bytes", after,
		"data_bytes", r.st.bytes(), "took", time.Since(start).Round(time.Millisecond))
	if after > int64(r.cfg.MaxBytes) {
		r.budget -= r.budget / 8
		r.log.Warn("file still over max_bytes after compaction; lowering the data budget",
			"path", r.path, "file_bytes", after, "max_bytes", int64(r.cfg.MaxBytes), "budget_bytes", r.budget)
	}
}

// compact copies the live data into <path>.compact, syncs it and renames
// it over the database, holding dbMu so no reader sees the swap. The new
// file is opened under its temporary name and keeps its lock through the
// rename: no other process can slip in between. A crash before the rename
// leaves the old file whole (Open removes the leftover); after it, the new
// one.
func (r *Ring) compact() error {
	tmp := r.path + compactSuffix
	_ = os.Remove(tmp)
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	dst, err := boltOpen(tmp, r.rwOptions())
	if err != nil {
		return fmt.Errorf("open %s: %w", tmp, err)
	}
	dst.AllocSize = allocSize(r.cfg)
	fail := func(err error) error {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := bolt.Compact(dst, r.db, 4<<20); err != nil {
		return fail(fmt.Errorf("copy: %w", err))
	}
	if err := dst.Sync(); err != nil {
		return fail(fmt.Errorf("sync: %w", err))
	}
	// Reopen so that the copy's large writes do not stay cached as large
	// folios (see dropCache). Nobody else knows the temporary name.
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("close copy: %w", err)
	}
	dropCache(tmp)
	if dst, err = boltOpen(tmp, r.rwOptions()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("reopen copy: %w", err)
	}
	dst.AllocSize = allocSize(r.cfg)
	if err := os.Rename(tmp, r.path); err != nil {
		return fail(fmt.Errorf("rename: %w", err))
	}
	if err := durable.SyncDir(filepath.Dir(r.path)); err != nil {
		r.log.Warn("fsync of the directory after compaction failed", "path", r.path, "err", err)
	}
	old := r.db
	r.db = dst
	if err := old.Close(); err != nil {
		r.log.Warn("closing the pre-compaction file", "path", r.path, "err", err)
	}
	r.mu.Lock()
	r.compactions++
	r.mu.Unlock()
	return nil
}
