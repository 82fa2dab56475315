package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// A data directory that refuses writes: worn SD cards commonly go
// read-only for good, and a box that stopped (exit, restart loop) would
// neither sample nor send the backlog it holds. The same for a disk too
// full to create the file (a first start) or to replace a damaged one, and
// any other failure to open it for writing but a lock held elsewhere or a
// missing data directory. Open then opens the file read-only instead (if
// there is a usable one; else there is nothing to serve) and:
//   - serves the stored readings: streams read and acknowledge as usual,
//     their cursors move in memory only;
//   - queues new readings in the bounded pending queue, as while commits
//     fail (overflow counted in dropped_total, announced as a hole). They
//     get no seq: seqs are assigned at commit, so nothing unreserved is
//     ever published, and no later boot can hand out a seq one of them
//     was sent with;
//   - says so: an ERROR at open and once a minute, Stats.DiskReadOnly,
//     LastError, FailingSince and Pending;
//   - every upgradeEvery (10 s) checks whether the directory is writable
//     (after a remount; a full disk passes that check), and if so tries to
//     reopen the file for writing as Open would (creation and recovery
//     included), and once that works commits the queue and the cursors.
//     Numbering is decided then, by the same rules as at Open: a missing
//     file resumes at the .seq reservation, if any.
//
// A file that is unusable cannot be moved aside on a read-only directory:
// the ring then serves nothing until it can be.

// defaultUpgradeEvery: an access(2) every 10 s costs nothing.
const defaultUpgradeEvery = 10 * time.Second

// refusesWrites tells a file or directory that cannot be written (a
// read-only mount, or permissions) from other failures.
func refusesWrites(err error) bool {
	return err != nil && (errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM))
}

// attachReadOnly opens the file read-only after attachWritable could not
// open it for writing (cause).
func (r *Ring) attachReadOnly(cause error) (*attached, error) {
	a, err := r.attachRO(cause)
	if err != nil {
		return nil, err
	}
	stored := uint64(0)
	if a.db != nil {
		stored = a.ld.dataCount + uint64(len(a.ld.tail))
		for _, h := range a.ld.holds {
			stored += h.n
		}
	}
	r.lastROLog = time.Now()
	r.lastUpgradeErr = cause.Error()
	msg := "buffer: the data directory refuses writes (a card gone read-only?); serving the stored readings, new readings wait in memory without a seq until it is writable again, and are lost if the daemon stops before"
	if !refusesWrites(cause) {
		msg = "buffer: cannot write the buffer file (disk full?); serving the stored readings if any, new readings wait in memory without a seq until it can be written (tried every 10 s), and are lost if the daemon stops before"
	}
	r.log.Error(msg, "path", r.path, "err", cause, "stored_readings", stored, "max_pending", r.tn.maxPending)
	return a, nil
}

func (r *Ring) attachRO(cause error) (*attached, error) {
	reserved, _ := r.resv.read()
	a := &attached{
		ld:       &loaded{empty: true, cursors: map[string]uint64{}},
		next:     max(reserved, 1),
		reserved: reserved,
		readOnly: true,
		roCause:  cause,
	}
	fi, err := os.Stat(r.path)
	if err != nil || fi.IsDir() || fi.Size() == 0 {
		return a, nil // nothing stored to serve
	}
	db, err := boltOpen(r.path, bolt.Options{ReadOnly: true, Timeout: r.tn.lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, ErrLocked
	}
	var ld *loaded
	if err == nil {
		if ld, err = load(db, fi.Size(), true); err != nil {
			_ = db.Close()
		}
	}
	if err != nil {
		r.log.Error("the file is unusable and cannot be moved aside while the data directory refuses writes; nothing stored is served until it is writable again",
			"path", r.path, "err", err)
		return a, nil
	}
	a.db, a.ld = db, ld
	a.next = max(ld.nextSeq, ld.maxSeq+1, 1)
	return a, nil
}

func (r *Ring) isDiskRO() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.diskRO
}

