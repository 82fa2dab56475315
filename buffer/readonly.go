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
// neither sample nor send the backlog it holds. Open then opens the file
// read-only instead and:
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
//     again (after a remount), and if so reopens the file for writing as
//     Open would (recovery included) and commits the queue and the cursors.
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

// attachReadOnly opens the file read-only after attachWritable found that
// the directory or the file refuses writes (cause).
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
	r.log.Error("buffer: the data directory refuses writes (a card gone read-only?); serving the stored readings, new readings wait in memory without a seq until it is writable again, and are lost if the daemon stops before",
		"path", r.path, "err", cause, "stored_readings", stored, "max_pending", r.tn.maxPending)
	return a, nil
}

func (r *Ring) attachRO(cause error) (*attached, error) {
	reserved, _ := readReservation(r.path)
	a := &attached{
		ld:       &loaded{empty: true, cursors: map[string]uint64{}},
		next:     max(reserved, 1),
		reserved: reserved,
		readOnly: true,
		roCause:  cause.Error(),
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
		r.log.Error("buffer: the file is unusable and cannot be moved aside while the data directory refuses writes; nothing stored is served until it is writable again",
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
	if pending > 0 {
		r.commitErrors++
		r.failStreak++
	}
	since := r.failingSince
	r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastROLog) >= time.Minute {
		r.lastROLog = now
		r.log.Error("buffer: the data directory still refuses writes; new readings wait in memory without a seq",
			"path", r.path, "since", since, "pending", pending, "dropped_total", dropped)
	}
	return fmt.Errorf("buffer %s: %w", r.path, ErrDiskReadOnly)
}

// tryUpgrade reopens the file for writing once the directory accepts
// writes again; commitMu held. It reports whether the ring is writable.
func (r *Ring) tryUpgrade() bool {
	now := time.Now()
	if now.Sub(r.lastUpgradeTry) < r.tn.upgradeEvery {
		return false
	}
	r.lastUpgradeTry = now
	if checkDir(filepath.Dir(r.path), r.tn.writeFault) != nil {
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
		r.log.Error("buffer: the data directory accepts writes again, but the buffer could not be reopened for writing; staying read-only",
			"path", r.path, "err", err)
		if ro, rerr := r.attachRO(err); rerr == nil {
			r.db = ro.db
		}
		return false
	}
	r.mu.Lock()
	pending := len(r.pending)
	r.mu.Unlock()
	r.log.Warn("buffer: the data directory accepts writes again; reopened the buffer for writing, committing the readings that waited",
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
	r.st.reserved = a.reserved
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
	for k := range r.state {
		if r.stateDirty == nil {
			r.stateDirty = map[string]bool{}
		}
		r.stateDirty[k] = true
	}
	return nil
}
