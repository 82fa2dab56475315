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
// damaged pages, an unknown format, or empty while the .seq reservation
// shows it held readings) is moved aside to <path>.corrupt-<UTC time>,
// logged at ERROR, reported in Stats.RecoveredFrom, and a fresh buffer
// takes its place, numbered above every seq the old one used, with the jump
// announced to every stream (jump.go): the daemon never refuses to start
// because of the buffer file. Nor because it cannot write: a data
// directory or file that refuses writes (a card gone read-only), or a full
// disk where no file can be created or a damaged one replaced, opens the
// file read-only if there is one, or none, and samples into memory until
// it can write (readonly.go). A missing data directory, or a file locked by
// another process (ErrLocked), is an error.
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
	tn.fill(cfg)
	r := &Ring{path: path, cfg: cfg, log: log, tn: tn, badBlocks: map[uint64]bool{},
		resv: newSeqReservation(path, tn.reserveStep, tn.failReserve)}
	a, err := r.attachWritable()
	var dde dataDirError
	if err != nil && !errors.Is(err, ErrLocked) && !errors.As(err, &dde) {
		a, err = r.attachReadOnly(err)
	}
	if err != nil {
		return nil, fmt.Errorf("buffer %s: %w", path, err)
	}
	r.install(a)
	ld := a.ld
	log.Info("buffer opened", "path", path, "readings", r.count, "first_seq", r.first, "last_seq", r.last,
		"data_bytes", r.dataBytes, "clean_shutdown", ld.clean || ld.empty, "read_only", a.readOnly)

	if !tn.manual {
		r.stop, r.done = make(chan struct{}), make(chan struct{})
		go r.loop()
	}
	return r, nil
}

// attached is a database handle and what opening it found.
type attached struct {
	db       *bolt.DB // nil: read-only with no usable file
	ld       *loaded
	next     uint64 // next_seq
	reserved uint64 // the .seq reservation
	rec      recovery
	readOnly bool  // no file could be opened for writing (readonly.go)
	roCause  error // why
}

// attachWritable opens the file for writing, recovering from whatever is
// wrong with it (open's doc). On an error other than ErrLocked or a
// dataDirError (the directory or the file cannot be written, the disk is
// full) nothing was changed that the next try would need: a damaged file is
// moved aside only once its replacement exists (replaceLost).
func (r *Ring) attachWritable() (*attached, error) {
	if err := checkDir(filepath.Dir(r.path), r.tn.writeFault); err != nil {
		return nil, err
	}
	// A compaction or a creation interrupted before its rename leaves one
	// of these behind; the database itself is whole, or missing.
	_ = os.Remove(r.path + compactSuffix)
	_ = os.Remove(r.path + initSuffix)
	dropCache(r.path)
	reserved := r.reservation()
	db, ld, err := r.openExisting(reserved)
	var ce *corruptError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		return r.replaceLost(err, ld, reserved, true)
	case errors.Is(err, errMissing):
		if reserved > 0 {
			return r.replaceLost(errors.New("the file is missing but the seq reservation shows it held readings"), nil, reserved, false)
		}
		// A new box (or a crash before the first commit: no reservation
		// then, or the file would be lost).
		if db, err = r.createFresh(1, jump{}, nil, nil); err != nil {
			return nil, err
		}
		ld := &loaded{empty: true, cursors: map[string]uint64{}, format: dbFormat}
		return &attached{db: db, ld: ld, next: 1}, nil
	default:
		return nil, err
	}
	a := &attached{db: db, ld: ld, reserved: reserved, next: ld.nextSeq}
	switch {
	case ld.empty:
		// A bare bbolt file with no reservation: an older version crashed
		// while creating it.
		a.next = max(reserved, 1)
		if a.db, err = r.initFresh(db, a.next, jump{}, nil); err != nil {
			return nil, err
		}
		a.ld = &loaded{empty: true, cursors: map[string]uint64{}, format: dbFormat}
	case ld.rollback != "":
		if err := r.rolledBack(a); err != nil {
			_ = db.Close()
			return nil, err
		}
	case ld.maxSeq >= a.next:
		r.log.Warn("next_seq is behind the stored readings; moving it past them", "path", r.path, "next_seq", a.next, "max_seq", ld.maxSeq)
		a.next = ld.maxSeq + 1
	}
	return a, nil
}

