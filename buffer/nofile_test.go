package buffer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// noRoom returns a createFault that fails with ENOSPC while full is set.
func noRoom(full *atomic.Bool, path string) func() error {
	return func() error {
		if full.Load() {
			return &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
}

// readOnlyDir returns a writeFault that fails with EROFS on path's
// directory while ro is set.
func readOnlyDir(ro *atomic.Bool, path string) func() error {
	return func() error {
		if ro.Load() {
			return &fs.PathError{Op: "open", Path: filepath.Dir(path), Err: syscall.EROFS}
		}
		return nil
	}
}

// Issue 11: a buffer file that cannot be created at the first start (a
// full disk) must not stop the box: it samples into the bounded queue
// without seqs, says so, and the first commit once the file can be
// created writes the queue, numbered as on any new file: from 1, after a
// hole of exactly the queue's overflow.
func TestNoRoomForTheFileAtFirstStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	var full atomic.Bool
	full.Store(true)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, upgradeEvery: -1, maxPending: 100, createFault: noRoom(&full, path)})
	if err != nil {
		t.Fatalf("Open with no room to create the buffer file: %v", err)
	}
	defer r.Close()
	st := mustStats(t, r)
	if st.FailingSince.IsZero() || !strings.Contains(st.LastError, "no space left") || st.DiskReadOnly {
		t.Errorf("a full disk at start: failing since %v, last error %q, read-only %v; want failing, the cause, not read-only",
			st.FailingSince, st.LastError, st.DiskReadOnly)
	}
	if !contains(logs.String(), "level=ERROR", "no space left", path) {
		t.Errorf("no ERROR naming the file and the cause:\n%s", logs)
	}
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 130, 5)) // 30 beyond the queue's bound
	if err := r.Flush(); err == nil {
		t.Error("Flush succeeded without a buffer file")
	}
	st = mustStats(t, r)
	if st.Pending != 100 || st.DroppedTotal != 30 || st.LastSeq != 0 || st.Readings != 0 {
		t.Errorf("while the file cannot be created: pending %d dropped %d last %d readings %d; want 100, 30, 0, 0",
			st.Pending, st.DroppedTotal, st.LastSeq, st.Readings)
	}
	if rs, _ := r.Read(0, 10); len(rs) != 0 {
		t.Errorf("readings without a durable seq are readable (and would be sent): %+v", rs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the failed attempts left %d files behind, the first %s", len(ents), ents[0].Name())
	}

	full.Store(false)
	mustFlush(t, r)
	checkQueueCommitted(t, r, path)
}

// checkQueueCommitted checks TestNoRoomForTheFileAtFirstStart's queue once
// the file could be created: values 30..129 at seqs 31..130, the 30
// dropped announced as the hole before them, and all of it durable.
func checkQueueCommitted(t *testing.T, r *Ring, path string) {
	t.Helper()
	got := readAll(t, r, 0)
	if len(got) != 100 || got[0].Seq != 31 || got[0].Value != 30 || got[99].Seq != 130 || got[99].Value != 129 {
		t.Fatalf("after the file could be created: %d readings, want values 30..129 at seqs 31..130", len(got))
	}
	if first, dropped := announced(t, r, r.Cursor("raw")); first != 31 || dropped != 30 {
		t.Errorf("the stream announces %d dropped before seq %d, want 30 before 31", dropped, first)
	}
	if st := mustStats(t, r); st.Pending != 0 || !st.FailingSince.IsZero() || st.DroppedTotal != 30 {
		t.Errorf("after the file could be created: %+v", st)
	}
	if res, _ := readReservation(path); res <= 130 {
		t.Errorf("reservation %d not above the last seq 130", res)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openManual(t, path, 8<<20, tuning{})
	defer r2.Close()
	if st := mustStats(t, r2); st.LastSeq != 130 || st.Readings != 100 || st.Recovery != "" {
		t.Errorf("reopened: last %d readings %d recovery %q", st.LastSeq, st.Readings, st.Recovery)
	}
}

// A start without a file while the .seq reservation exists follows the
// rules of a missing file however late the file is created: numbering
// resumes at the reservation and the jump is announced.
func TestNoRoomForTheFileKeepsTheReservation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	writeFile(t, path+seqSuffix, []byte("70000\n"))
	var full atomic.Bool
	full.Store(true)
	log, _ := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, upgradeEvery: -1, createFault: noRoom(&full, path)})
	if err != nil {
		t.Fatalf("Open with no room to create the buffer file: %v", err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 10, 2))
	if err := r.Flush(); err == nil {
		t.Error("Flush succeeded without a buffer file")
	}
	full.Store(false)
	mustFlush(t, r)
	got := readAll(t, r, 0)
	if len(got) != 10 || got[0].Seq < 70000 || got[0].Value != 0 {
		t.Fatalf("after the file could be created: %d readings from seq %d, want 10 at or above the reservation 70000", len(got), got[0].Seq)
	}
	first, dropped := announced(t, r, r.Cursor("raw"))
	if st := mustStats(t, r); st.SeqJump == 0 || dropped == 0 || first != got[0].Seq {
		t.Errorf("the jump to %d is not announced: stream announces %d dropped, seq_jump %d", first, dropped, st.SeqJump)
	}
}

