package buffer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// checkContiguous asserts that the ring holds exactly the seqs first..last
// with value == seq-1 (what gen produces when appended from 0 in one go).
func checkContiguous(t *testing.T, r *Ring) {
	t.Helper()
	first, last := r.Bounds()
	got := readAll(t, r, 0)
	if uint64(len(got)) != last-first+1 {
		t.Fatalf("read %d readings, Bounds say %d..%d", len(got), first, last)
	}
	for i, g := range got {
		if g.Seq != first+uint64(i) || g.Value != float64(g.Seq-1) {
			t.Fatalf("reading %d: seq %d value %v (first %d)", i, g.Seq, g.Value, first)
		}
	}
}

func TestOverflowDropsOldest(t *testing.T) {
	const maxBytes = MinMaxBytes // budget 128 KiB
	r := openManual(t, dbPath(t), maxBytes, tuning{})
	defer r.Close()

	n := 0
	for range 60 { // ~60 * 500 readings * ~12 bytes = ~360 KiB offered
		r.Append(gen(n, 500, 20))
		n += 500
		mustFlush(t, r)
		st := mustStats(t, r)
		if st.DataBytes > maxBytes/2 {
			t.Fatalf("data %d bytes over the %d budget", st.DataBytes, maxBytes/2)
		}
		// No streams: every pruned reading is dropped, and nothing else is.
		if st.DroppedTotal != st.FirstSeq-1 {
			t.Fatalf("dropped_total %d, but seqs 1..%d are gone", st.DroppedTotal, st.FirstSeq-1)
		}
		if st.Readings != st.LastSeq-st.FirstSeq+1 || st.LastSeq != uint64(n) {
			t.Fatalf("readings %d, bounds %d..%d after %d appended", st.Readings, st.FirstSeq, st.LastSeq, n)
		}
	}
	first, _ := r.Bounds()
	if first <= 1 {
		t.Fatal("nothing was dropped: the test did not overflow the ring")
	}
	checkContiguous(t, r)
	if rs, _ := r.Read(1, 1); len(rs) != 1 || rs[0].Seq != first {
		t.Errorf("Read(1) = %v, want the first available seq %d", rs, first)
	}

	// A stream that acknowledged part of what is pruned: only the rest
	// counts as dropped.
	r.SetStreams([]string{"raw"})
	f0, _ := r.Bounds()
	if c := r.Cursor("raw"); c != f0-1 {
		t.Fatalf("new stream cursor %d, want first-1 = %d", c, f0-1)
	}
	r.Ack("raw", f0+99) // 100 delivered
	d0 := mustStats(t, r).DroppedTotal
	r.Append(gen(n, 5000, 20))
	n += 5000
	mustFlush(t, r)
	st := mustStats(t, r)
	gone := st.FirstSeq - f0
	if gone < 100 {
		t.Fatalf("only %d readings pruned; the test needs more than the 100 acknowledged", gone)
	}
	if st.DroppedTotal-d0 != gone-100 {
		t.Errorf("dropped %d more, want %d (pruned %d, of which 100 delivered)", st.DroppedTotal-d0, gone-100, gone)
	}
	checkContiguous(t, r)
}

func TestDeliveredPruning(t *testing.T) {
	r := openManual(t, dbPath(t), 8<<20, tuning{pruneBytes: 8 << 10})
	defer r.Close()
	r.SetStreams([]string{"a", "b"})
	r.Ack("stale", 0) // a cursor of a stream no longer configured
	for i := range 40 {
		r.Append(gen(i*250, 250, 10))
		mustFlush(t, r)
	}
	_, last := r.Bounds() // 10000
	r.Ack("a", 9000)
	r.Ack("b", 5000)
	mustFlush(t, r)
	first, _ := r.Bounds()
	if first > 5001 {
		t.Fatalf("first %d: pruned past the slowest active stream's cursor 5000", first)
	}
	if first < 4000 {
		t.Fatalf("first %d: delivered data (up to 5000) was not pruned", first)
	}
	r.Ack("b", 9500)
	mustFlush(t, r)
	first, _ = r.Bounds()
	if first < 8000 || first > 9001 {
		t.Fatalf("after both acked 9000: first = %d, want within the block holding 9001", first)
	}
	st := mustStats(t, r)
	if st.DroppedTotal != 0 {
		t.Errorf("delivered pruning counted %d drops", st.DroppedTotal)
	}
	if len(st.Active) != 2 || st.Active[0] != "a" || st.Active[1] != "b" || st.Cursors["stale"] != 0 {
		t.Errorf("active %v, cursors %v", st.Active, st.Cursors)
	}
	if st.Readings != last-first+1 {
		t.Errorf("readings %d, want %d", st.Readings, last-first+1)
	}
	checkContiguous(t, r)

	// Small acks do not prune at every commit: the first block stays until
	// pruneBytes worth is deliverable.
	r.Ack("a", first+10)
	r.Ack("b", first+10)
	mustFlush(t, r)
	if f, _ := r.Bounds(); f != first {
		t.Errorf("a tiny ack pruned: first %d -> %d", first, f)
	}
}