// reservation reads the .seq file; a damaged one counts as none.
func (r *Ring) reservation() uint64 {
	reserved, err := r.resv.read()
	if err != nil {
		r.log.Warn("ignoring the seq reservation file", "path", r.path, "err", err)
	}
	return reserved
}

// replaceLost replaces an unusable file (moved aside when move is set: a
// missing file has nothing to move) with a fresh one numbered above every
// seq the lost file may have used, with the jump to announce (jump.go).
// The fresh file is made before the old one is touched, and the numbering
// is made durable in the .seq reservation before the old one goes: a
// failure (a full disk) leaves the damaged file in place for the next try
// to read the same marks from, and a crash between the renames leaves a
// missing file with a reservation, which resumes at the same seq.
func (r *Ring) replaceLost(cause error, ld *loaded, reserved uint64, move bool) (*attached, error) {
	rec := recovery{reason: cause.Error(), at: time.Now().UTC()}
	next, ok := resumeSeq(reserved, ld)
	if !ok {
		next = wallClockSeq()
	}
	j := jump{floor: lostFloor(ld, reserved, r.tn.reserveStep, next), to: next}
	rec.jump = j.to - j.floor
	cursors := salvagedCursors(ld, next)
	db, err := r.createFresh(next, j, cursors, func() error {
		if err := r.resv.raise(next); err != nil {
			return err
		}
		reserved = max(reserved, next)
		if !move {
			return nil
		}
		aside, err := moveAside(r.path)
		if err != nil {
			return fmt.Errorf("move the unusable file aside: %w", err)
		}
		rec.aside = aside
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replace the unusable file (%v): %w", cause, err)
	}
	if !ok {
		r.log.Warn("no seq high-water mark survived; seeded seqs from the wall clock",
			"path", r.path, "next_seq", next)
	}
	r.log.Error("the file is lost; started an empty buffer numbered above every seq the old one used, and every stream announces the jump as dropped (readings the streams had not sent are in the moved file, if any)",
		"path", r.path, "moved_to", rec.aside, "err", cause, "next_seq", next,
		"seq_jump_from", j.floor, "seq_jump", rec.jump, "cursors_kept", len(cursors))
	return &attached{
		db:       db,
		ld:       &loaded{empty: true, cursors: cursors, format: dbFormat, jump: j},
		next:     next,
		reserved: reserved,
		rec:      rec,
	}, nil
}

// rolledBack handles a file whose newest meta page may be damaged (jump.go,
// damagedMeta): bbolt opened the previous commit, and the seqs of the one
// lost may have been sent. Numbering resumes at the reservation, recorded
// in the file before anything else is written.
func (r *Ring) rolledBack(a *attached) error {
	ld := a.ld
	to := a.reserved
	if to < ld.nextSeq || to <= ld.maxSeq {
		// The reservation is not above the file (missing, or stale): the
		// clock is all that is left.
		to = max(wallClockSeq(), ld.nextSeq, ld.maxSeq+1)
		r.log.Warn("no seq reservation above the rolled-back file; seeding seqs from the wall clock",
			"path", r.path, "next_seq", to, "reservation", a.reserved)
	}
	if to > ld.nextSeq {
		// (to == next_seq: the lost commit cannot have taken a seq, it
		// would have needed a reservation above it first.)
		j := jump{to: to}
		if err := recordJump(a.db, j); err != nil {
			return fmt.Errorf("record the seq jump after a rollback: %w", err)
		}
		ld.jump = j
	}
	a.rec = recovery{reason: ld.rollback, at: time.Now().UTC(), jump: to - ld.nextSeq}
	r.log.Error("a meta page of the file is damaged; bbolt opened the previous commit, so the last one (readings, cursor moves) may be lost; new readings are numbered above every seq it may have used, and every stream announces the jump as dropped",
		"path", r.path, "detail", ld.rollback, "next_seq", ld.nextSeq, "resume_seq", to, "seq_jump", a.rec.jump)
	return nil
}

// initSuffix names the file a new database is built in (createFresh).
const initSuffix = ".init"

// createFresh makes a new database at the path with next_seq next, the
// jump j and the cursors given, and opens it for writing. It is built
// under <path>.init and renamed over the path (after before, when set), so
// that a full disk or a crash leaves either no new file or a whole one:
// never a partial bbolt file that the next try or start would take for a
// damaged one (moved aside, numbering seeded from the clock).
func (r *Ring) createFresh(next uint64, j jump, cursors map[string]uint64, before func() error) (*bolt.DB, error) {
	tmp := r.path + initSuffix
	_ = os.Remove(tmp)
	err := r.buildFresh(tmp, next, j, cursors)
	if err == nil && before != nil {
		err = before()
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(r.path)); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	// bbolt wrote both meta pages in one 16 KiB write; see dropCache.
	dropCache(r.path)
	db, err := r.openRW()
	if err != nil {
		return nil, fmt.Errorf("open after creating: %w", classify(err, "open"))
	}
	return db, nil
}

// buildFresh writes a new database at path (bbolt's first pages, then
// initDB's transaction, each synced).
func (r *Ring) buildFresh(path string, next uint64, j jump, cursors map[string]uint64) error {
	if r.tn.writeFault != nil {
		if err := r.tn.writeFault(); err != nil {
			return err
		}
	}
	db, err := boltOpen(path, r.rwOptions())
	if err != nil {
		return err
	}
	// Before initDB grows the file: bbolt's default would make it the
	// whole InitialMmapSize (see allocSize).
	db.AllocSize = allocSize(r.cfg)
	if r.tn.createFault != nil {
		err = r.tn.createFault()
	}
	if err == nil {
		err = initDB(db, next, j, cursors)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// initFresh writes the buckets and meta of a new file into db, then
// reopens it (see dropCache).
func (r *Ring) initFresh(db *bolt.DB, next uint64, j jump, cursors map[string]uint64) (*bolt.DB, error) {
	if err := initDB(db, next, j, cursors); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise: %w", err)
	}
	// bbolt wrote both meta pages in one 16 KiB write; see dropCache.
	_ = db.Close()
	dropCache(r.path)
	db, err := r.openRW()
	if err != nil {
		return nil, fmt.Errorf("reopen after initialising: %w", classify(err, "open"))
	}
	return db, nil
}

// install makes a the ring's file and committed state.
func (r *Ring) install(a *attached) {
	ld := a.ld
	r.db = a.db
	r.pageSize = os.Getpagesize()
	if a.db != nil {
		r.pageSize = a.db.Info().PageSize
	}
	r.budget = r.tn.budget
	if r.budget == 0 {
		r.budget = dataBudget(r.cfg, r.pageSize)
	}
	r.dict = newDict(ld.series)
	r.st = stateFrom(ld, a.next)
	r.cursors = make(map[string]uint64, len(r.st.cursors))
	for k, v := range r.st.cursors {
		r.cursors[k] = v
	}
	r.dropped = r.st.dropped
	r.state.load(ld.state)
	r.recovery = a.rec
	r.diskRO = a.readOnly
	if a.readOnly {
		r.health.unwritable(a.roCause, true)
	}
	r.publishLocked()
	r.lastCompactCheck = time.Now()
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
		resv:      newSeqReservation(path, defaultReserveStep, nil),
	}
	next := max(ld.nextSeq, ld.maxSeq+1, 1)
	r.st = stateFrom(ld, next)
	r.cursors = r.st.cursors
	r.dropped = r.st.dropped
	r.state.load(ld.state)
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

// errMissing: there is no file.
var errMissing = errors.New("no buffer file")

// dataDirError: the data directory is missing or not a directory, which is
// the caller's to fix (the agent creates it), not a state to sample through.
type dataDirError struct{ error }

// openExisting probes the file read-only (see load) and then opens it for
// writing. It returns a *corruptError for a file to move aside, and
// errMissing when there is no file.
func (r *Ring) openExisting(reserved uint64) (*bolt.DB, *loaded, error) {
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, errMissing
	}
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return nil, nil, corrupt("is a directory")
	}
	if fi.Size() == 0 {
		if reserved > 0 {
			// A crash before the first commit leaves an empty file, but
			// never a reservation: that is only written by a commit.
			return nil, &loaded{}, corrupt("the file is empty, but the seq reservation (%d) shows it held readings", reserved)
		}
		// A crash before bbolt's first write: made afresh, as if missing.
		return nil, nil, errMissing
	}
	ld, err := r.probe(fi.Size())
	if err != nil {
		return nil, ld, err
	}
	if ld.empty && reserved > 0 {
		// bbolt's bare file: a crash right after a loss moved the old one
		// aside, before the fresh one was initialised (replaceLost).
		return nil, ld, corrupt("the file holds no buckets, but the seq reservation (%d) shows readings existed", reserved)
	}
	db, err := r.openRW()
	if err != nil {
		return nil, ld, classify(err, "open")
	}
	return db, ld, nil
}