// A damaged file with no reservation beside it, on a disk with no room for
// a fresh one: the numbering must still come out above every seq the
// damaged file used once a fresh file can be made, however many tries it
// takes (the damaged file's marks must not be lost with a failed try).
func TestNoRoomToReplaceACorruptFile(t *testing.T) {
	path := dbPath(t)
	last, _ := makeDB(t, path)
	if err := os.Remove(path + seqSuffix); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, []byte(strings.Repeat("not a database ", 1000)))
	var full atomic.Bool
	full.Store(true)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, upgradeEvery: -1, createFault: noRoom(&full, path)})
	if err != nil {
		t.Fatalf("Open with a corrupt file and no room for a fresh one: %v", err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 10, 2))
	for range 3 {
		if err := r.Flush(); err == nil {
			t.Fatal("Flush succeeded without a writable file")
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("while no fresh file can be made, the data directory holds %d files, want only the damaged one", len(ents))
	}
	full.Store(false)
	mustFlush(t, r)
	got := readAll(t, r, 0)
	if len(got) != 10 || got[0].Seq <= last {
		t.Fatalf("after a fresh file could be made: %d readings from seq %d; the lost file used seqs up to %d", len(got), got[0].Seq, last)
	}
	st := mustStats(t, r)
	if !strings.HasPrefix(st.RecoveredFrom, path+".corrupt-") {
		t.Errorf("the damaged file was not kept aside: %+v\n%s", st, logs)
	}
	if b, err := os.ReadFile(st.RecoveredFrom); err != nil || !strings.HasPrefix(string(b), "not a database") {
		t.Errorf("the file moved aside is not the damaged one: %v", err)
	}
}

// A data directory that refuses writes at the first start, with no file
// yet: as for a full disk, but reported read-only.
func TestReadOnlyDataDirAtFirstStart(t *testing.T) {
	path := dbPath(t)
	var ro atomic.Bool
	ro.Store(true)
	fault := readOnlyDir(&ro, path)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, writeFault: fault, upgradeEvery: -1})
	if err != nil {
		t.Fatalf("Open refused a read-only data directory without a file: %v", err)
	}
	defer r.Close()
	if st := mustStats(t, r); !st.DiskReadOnly || st.FailingSince.IsZero() || !contains(logs.String(), "level=ERROR", "read-only", path) {
		t.Errorf("not reported read-only: %+v\n%s", st, logs)
	}
	r.Append(gen(0, 10, 2))
	if err := r.Flush(); !errors.Is(err, ErrDiskReadOnly) {
		t.Errorf("Flush = %v, want ErrDiskReadOnly", err)
	}
	ro.Store(false)
	mustFlush(t, r)
	if got := readAll(t, r, 0); len(got) != 10 || got[0].Seq != 1 {
		t.Errorf("after the remount: %d readings, want 10 from seq 1", len(got))
	}
	if st := mustStats(t, r); st.DiskReadOnly || !st.FailingSince.IsZero() {
		t.Errorf("after the remount still reported: %+v", st)
	}
}
