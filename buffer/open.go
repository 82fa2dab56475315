package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// Open opens (or creates) the buffer at path for reading and writing and
// starts its group-commit goroutine.
//
// A file that cannot be used (not a bbolt file, bad meta pages, truncated,
// damaged pages, an unknown format) is moved aside to
// <path>.corrupt-<UTC time>, logged at ERROR, reported in
// Stats.RecoveredFrom, and a fresh buffer takes its place: the daemon never
// refuses to start because of the buffer file. A missing or unwritable
// directory, or a file locked by another process (ErrLocked), is an error.
func Open(path string, cfg Config, log *slog.Logger) (*Ring, error) {
	return open(path, cfg, log, tuning{})
}

func open(path string, cfg Config, log *slog.Logger, tn tuning) (*Ring, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("buffer %s: config: %w", path, err)
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("buffer %s: %w", path, err)
	}
	tn.fill(cfg)
	r := &Ring{path: path, cfg: cfg, log: log, tn: tn, badBlocks: map[uint64]bool{}}

	// A compaction interrupted before its rename leaves this behind; the
	// database itself is whole.
	_ = os.Remove(path + compactSuffix)
	dropCache(path)
	reserved, rerr := readReservation(path)
	if rerr != nil {
		log.Warn("buffer: ignoring the seq reservation file", "path", path, "err", rerr)
	}

	db, ld, err := r.openExisting()
	var ce *corruptError
	recovered := false
	switch {
	case err == nil:
	case errors.As(err, &ce):
		aside, mvErr := moveAside(path)
		if mvErr != nil {
			return nil, fmt.Errorf("buffer %s: unusable (%v), and moving it aside failed: %w", path, err, mvErr)
		}
		r.recoveredFrom = aside
		recovered = true
		next := reserved
		if next == 0 && ld != nil && ld.maxSeq > 0 && ld.maxSeq < 1<<53 {
			// No reservation: trust what the damaged file still told us,
			// if it is plausible at all.
			next = ld.maxSeq + 1
		}
		if next == 0 {
			// Nothing tells which seqs the lost file used. Wall-clock
			// milliseconds outrun any seq we could have assigned (we never
			// commit 1000 readings a second for long), unless the clock is
			// behind: the best guess left.
			next = max(uint64(time.Now().UnixMilli()), 1)
			log.Warn("buffer: no seq high-water mark survived; seeding seqs from the wall clock",
				"path", path, "next_seq", next)
		}
		log.Error("buffer: file is corrupt; moved it aside and started an empty buffer (readings the streams had not sent are in the moved file)",
			"path", path, "moved_to", aside, "err", err, "next_seq", next)
		if db, err = r.openRW(); err != nil {
			return nil, fmt.Errorf("buffer %s: create after moving the corrupt file aside: %w", path, err)
		}
		ld = &loaded{empty: true, nextSeq: next}
	default:
		return nil, fmt.Errorf("buffer %s: %w", path, err)
	}

	next := ld.nextSeq
	if ld.empty {
		if !recovered {
			next = max(reserved, 1)
		}
		if err := initDB(db, next); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("buffer %s: initialise: %w", path, err)
		}
		// bbolt wrote both meta pages in one 16 KiB write; see dropCache.
		_ = db.Close()
		dropCache(path)
		if db, err = r.openRW(); err != nil {
			return nil, fmt.Errorf("buffer %s: reopen after initialising: %w", path, classify(err, "open"))
		}
		ld.cursors = map[string]uint64{}
		ld.format = dbFormat
	} else if ld.maxSeq >= next {
		log.Warn("buffer: next_seq is behind the stored readings; moving it past them", "path", path, "next_seq", next, "max_seq", ld.maxSeq)
		next = ld.maxSeq + 1
	}

	r.db = db
	r.pageSize = db.Info().PageSize
	r.budget = tn.budget
	if r.budget == 0 {
		r.budget = dataBudget(cfg, r.pageSize)
	}
	r.dict = newDict(ld.series)
	r.st = stateFrom(ld, next)
	r.st.reserved = reserved
	r.cursors = make(map[string]uint64, len(r.st.cursors))
	for k, v := range r.st.cursors {
		r.cursors[k] = v
	}
	r.dropped = r.st.dropped
	r.state = ld.state
	r.publishLocked()
	r.lastCompactCheck = time.Now()
	log.Info("buffer opened", "path", path, "readings", r.count, "first_seq", r.first, "last_seq", r.last,
		"data_bytes", r.dataBytes, "clean_shutdown", ld.clean || ld.empty)

	if !tn.manual {
		r.stop, r.done = make(chan struct{}), make(chan struct{})
		go r.loop()
	}
	return r, nil
}

