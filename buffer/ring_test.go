package buffer

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

func TestAppendCommitRead(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()

	if f, l := r.Bounds(); f != 1 || l != 0 {
		t.Fatalf("new ring Bounds = %d,%d, want 1,0", f, l)
	}
	in := gen(0, 250, 7)
	in[3].Flags = reading.ClockUnsynced
	in[4].Unit = "°C"
	in[5].Value = math.Inf(-1)
	in[6].Time = time.Time{}
	r.Append(in[:100])
	if rs, _ := r.Read(1, 10); len(rs) != 0 {
		t.Fatalf("pending readings are visible before the commit: %v", rs)
	}
	mustFlush(t, r)
	r.Append(in[100:])
	mustFlush(t, r)

	if f, l := r.Bounds(); f != 1 || l != 250 {
		t.Fatalf("Bounds = %d,%d, want 1,250", f, l)
	}
	got := readAll(t, r, 0)
	if len(got) != len(in) {
		t.Fatalf("read %d readings, want %d", len(got), len(in))
	}
	// Each commit gives out seqs in time order, then in the order series
	// were first seen (the zero time of in[6] moves it to the front).
	want := append(commitOrder(in[:100]), commitOrder(in[100:])...)
	for i, g := range got {
		w := want[i]
		w.Seq = uint64(i + 1)
		if !w.Time.IsZero() {
			w.Time = w.Time.UTC()
		}
		if g.Seq != w.Seq || g.Name != w.Name || g.Unit != w.Unit || !g.Time.Equal(w.Time) || g.Value != w.Value || g.Flags != w.Flags {
			t.Fatalf("reading %d = %+v, want %+v", i, g, w)
		}
	}
	checkPartialReads(t, r, want)
	if _, err := r.Read(1, 0); err == nil {
		t.Error("Read with max 0 did not fail")
	}
	st := mustStats(t, r)
	if st.Readings != 250 || st.FirstSeq != 1 || st.LastSeq != 250 || st.Commits != 2 || st.Series != 8 {
		t.Errorf("stats = %+v", st)
	}
	if !st.Oldest.Equal(want[0].Time) || !st.Newest.Equal(want[249].Time) {
		t.Errorf("oldest/newest = %v/%v, want %v/%v", st.Oldest, st.Newest, want[0].Time, want[249].Time)
	}
}

// checkPartialReads reads parts of the 250 readings of
// TestAppendCommitRead, in the data blocks and in the tail.
func checkPartialReads(t *testing.T, r *Ring, want []reading.Reading) {
	t.Helper()
	for _, c := range []struct {
		from uint64
		max  int
	}{{1, 1}, {42, 5}, {99, 3}, {250, 10}, {251, 10}} {
		rs, err := r.Read(c.from, c.max)
		if err != nil {
			t.Fatal(err)
		}
		n := min(c.max, max(0, 250-int(c.from)+1))
		if len(rs) != n {
			t.Fatalf("Read(%d,%d) gave %d readings, want %d", c.from, c.max, len(rs), n)
		}
		for i, x := range rs {
			if x.Seq != c.from+uint64(i) || x.Value != want[x.Seq-1].Value && !math.IsInf(x.Value, -1) {
				t.Fatalf("Read(%d,%d)[%d] = seq %d value %v", c.from, c.max, i, x.Seq, x.Value)
			}
		}
	}
}

func TestReopenKeepsSeqAndCursors(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, 8<<20, tuning{})
	r.SetStreams([]string{"raw", "hourly"})
	r.Append(gen(0, 30, 3))
	mustFlush(t, r)
	r.Ack("raw", 20)
	r.Ack("raw", 10) // never backward
	r.Ack("hourly", 999)
	r.Append(gen(30, 10, 3))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	if f, l := r.Bounds(); f != 1 || l != 40 {
		t.Fatalf("after reopen Bounds = %d,%d, want 1,40", f, l)
	}
	if c := r.Cursor("raw"); c != 20 {
		t.Errorf("raw cursor = %d, want 20", c)
	}
	if c := r.Cursor("hourly"); c != 30 {
		t.Errorf("hourly cursor = %d, want 30 (acks are clamped to the last committed seq)", c)
	}
	if c := r.Cursor("new"); c != 0 {
		t.Errorf("unknown stream cursor = %d, want first-1 = 0", c)
	}
	r.Append(gen(40, 5, 3))
	mustFlush(t, r)
	got := readAll(t, r, 1)
	if len(got) != 45 {
		t.Fatalf("read %d readings after reopen, want 45", len(got))
	}
	for i, g := range got {
		if g.Seq != uint64(i+1) || g.Value != float64(i) {
			t.Fatalf("reading %d: seq %d value %v", i, g.Seq, g.Value)
		}
	}
	st := mustStats(t, r)
	if st.Unsent["raw"] != 25 || st.Cursors["hourly"] != 30 {
		t.Errorf("stats cursors %v unsent %v", st.Cursors, st.Unsent)
	}
}