// stillReadOnly counts and reports a commit that cannot happen; commitMu
// held.
func (r *Ring) stillReadOnly() error {
	r.mu.Lock()
	pending, dropped := len(r.pending), r.dropped
	r.mu.Unlock()
	if pending > 0 {
		r.health.blocked()
	}
	since, ro, cause := r.health.failure()
	if now := time.Now(); now.Sub(r.lastROLog) >= time.Minute {
		r.lastROLog = now
		r.log.Error("the buffer file still cannot be written; new readings wait in memory without a seq",
			"path", r.path, "err", cause, "since", since, "pending", pending, "dropped_total", dropped)
	}
	if ro {
		return fmt.Errorf("buffer %s: %w", r.path, ErrDiskReadOnly)
	}
	return fmt.Errorf("buffer %s: %w: %s", r.path, ErrNotWritable, cause)
}

// noteUnwritable records why the ring still cannot write; commitMu held.
// A cause that differs from the last one is logged at ERROR at once (the
// same one only by stillReadOnly, once a minute).
func (r *Ring) noteUnwritable(err error) {
	r.health.unwritable(err, false)
	if msg := err.Error(); msg != r.lastUpgradeErr {
		r.lastUpgradeErr = msg
		r.log.Error("the buffer file still cannot be opened for writing; staying in memory",
			"path", r.path, "err", err)
	}
}

// unwritableText is Stats.LastError for a ring that cannot write.
func unwritableText(err error) string {
	if refusesWrites(err) {
		return "read-only: " + err.Error()
	}
	return err.Error()
}

// tryUpgrade reopens the file for writing once the directory accepts
// writes again; commitMu held. It reports whether the ring is writable.
func (r *Ring) tryUpgrade() bool {
	now := time.Now()
	if now.Sub(r.lastUpgradeTry) < r.tn.upgradeEvery {
		return false
	}
	r.lastUpgradeTry = now
	if err := checkDir(filepath.Dir(r.path), r.tn.writeFault); err != nil {
		r.noteUnwritable(err)
		return false
	}
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	if r.db != nil {
		_ = r.db.Close() // bbolt's shared lock must go before its writer's
		r.db = nil
	}
	a, err := r.attachWritable()
	if err == nil {
		err = r.adopt(a)
		if err != nil {
			_ = a.db.Close()
		}
	}
	if err != nil {
		r.noteUnwritable(err)
		if ro, rerr := r.attachRO(err); rerr == nil {
			r.db = ro.db
		}
		return false
	}
	r.lastUpgradeErr = ""
	r.mu.Lock()
	pending := len(r.pending)
	r.mu.Unlock()
	r.log.Warn("the buffer file can be written again; opened it for writing, committing the readings that waited",
		"path", r.path, "pending", pending)
	return true
}

// adopt makes a (the file reopened for writing) the ring's, keeping what
// happened in memory while it was read-only: the queue and the dictionary
// its readings refer to, drops, state set, and cursor moves (when the file
// is the one served; a file created fresh takes the cursors it was given).
// commitMu and dbMu held.
func (r *Ring) adopt(a *attached) error {
	ld := a.ld
	names := r.dict.snapshot()
	if len(ld.series) > len(names) || !slices.Equal(ld.series, names[:len(ld.series)]) {
		return fmt.Errorf("the file's series changed while it was read-only (%d in the file, %d known)", len(ld.series), len(names))
	}
	fresh := ld.empty
	old := r.st
	r.db = a.db
	r.pageSize = a.db.Info().PageSize
	if r.tn.budget == 0 {
		r.budget = dataBudget(r.cfg, r.pageSize)
	}
	r.st = stateFrom(ld, a.next)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = r.st.dropped + (r.dropped - old.dropped)
	if a.rec.at != (time.Time{}) {
		r.recovery = a.rec
	} else {
		r.recovery = recovery{}
	}
	r.diskRO = false
	r.publishLocked()
	if !fresh {
		for s, c := range r.st.cursors {
			if mc, ok := r.cursors[s]; !ok || mc < c {
				r.cursors[s] = c
			}
		}
		return nil
	}
	r.cursors = make(map[string]uint64, len(r.st.cursors))
	for s, c := range r.st.cursors {
		r.cursors[s] = c
	}
	for s := range r.active {
		if _, ok := r.cursors[s]; !ok {
			r.cursors[s] = r.newCursorLocked()
		}
	}
	r.state.markAll()
	return nil
}