// OpenReadOnly opens the buffer for Stats, Read and Export while the daemon
// is stopped; it waits up to timeout for the file lock and returns an error
// wrapping ErrLocked while a writer holds it. Append and Ack are ignored and
// Flush returns ErrReadOnly. Nothing is ever moved aside or written.
func OpenReadOnly(path string, timeout time.Duration) (*Ring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("buffer %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("buffer %s: the file is empty", path)
	}
	if timeout <= 0 {
		timeout = time.Nanosecond // bbolt waits forever on 0
	}
	db, err := boltOpen(path, bolt.Options{ReadOnly: true, Timeout: timeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("buffer %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("buffer %s: cannot open: %w", path, err)
	}
	ld, err := load(db, fi.Size(), false)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("buffer %s: unreadable: %w", path, err)
	}
	r := &Ring{
		path:      path,
		cfg:       Config{MaxBytes: 0},
		log:       slog.New(slog.DiscardHandler),
		readOnly:  true,
		db:        db,
		pageSize:  db.Info().PageSize,
		dict:      newDict(ld.series),
		badBlocks: map[uint64]bool{},
	}
	next := max(ld.nextSeq, ld.maxSeq+1, 1)
	r.st = stateFrom(ld, next)
	r.cursors = r.st.cursors
	r.dropped = r.st.dropped
	r.state = ld.state
	r.publishLocked()
	return r, nil
}

func (r *Ring) rwOptions() bolt.Options {
	return bolt.Options{
		Timeout: r.tn.lockTimeout,
		// No freelist page per commit: one page less written every second.
		// bbolt rebuilds the freelist at open by walking the tree instead.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Map what the file may grow to up front: a remap waits for every
		// reader, and would stall the commit behind an export.
		InitialMmapSize: int(min(int64(r.cfg.MaxBytes), 64<<20)),
	}
}

// dataBudget is how many bytes of blocks the ring keeps: half of what
// max_bytes leaves after bbolt's growth step and a few pages of its own
// (metas, freelist, root), because pages are not full (about 85% with
// ~1 KiB blocks), branch pages cost some more, and pages freed by a commit
// can be reused only by later ones. With it the file stays under max_bytes
// even on the smallest ring; compaction is the backstop.
func dataBudget(cfg Config, pageSize int) int64 {
	m := int64(cfg.MaxBytes)
	return max((m-int64(allocSize(cfg))-16*int64(pageSize))/2, m/8)
}

// allocSize is how much bbolt grows the file by once it is mapped beyond
// AllocSize (with InitialMmapSize that is from the start). bbolt's default
// is 16 MiB, a quarter of the default ring, and a compacted file would keep
// all of it as slack; a small step costs a truncate and an fsync per step
// while a backlog grows, which is rare.
func allocSize(cfg Config) int {
	return int(min(max(int64(cfg.MaxBytes)/256/(64<<10)*(64<<10), 64<<10), 1<<20))
}

// openExisting probes the file read-only (see load) and then opens it for
// writing. It returns a *corruptError for a file to move aside.
func (r *Ring) openExisting() (*bolt.DB, *loaded, error) {
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		db, err := r.openRW()
		if err != nil {
			return nil, nil, classify(err, "create")
		}
		return db, &loaded{empty: true}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return nil, nil, corrupt("is a directory")
	}
	if fi.Size() > 0 {
		ro, err := boltOpen(r.path, bolt.Options{ReadOnly: true, Timeout: r.tn.lockTimeout, FreelistType: bolt.FreelistMapType})
		if err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				return nil, nil, ErrLocked
			}
			return nil, nil, corrupt("%w", err)
		}
		start := time.Now()
		ld, err := load(ro, fi.Size(), true)
		_ = ro.Close()
		if err != nil {
			return nil, ld, err
		}
		if !ld.clean && !ld.empty {
			r.log.Info("buffer: previous shutdown was not clean; database verified", "path", r.path, "took", time.Since(start).Round(time.Millisecond))
		}
		db, err := r.openRW()
		if err != nil {
			return nil, ld, classify(err, "open")
		}
		return db, ld, nil
	}
	// An empty file: bbolt initialises it.
	db, err := r.openRW()
	if err != nil {
		return nil, nil, classify(err, "open")
	}
	return db, &loaded{empty: true}, nil
}

func (r *Ring) openRW() (*bolt.DB, error) {
	db, err := boltOpen(r.path, r.rwOptions())
	if err == nil {
		// Before anything grows the file: see allocSize.
		db.AllocSize = allocSize(r.cfg)
	}
	return db, err
}

// classify sorts an error from bbolt's writable open: the lock held
// elsewhere, a file system that refuses writes (not the file's fault), or
// else a file to move aside (unreadable, not writable by us, damaged).
func classify(err error, what string) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return ErrLocked
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%s: %w", what, err)
	case what == "create":
		return fmt.Errorf("%s: %w", what, err)
	}
	return corrupt("%s: %w", what, err)
}

// boltOpen is bolt.Open with panics (bbolt panics on some damaged files) and
// memory faults (a page past the end of a truncated file) turned into
// errors, and the file closed in that case so its lock does not linger.
func boltOpen(path string, opts bolt.Options) (db *bolt.DB, err error) {
	var f *os.File
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		ff, err := os.OpenFile(name, flag, perm)
		f = ff
		if err == nil {
			noReadahead(ff)
		}
		return ff, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if f != nil {
				_ = f.Close()
			}
			db, err = nil, fmt.Errorf("bbolt panicked opening the file: %v", p)
		}
	}()
	return bolt.Open(path, 0o640, &opts)
}

func initDB(db *bolt.DB, next uint64) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketData, bucketMeta, bucketSeries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for k, v := range map[string][]byte{
			string(keyFormat):  {dbFormat},
			string(keyNextSeq): u64(next),
			string(keyDropped): u64(0),
			string(keyClean):   {0},
		} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %s does not exist (create it, or set device.data_dir)", dir)
	}
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("directory %s is not writable by this user: %w", dir, err)
	}
	return nil
}

func moveAside(path string) (string, error) {
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, durable.SyncDir(filepath.Dir(path))
}