func TestCompactionShrinksAfterBacklogDrains(t *testing.T) {
	const maxBytes = 16 << 20
	path := dbPath(t)
	r := openManual(t, path, maxBytes, tuning{compactEvery: 1})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	// The link is down: a backlog of ~5 MiB builds up, commit after commit.
	n := 0
	for range 150 {
		r.Append(gen(n, 4000, 40))
		n += 4000
		mustFlush(t, r)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	big := fi.Size()
	if big < 4<<20 {
		t.Fatalf("backlog file is only %d bytes; the test proves nothing", big)
	}
	if big > maxBytes {
		t.Errorf("file %d bytes over max_bytes %d", big, maxBytes)
	}
	// The link comes back and the stream catches up.
	r.Ack("raw", uint64(n))
	r.Append(gen(n, 4, 40))
	n += 4
	mustFlush(t, r)
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, r)
	if st.Compactions != 1 {
		t.Errorf("compactions = %d, want 1", st.Compactions)
	}
	if fi.Size() > 256<<10 {
		t.Errorf("file is %d bytes after the backlog drained (was %d), want under 256 KiB", fi.Size(), big)
	}
	t.Logf("file %d -> %d bytes, data %d bytes", big, fi.Size(), st.DataBytes)
	// The ring goes on working on the compacted file, and across a reopen.
	r.Append(gen(n, 10, 40))
	n += 10
	mustFlush(t, r)
	if _, l := r.Bounds(); l != uint64(n) {
		t.Fatalf("last = %d, want %d", l, n)
	}
	checkContiguous(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + compactSuffix); !os.IsNotExist(err) {
		t.Errorf("compaction left %s behind", path+compactSuffix)
	}
	r = openManual(t, path, maxBytes, tuning{})
	defer r.Close()
	if st := mustStats(t, r); st.RecoveredFrom != "" || st.LastSeq != uint64(n) || st.Cursors["raw"] != uint64(n-14) {
		t.Errorf("after reopen: %+v", st)
	}
	checkContiguous(t, r)
}

func TestFileStaysUnderMaxBytes(t *testing.T) {
	for _, c := range []struct {
		maxBytes int64
		batch    int
	}{{MinMaxBytes, 8}, {MinMaxBytes, 300}, {2 << 20, 1000}, {2 << 20, 30000}} {
		t.Run(fmt.Sprintf("max=%d/batch=%d", c.maxBytes, c.batch), func(t *testing.T) {
			path := dbPath(t)
			r := openManual(t, path, c.maxBytes, tuning{})
			defer r.Close()
			r.SetStreams([]string{"raw"}) // never acks: everything overflows
			var maxSize int64
			// Until the ring has turned over about twice.
			filled := 0
			for i := 0; filled == 0 || i < 2*filled; i++ {
				r.Append(gen(i*c.batch, c.batch, 40))
				mustFlush(t, r)
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > c.maxBytes {
					t.Fatalf("commit %d: file %d bytes over max_bytes %d", i, fi.Size(), c.maxBytes)
				}
				maxSize = max(maxSize, fi.Size())
				if filled == 0 && mustStats(t, r).DroppedTotal > 0 {
					filled = i
				}
			}
			st := mustStats(t, r)
			if st.DroppedTotal == 0 || st.DroppedTotal != st.FirstSeq-1 {
				t.Errorf("dropped %d, first %d", st.DroppedTotal, st.FirstSeq)
			}
			t.Logf("largest file %d bytes (max %d), data %d, compactions %d", maxSize, c.maxBytes, st.DataBytes, st.Compactions)
		})
	}
}

func TestFailingCommitKeepsPendingThenAnnouncesHole(t *testing.T) {
	var failing atomic.Bool
	injected := errors.New("injected: no space left on device")
	path := dbPath(t)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, maxPending: 100, failCommit: func() error {
		if failing.Load() {
			return injected
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	r.Append(gen(0, 10, 2))
	mustFlush(t, r) // seqs 1..10
	failing.Store(true)
	r.Append(gen(10, 60, 2))
	if err := r.Flush(); !errors.Is(err, injected) {
		t.Fatalf("Flush = %v, want the injected error", err)
	}
	st := mustStats(t, r)
	if st.Pending != 60 || st.CommitErrors != 1 || st.LastSeq != 10 {
		t.Fatalf("after a failed commit: pending %d, errors %d, last %d", st.Pending, st.CommitErrors, st.LastSeq)
	}
	r.Append(gen(70, 70, 2)) // 130 pending > 100: the 30 oldest go
	if err := r.Flush(); err == nil {
		t.Fatal("Flush succeeded while failing")
	}
	st = mustStats(t, r)
	if st.Pending != 100 || st.DroppedTotal != 30 {
		t.Fatalf("pending %d dropped %d, want 100 and 30", st.Pending, st.DroppedTotal)
	}
	if !contains(logs.String(), "commit failed", path) {
		t.Errorf("commit failure not logged with the path:\n%s", logs)
	}

	failing.Store(false)
	mustFlush(t, r)
	got := readAll(t, r, 11)
	if len(got) != 100 {
		t.Fatalf("read %d readings after recovery, want 100", len(got))
	}
	// The 30 lost readings are a hole of exactly 30 seqs: 11..40.
	if got[0].Seq != 41 || got[0].Value != 40 || got[99].Seq != 140 || got[99].Value != 139 {
		t.Errorf("after the hole: first %+v last %+v", got[0], got[99])
	}
	st = mustStats(t, r)
	if st.DroppedTotal != 30 || st.Pending != 0 || st.LastSeq != 140 {
		t.Errorf("stats after recovery: %+v", st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	if st := mustStats(t, r); st.DroppedTotal != 30 || st.LastSeq != 140 {
		t.Errorf("dropped_total/last not persisted: %+v", st)
	}
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