// probe opens the file read-only and walks it (load), and looks at its two
// meta pages for a possible rollback (jump.go, damagedMeta).
func (r *Ring) probe(size int64) (*loaded, error) {
	ro, err := boltOpen(r.path, bolt.Options{ReadOnly: true, Timeout: r.tn.lockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, corrupt("%w", err)
	}
	start := time.Now()
	ld, err := load(ro, size, true)
	_ = ro.Close()
	if err != nil {
		return ld, err
	}
	if !ld.empty {
		ld.rollback, _ = damagedMeta(r.path)
	}
	if !ld.clean && !ld.empty && ld.rollback == "" {
		r.log.Info("previous shutdown was not clean; database verified", "path", r.path, "took", time.Since(start).Round(time.Millisecond))
	}
	return ld, nil
}

func (r *Ring) openRW() (*bolt.DB, error) {
	if r.tn.writeFault != nil {
		if err := r.tn.writeFault(); err != nil {
			return nil, err
		}
	}
	db, err := boltOpen(r.path, r.rwOptions())
	if err == nil {
		// Before anything grows the file: see allocSize.
		db.AllocSize = allocSize(r.cfg)
	}
	return db, err
}

// classify sorts an error from bbolt's writable open: the lock held
// elsewhere, a file or file system that refuses writes or has no room (not
// the file's fault), or else a file to move aside (unreadable, damaged).
func classify(err error, what string) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return ErrLocked
	case refusesWrites(err), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
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

// initDB writes a new file's buckets and meta: next_seq, and after a loss
// the jump to announce and the cursors salvaged (jump.go), in the one
// transaction, so that no crash can leave the fresh file without them.
func initDB(db *bolt.DB, next uint64, j jump, cursors map[string]uint64) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketData, bucketMeta, bucketSeries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		kv := map[string][]byte{
			string(keyFormat):  {dbFormat},
			string(keyNextSeq): u64(next),
			string(keyDropped): u64(0),
			string(keyClean):   {0},
		}
		if j.to > 0 {
			kv[string(keyJump)] = j.bytes()
		}
		for s, c := range cursors {
			kv[string(cursorKey(s))] = u64(c)
		}
		for k, v := range kv {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkDir(dir string, fault func() error) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return dataDirError{fmt.Errorf("directory %s does not exist (create it, or set device.data_dir)", dir)}
	}
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return dataDirError{fmt.Errorf("%s is not a directory", dir)}
	}
	err = writable(dir)
	if err == nil && fault != nil {
		err = fault()
	}
	if err != nil {
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