func TestNoCommitWhenIdle(t *testing.T) {
	path := dbPath(t)
	log, _ := testLogger(t)
	cfg := testConfig(8 << 20)
	cfg.CommitInterval.Duration = 10 * time.Millisecond
	r, err := open(path, cfg, log, tuning{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 10, 2))
	waitFor(t, func() bool { _, l := r.Bounds(); return l == 10 })
	r.Ack("raw", 10)
	waitFor(t, func() bool { return mustStats(t, r).Pending == 0 && r.st2cursor("raw") == 10 })

	before := mustStats(t, r)
	fi1, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // 30 commit intervals
	r.Ack("raw", 10)                   // no move: nothing to write
	r.SetStreams([]string{"raw"})
	time.Sleep(100 * time.Millisecond)
	after := mustStats(t, r)
	fi2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Commits != before.Commits {
		t.Errorf("idle ring committed %d times", after.Commits-before.Commits)
	}
	if !fi1.ModTime().Equal(fi2.ModTime()) || fi1.Size() != fi2.Size() {
		t.Errorf("idle ring touched the file: mtime %v -> %v, size %d -> %d", fi1.ModTime(), fi2.ModTime(), fi1.Size(), fi2.Size())
	}
	if err := r.Flush(); err != nil || mustStats(t, r).Commits != before.Commits {
		t.Errorf("Flush with nothing new committed (err %v)", err)
	}
}

// st2cursor reads the persisted cursor of stream.
func (r *Ring) st2cursor(stream string) uint64 {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	return r.st.cursors[stream]
}

// waitFor polls cond; the deadline is generous because it only bounds a
// hang, it does not measure speed.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTailCommitWritesOnePagePlusMeta(t *testing.T) {
	r := openManual(t, dbPath(t), 64<<20, tuning{})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	// A realistic history: thousands of blocks, a tree of some depth.
	for i := range 100 {
		r.Append(gen(i*2000, 2000, 40))
		mustFlush(t, r)
	}
	r.Append(gen(200000, 4, 40))
	mustFlush(t, r) // the tail is now fresh and small
	pages := func() int64 {
		r.dbMu.RLock()
		defer r.dbMu.RUnlock()
		st := r.db.Stats()
		return st.TxStats.GetWrite()
	}
	var tailCommits, sealCommits int
	for i := range 200 {
		sealed := r.st.dataCount
		before := pages()
		r.Append(gen(200004+i*4, 4, 40))
		if i%60 == 0 {
			r.Ack("raw", uint64(200000+i*4)) // a cursor move rides along
		}
		mustFlush(t, r)
		w := pages() - before
		if r.st.dataCount == sealed {
			tailCommits++
			// bbolt counts the meta page among the writes.
			if w != 2 {
				t.Fatalf("commit %d into the tail wrote %d pages (meta page included), want 2", i, w)
			}
		} else {
			sealCommits++
			if w > 6 {
				t.Errorf("commit %d sealing the tail wrote %d pages", i, w)
			}
		}
	}
	if tailCommits < 150 || sealCommits == 0 {
		t.Errorf("%d tail commits, %d sealing commits: the tail is not doing its job", tailCommits, sealCommits)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "missing", "buffer.db"), DefaultConfig(), nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: err = %v", err)
	}
	cfg := DefaultConfig()
	cfg.MaxBytes = 1000
	if _, err := Open(dbPath(t), cfg, nil); err == nil || !strings.Contains(err.Error(), "max_bytes") {
		t.Errorf("bad config: err = %v", err)
	}
	path := dbPath(t)
	r, err := Open(path, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The daemon holds the file: a second writer must not wait forever
	// nor treat the file as corrupt.
	r2, err := open(path, DefaultConfig(), nil, tuning{manual: true, lockTimeout: 200 * time.Millisecond})
	if err == nil {
		r2.Close()
		t.Fatal("second writer opened a locked file")
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Errorf("second writer: err = %v", err)
	}
}

func TestClosedRing(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	r.Append(gen(0, 5, 1))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	r.Append(gen(5, 5, 1)) // ignored, must not panic
	if err := r.Flush(); err == nil {
		t.Error("Flush after Close succeeded")
	}
	if _, err := r.Read(1, 10); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestSubscribe(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	a, b := r.Subscribe(), r.Subscribe()
	signalled := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	r.Append(gen(0, 3, 1))
	if signalled(a) {
		t.Fatal("signalled before the commit")
	}
	mustFlush(t, r)
	r.Append(gen(3, 3, 1))
	mustFlush(t, r) // a second signal coalesces with the first
	if !signalled(a) || !signalled(b) {
		t.Fatal("a commit with readings did not signal every subscriber")
	}
	if signalled(a) {
		t.Fatal("signals did not coalesce")
	}
	r.Ack("raw", 6)
	mustFlush(t, r) // cursor only
	if signalled(a) {
		t.Error("a commit without readings signalled")
	}
}

// commitOrder is the order one commit stores readings in: by time, then by
// the order their series were first appended.
func commitOrder(rs []reading.Reading) []reading.Reading {
	firstSeen := map[string]int{}
	for _, r := range rs {
		if _, ok := firstSeen[r.Name]; !ok {
			firstSeen[r.Name] = len(firstSeen)
		}
	}
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b reading.Reading) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return firstSeen[a.Name] - firstSeen[b.Name]
	})
	return out
}
