package buffer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
	// The loss is exactly the queue's overflow, and shows as a seq hole of
	// that size: the values skipped are the oldest queued, one run.
	holes, lost := uint64(0), 0
	for i := 1; i < len(all); i++ {
		holes += all[i].Seq - all[i-1].Seq - 1
		lost += int(all[i].Value - all[i-1].Value - 1)
	}
	if holes != st.DroppedTotal || lost != int(st.DroppedTotal) || len(all)+lost != k {
		t.Errorf("seq holes %d, values missing %d, dropped_total %d, stored %d of %d appended", holes, lost, st.DroppedTotal, len(all), k)
	}
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

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
