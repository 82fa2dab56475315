package buffer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips:
// mounting needs root (CAP_SYS_ADMIN), which CI containers often lack.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the failCommit seam tests cover the logic", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	return dir
}

// fillUp writes a file until the filesystem is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			return
		}
	}
}

// TestDiskFull fills a real, small filesystem to the brim under a running
// ring: commits fail loudly, sampling carries on into the bounded queue,
// writing resumes once there is room, and nothing committed is lost.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "buffer.db")
	const maxPending = 3000
	log, logs := testLogger(t)
	r, err := open(path, testConfig(1<<20), log, tuning{manual: true, maxPending: maxPending})
	if err != nil {
		t.Fatal(err)
	}

	k := 0
	appendN := func(n int) {
		for i := 0; i < n; i += 10 {
			r.Append(gen(k, 10, 7))
			k += 10
		}
	}
	appendN(2000)
	mustFlush(t, r)
	before := readAll(t, r, 0)
	if len(before) != 2000 {
		t.Fatalf("committed %d readings, want 2000", len(before))
	}

	filler := filepath.Join(dir, "filler")
	fillUp(t, filler)
	// Sample on while the disk is full, committing as the daemon would;
	// once the file must grow, commits fail.
	var failed int
	for round := 0; round < 40; round++ {
		appendN(500)
		if err := r.Flush(); err != nil {
			failed++
		}
	}
	st := mustStats(t, r)
	if failed == 0 || st.CommitErrors == 0 || st.LastError == "" || st.FailingSince.IsZero() {
		t.Fatalf("disk full: %d failed flushes, stats %+v; want failures reported", failed, st)
	}
	if st.Pending > maxPending {
		t.Errorf("pending %d beyond the bound %d", st.Pending, maxPending)
	}
	if got := logs.String(); !containsAll(got, "level=ERROR", "commit failed", "no space left") {
		t.Errorf("no loud ERROR about the full disk in the log:\n%s", got)
	}

	// Room again: the next commit writes the queue.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, r)
	st = mustStats(t, r)
	if st.Pending != 0 || !st.FailingSince.IsZero() {
		t.Errorf("after recovery: pending %d, failing since %s", st.Pending, st.FailingSince)
	}
	all := readAll(t, r, 0)
	for i, x := range before {
		if all[i] != x {
			t.Fatalf("committed reading %d changed: %+v, was %+v", i, all[i], x)
		}
	}
	checkLossIsHole(t, all, st.DroppedTotal, k)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: no recovery, everything still there.
	r, err = open(path, testConfig(1<<20), log, tuning{manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := mustStats(t, r); st.RecoveredFrom != "" {
		t.Fatalf("reopen after disk full needed recovery: %s", st.RecoveredFrom)
	}
	if again := readAll(t, r, 0); len(again) != len(all) || again[len(again)-1] != all[len(all)-1] {
		t.Errorf("after reopen %d readings, want %d", len(again), len(all))
	}
}

// checkLossIsHole: the loss is exactly the queue's overflow (dropped), and
// shows as a seq hole of that size: the values skipped (gen numbers them
// in append order; k were appended) are the oldest queued, one run.
func checkLossIsHole(t *testing.T, all []reading.Reading, dropped uint64, k int) {
	t.Helper()
	holes, lost := uint64(0), 0
	for i := 1; i < len(all); i++ {
		holes += all[i].Seq - all[i-1].Seq - 1
		lost += int(all[i].Value - all[i-1].Value - 1)
	}
	if holes != dropped || lost != int(dropped) || len(all)+lost != k {
		t.Errorf("seq holes %d, values missing %d, dropped_total %d, stored %d of %d appended", holes, lost, dropped, len(all), k)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestDiskFullKeepsSeqsBelowReservation is issue 11 item 6 on a real full
// filesystem: bbolt goes on committing into the free pages inside its file
// while the .seq reservation cannot be rewritten, and no commit may take a
// seq at or above the durable reservation.
func TestDiskFullKeepsSeqsBelowReservation(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "buffer.db")
	log, logs := testLogger(t)
	r, err := open(path, testConfig(1<<20), log, tuning{manual: true, reserveStep: 200, pruneBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	k := 0
	for range 20 {
		r.Append(gen(k, 500, 7))
		k += 500
		mustFlush(t, r)
	}
	// Everything delivered and pruned: the file keeps its free pages.
	_, last := r.Bounds()
	r.Ack("raw", last)
	mustFlush(t, r)

	filler := filepath.Join(dir, "filler")
	fillUp(t, filler)
	for range 10 {
		r.Append(gen(k, 100, 7))
		k += 100
		_ = r.Flush()
	}
	res, err := readReservation(path)
	if err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, r)
	if st.LastSeq >= res {
		t.Errorf("on a full disk seqs were committed up to %d, past the durable reservation %d", st.LastSeq, res)
	}
	if st.Pending == 0 || st.FailingSince.IsZero() || !containsAll(logs.String(), "level=ERROR", "reservation", "no space left") {
		t.Errorf("readings beyond the reservation must wait, reported as failing: pending %d, failing since %v\n%s", st.Pending, st.FailingSince, logs)
	}

	// Room again: the reservation is written and the queue commits.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, r)
	st = mustStats(t, r)
	res, _ = readReservation(path)
	if st.Pending != 0 || st.LastSeq != uint64(k) || res <= st.LastSeq {
		t.Errorf("after room came back: pending %d, last %d (want %d), reservation %d", st.Pending, st.LastSeq, k, res)
	}
}

// TestReadOnlyMountAtStart is issue 11 item 9 on a real read-only mount
// (EROFS from the kernel, bbolt's read-only open on it): the stored
// readings are served, new ones wait without a seq, and a remount
// read-write lets the next commit write them.
func TestReadOnlyMountAtStart(t *testing.T) {
	dir := mountTmpfs(t, "16m")
	path := filepath.Join(dir, "buffer.db")
	last, _ := makeDB(t, path) // raw acknowledged 5000
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, upgradeEvery: -1})
	if err != nil {
		t.Fatalf("Open on a read-only mount: %v", err)
	}
	defer r.Close()
	st := mustStats(t, r)
	if !st.DiskReadOnly || !containsAll(logs.String(), "level=ERROR", "read-only file system") {
		t.Errorf("read-only mount not reported: %+v\n%s", st, logs)
	}
	r.SetStreams([]string{"raw"})
	if got := readAll(t, r, r.Cursor("raw")+1); uint64(len(got)) != last-5000 {
		t.Errorf("served %d stored readings, want %d", len(got), last-5000)
	}
	r.Append(gen(30000, 20, 4))
	if err := r.Flush(); err == nil {
		t.Error("Flush succeeded on a read-only mount")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	mustFlush(t, r)
	got := readAll(t, r, last+1)
	if len(got) != 20 || got[0].Seq != last+1 {
		t.Fatalf("after the remount read %d readings from %v, want 20 from %d", len(got), got, last+1)
	}
	if st := mustStats(t, r); st.DiskReadOnly || !st.FailingSince.IsZero() || st.Pending != 0 {
		t.Errorf("after the remount: %+v", st)
	}
}

// TestFullDiskAtFirstStart is a real, full file system at the first start,
// with no buffer file yet: Open does not fail, sampling goes into the
// bounded queue without seqs, no partial file is left behind by the
// attempts to create one, and once there is room the queue commits from
// seq 1.
func TestFullDiskAtFirstStart(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	path := filepath.Join(dir, "buffer.db")
	filler := filepath.Join(dir, "filler")
	fillUp(t, filler)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(1<<20), log, tuning{manual: true, upgradeEvery: -1})
	if err != nil {
		t.Fatalf("Open on a full disk with no buffer file: %v", err)
	}
	defer r.Close()
	st := mustStats(t, r)
	if st.FailingSince.IsZero() || !strings.Contains(st.LastError, "no space left") || !containsAll(logs.String(), "level=ERROR", "no space left", path) {
		t.Errorf("a full disk at start not reported: %+v\n%s", st, logs)
	}
	r.Append(gen(0, 50, 5))
	for range 3 {
		if err := r.Flush(); err == nil {
			t.Fatal("Flush succeeded on a full disk")
		}
	}
	if st := mustStats(t, r); st.Pending != 50 || st.LastSeq != 0 {
		t.Errorf("on the full disk: pending %d last %d, want 50 and 0", st.Pending, st.LastSeq)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "filler" {
			t.Errorf("the failed attempts left %s behind", e.Name())
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, r)
	got := readAll(t, r, 0)
	if len(got) != 50 || got[0].Seq != 1 || got[0].Value != 0 || got[49].Seq != 50 {
		t.Fatalf("once there is room: %d readings, want values 0..49 at seqs 1..50", len(got))
	}
	if st := mustStats(t, r); st.Pending != 0 || !st.FailingSince.IsZero() || st.RecoveredAt != (time.Time{}) {
		t.Errorf("once there is room: %+v", st)
	}
}
