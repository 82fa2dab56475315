package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// announced is what a stream whose cursor is c reports for its next batch:
// the range starts at c+1 and every seq before the first reading it reads
// is counted in dropped (uplink/build.go).
func announced(t *testing.T, r *Ring, c uint64) (first, dropped uint64) {
	t.Helper()
	rs, err := r.Read(c+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatalf("nothing to read after cursor %d", c)
	}
	return rs[0].Seq, rs[0].Seq - (c + 1)
}

// Issue 11 item 6: while the reservation cannot be written (a full disk
// with free pages left inside bbolt's file), no commit may take a seq at
// or above the durable reservation; the readings that would need one wait
// in the bounded queue exactly as on a full disk, and a lost file then
// resumes above every seq ever committed.
func TestReservationFailureKeepsSeqsBelowIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	var failing atomic.Bool
	injected := fmt.Errorf("injected: %w", syscall.ENOSPC)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, reserveStep: 100, maxPending: 250,
		failReserve: func() error {
			if failing.Load() {
				return injected
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Append(gen(0, 10, 1))
	mustFlush(t, r) // seqs 1..10; the reservation is 1+10+100
	if res, _ := readReservation(path); res != 111 {
		t.Fatalf("reservation %d, want 111", res)
	}

	failing.Store(true)
	r.Append(gen(10, 200, 1))
	if err := r.Flush(); err == nil {
		t.Error("Flush reported success while readings could not be given a reserved seq")
	}
	res, _ := readReservation(path)
	st := mustStats(t, r)
	if st.LastSeq >= res {
		t.Errorf("committed up to seq %d while the durable reservation is %d: a lost file would resume below seqs already used", st.LastSeq, res)
	}
	if st.LastSeq != 110 || st.Pending != 100 || st.CommitErrors != 1 || st.LastError == "" || st.FailingSince.IsZero() {
		t.Errorf("want seqs 1..110 committed, 100 pending, the failure counted and reported as on a full disk; stats %+v", st)
	}
	if !contains(logs.String(), "level=ERROR", "reservation", path) {
		t.Errorf("the reservation failure not logged at ERROR with the path:\n%s", logs)
	}

	// The card fails now: the file is found corrupt at the next boot, and
	// numbering must resume above every seq committed (and maybe sent).
	crash := filepath.Join(dir, "crash.db")
	writeFile(t, crash, []byte(strings.Repeat("not a database ", 1000)))
	writeFile(t, crash+seqSuffix, []byte(fmt.Sprintf("%d\n", res)))
	c := openManual(t, crash, 8<<20, tuning{})
	if first, _ := c.Bounds(); first <= st.LastSeq {
		t.Errorf("after losing the file, seqs resume at %d although seqs up to %d were committed", first, st.LastSeq)
	}
	c.Close()

	// Overflow while waiting counts exactly as on a full disk.
	r.Append(gen(210, 200, 1)) // 300 pending > 250: the 50 oldest go
	if err := r.Flush(); err == nil {
		t.Error("Flush reported success while still unable to reserve")
	}
	if st := mustStats(t, r); st.Pending != 250 || st.DroppedTotal != 50 || st.LastSeq != 110 {
		t.Errorf("pending %d dropped %d last %d, want 250, 50, 110", st.Pending, st.DroppedTotal, st.LastSeq)
	}

	// The first reservation write that succeeds lets them all commit.
	failing.Store(false)
	checkWaitingCommit(t, r, path)
}

// checkWaitingCommit: once the reservation is written, the readings that
// waited for it (values 10..409 appended, the 50 oldest of the last 300
// dropped by the queue's bound of 250) commit after seqs 1..110, above the
// 50-seq hole.
func checkWaitingCommit(t *testing.T, r *Ring, path string) {
	t.Helper()
	mustFlush(t, r)
	st := mustStats(t, r)
	if st.Pending != 0 || !st.FailingSince.IsZero() || st.LastSeq != 410 {
		t.Errorf("after the reservation was written: pending %d, failing since %v, last %d (want 0, zero, 410)", st.Pending, st.FailingSince, st.LastSeq)
	}
	if res, _ := readReservation(path); res <= st.LastSeq {
		t.Errorf("reservation %d not above last seq %d", res, st.LastSeq)
	}
	got := readAll(t, r, 0)
	if len(got) != 360 || got[109].Seq != 110 || got[109].Value != 109 || got[110].Seq != 161 || got[110].Value != 160 || got[359].Seq != 410 {
		t.Errorf("want values 0..109 at seqs 1..110, then a hole of the 50 dropped, values 160..409 at seqs 161..410; got %d readings", len(got))
	}
}

// damageNewestMeta breaks the checksum of the meta page with the higher
// txid, as an SD card corrupting a written page on power loss would.
// bbolt's layout (internal/common/page.go, meta.go): a 16-byte page
// header, then magic, version, page size, flags (4 bytes each), root
// bucket (16), freelist, pgid, txid (8 each), checksum; little-endian on
// every board we run on.
func damageNewestMeta(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.LittleEndian.Uint32(b[16+8:]))
	txid := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off+16+48:]) }
	off := 0
	if txid(ps) > txid(0) {
		off = ps
	}
	overwrite(t, path, int64(off+16+16), []byte{0xEE, 0xEE}) // the root page id
}

// Issue 11 item 7: a damaged newest meta page makes bbolt open the
// previous commit; the seqs of the lost one may have been sent, so they
// must never be handed out again, and the jump is announced.
func TestDamagedNewestMetaPageDoesNotReuseSeqs(t *testing.T) {
	for _, damaged := range []bool{true, false} {
		t.Run(fmt.Sprintf("damaged=%v", damaged), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "buffer.db")
			r := openManual(t, path, 8<<20, tuning{})
			r.SetStreams([]string{"raw"})
			for i := range 5 {
				r.Append(gen(i*300, 300, 10))
				mustFlush(t, r)
			}
			r.Ack("raw", 1500)
			mustFlush(t, r)
			// The newest commit: seqs 1501..1800, which a stream may have sent.
			r.Append(gen(1500, 300, 10))
			mustFlush(t, r)
			crash := filepath.Join(dir, "crash.db")
			copyFile(t, path, crash) // the image a power cut leaves
			copyFile(t, path+seqSuffix, crash+seqSuffix)
			r.Close()
			if damaged {
				damageNewestMeta(t, crash)
			}

			log, logs := testLogger(t)
			c, err := open(crash, testConfig(8<<20), log, tuning{manual: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			st := mustStats(t, c)
			want := uint64(1800)
			if damaged {
				want = 1500 // bbolt fell back to the previous commit
			}
			if st.RecoveredFrom != "" || st.LastSeq != want {
				t.Fatalf("premise: last seq %d, recovered from %q; want %d, not moved aside", st.LastSeq, st.RecoveredFrom, want)
			}
			c.SetStreams([]string{"raw"})
			cur := c.Cursor("raw")
			c.Append(gen(1800, 10, 10))
			mustFlush(t, c)
			if !damaged {
				// An ordinary power cut costs no hole: a stream that had
				// sent everything reads on at 1801.
				if first, dropped := announced(t, c, 1800); first != 1801 || dropped != 0 {
					t.Errorf("after a power cut with both meta pages valid: the next reading is seq %d (%d announced dropped), want 1801 and none", first, dropped)
				}
				return
			}
			first, dropped := announced(t, c, cur)
			if first <= 1800 {
				t.Errorf("after the newest meta page was damaged, new readings got seqs from %d: seqs up to 1800 were committed, and maybe sent, before", first)
			}
			if dropped < 300 {
				t.Errorf("the stream announces %d dropped from cursor %d, want the lost commit's 300 and the jump", dropped, cur)
			}
			if !contains(logs.String(), "level=ERROR", "meta page", crash) {
				t.Errorf("the rollback not logged at ERROR:\n%s", logs)
			}
			// Once past it, nothing more is skipped, also after a restart.
			_, last := c.Bounds()
			c.Close()
			c2 := openManual(t, crash, 8<<20, tuning{})
			defer c2.Close()
			c2.Append(gen(1810, 5, 10))
			mustFlush(t, c2)
			if f, _ := announced(t, c2, last); f != last+1 {
				t.Errorf("after a clean restart the next seq is %d, want %d", f, last+1)
			}
		})
	}
}

// Issue 11 item 8: a zero-length file, or a missing one, when the .seq
// reservation shows readings existed, loses them like a corrupt file: the
// jump is announced to every stream.
func TestLostFileAnnouncesJump(t *testing.T) {
	for _, how := range []string{"zero-length", "missing"} {
		t.Run(how, func(t *testing.T) {
			path := dbPath(t)
			last, _ := makeDB(t, path)
			if how == "missing" {
				os.Remove(path)
			} else if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			log, logs := testLogger(t)
			r, err := open(path, testConfig(8<<20), log, tuning{manual: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.SetStreams([]string{"raw"})
			c := r.Cursor("raw")
			r.Append(gen(0, 10, 5))
			mustFlush(t, r)
			first, dropped := announced(t, r, c)
			if first <= last {
				t.Fatalf("seqs resume at %d, the lost file reached %d", first, last)
			}
			if dropped == 0 {
				t.Errorf("%s file: the stream's first batch (seq %d after cursor %d) announces dropped: 0", how, first, c)
			}
			if c+1 > 5001 {
				t.Errorf("the stream had acknowledged 5000; its range starts at %d, leaving seqs unannounced", c+1)
			}
			if !contains(logs.String(), "level=ERROR", path) {
				t.Errorf("%s file not logged at ERROR:\n%s", how, logs)
			}
			if st := mustStats(t, r); st.SeqJump == 0 || st.RecoveredAt.IsZero() {
				t.Errorf("stats do not report the jump: %+v", st)
			}
			// Announced once: after a restart a new stream starts at the
			// oldest reading, and raw keeps its cursor.
			r.Close()
			r2 := openManual(t, path, 8<<20, tuning{})
			defer r2.Close()
			r2.SetStreams([]string{"raw", "late"})
			if c2, l := r2.Cursor("raw"), r2.Cursor("late"); c2 != c || l != first-1 {
				t.Errorf("after a restart: raw cursor %d (want %d), a new stream's %d (want %d)", c2, c, l, first-1)
			}
			if st := mustStats(t, r2); st.SeqJump != 0 || st.RecoveredFrom != "" {
				t.Errorf("the recovery reported again after a clean restart: %+v", st)
			}
		})
	}
}

// Issue 11 item 9: a data directory that refuses writes (a worn card gone
// read-only) must not stop the box: the stored backlog is delivered, new
// readings wait in the bounded queue without a seq, and the first commit
// once it is writable again writes them above every seq in the file.
func TestReadOnlyDataDirAtStart(t *testing.T) {
	path := dbPath(t)
	last, _ := makeDB(t, path) // raw acknowledged 5000
	var ro atomic.Bool
	ro.Store(true)
	fault := readOnlyDir(&ro, path)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, writeFault: fault, upgradeEvery: -1})
	if err != nil {
		t.Fatalf("Open refused a read-only data directory: %v", err)
	}
	defer r.Close()
	if !contains(logs.String(), "level=ERROR", "read-only", path) {
		t.Errorf("no ERROR saying the buffer is read-only:\n%s", logs)
	}
	r.SetStreams([]string{"raw"})
	if c := r.Cursor("raw"); c != 5000 {
		t.Fatalf("cursor %d, want the file's 5000", c)
	}
	if got := readAll(t, r, 5001); uint64(len(got)) != last-5000 || got[0].Seq != 5001 {
		t.Fatalf("the backlog: read %d readings, want %d from 5001", len(got), last-5000)
	}
	r.Ack("raw", last)
	if c := r.Cursor("raw"); c != last {
		t.Errorf("Ack on the read-only buffer: cursor %d, want %d (in memory)", c, last)
	}
	r.Append(gen(20000, 30, 5))
	if err := r.Flush(); err == nil {
		t.Error("Flush succeeded on a read-only data directory")
	}
	st := mustStats(t, r)
	if st.Pending != 30 || st.LastSeq != last || st.FailingSince.IsZero() || !strings.Contains(st.LastError, "read-only") {
		t.Errorf("while read-only: pending %d, last %d, failing since %v, last error %q", st.Pending, st.LastSeq, st.FailingSince, st.LastError)
	}
	if rs, _ := r.Read(last+1, 10); len(rs) != 0 {
		t.Errorf("readings without a durable seq are readable (and would be sent): %+v", rs)
	}

	// Writable again (a remount): the next commit writes the queue.
	ro.Store(false)
	mustFlush(t, r)
	got := readAll(t, r, last+1)
	if len(got) != 30 || got[0].Seq != last+1 || got[0].Value != 20000 {
		t.Fatalf("after the remount: %d readings from %v", len(got), got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openManual(t, path, 8<<20, tuning{})
	defer r2.Close()
	if st := mustStats(t, r2); st.Cursors["raw"] != last || st.LastSeq != last+30 {
		t.Errorf("after reopening: cursor %d last %d, want %d and %d", st.Cursors["raw"], st.LastSeq, last, last+30)
	}
}

// A file that is unusable on a read-only data directory cannot be moved
// aside: nothing is served, and once the directory is writable it is
// recovered as at open, the jump announced, the queue committed above it.
func TestReadOnlyDataDirWithCorruptFile(t *testing.T) {
	path := dbPath(t)
	last, _ := makeDB(t, path)
	writeFile(t, path, []byte(strings.Repeat("not a database ", 1000)))
	var ro atomic.Bool
	ro.Store(true)
	fault := readOnlyDir(&ro, path)
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, writeFault: fault, upgradeEvery: -1})
	if err != nil {
		t.Fatalf("Open refused a read-only data directory: %v", err)
	}
	defer r.Close()
	r.SetStreams([]string{"raw"})
	r.Append(gen(0, 10, 2))
	if err := r.Flush(); !errors.Is(err, ErrDiskReadOnly) {
		t.Fatalf("Flush = %v, want ErrDiskReadOnly", err)
	}
	if rs, _ := r.Read(0, 10); len(rs) != 0 {
		t.Fatalf("an unusable file served %d readings", len(rs))
	}
	ro.Store(false)
	mustFlush(t, r)
	st := mustStats(t, r)
	if !strings.HasPrefix(st.RecoveredFrom, path+".corrupt-") || st.SeqJump == 0 {
		t.Errorf("not recovered once writable: %+v\n%s", st, logs)
	}
	c := r.Cursor("raw")
	first, dropped := announced(t, r, c)
	if first <= last || dropped == 0 || c+1 > 5001 {
		t.Errorf("after recovery: first reading %d (the lost file reached %d), stream from %d announces %d dropped", first, last, c+1, dropped)
	}
	if got := readAll(t, r, 0); len(got) != 10 || got[0].Value != 0 {
		t.Errorf("the queue: %d readings committed, want the 10 that waited", len(got))
	}
}

// A card that goes read-only while the daemon runs fails its commits like
// a full disk does, and the status says which it is.
func TestReadOnlyMidRunReported(t *testing.T) {
	var ro atomic.Bool
	r := openManual(t, dbPath(t), 8<<20, tuning{failCommit: func() error {
		if ro.Load() {
			return fmt.Errorf("write buffer.db: %w", syscall.EROFS)
		}
		return nil
	}})
	defer r.Close()
	r.Append(gen(0, 10, 2))
	mustFlush(t, r)
	ro.Store(true)
	r.Append(gen(10, 10, 2))
	if err := r.Flush(); err == nil {
		t.Fatal("Flush succeeded on a read-only card")
	}
	if st := mustStats(t, r); !st.DiskReadOnly || st.Pending != 10 {
		t.Errorf("a card gone read-only while running is not reported: read-only %v, pending %d", st.DiskReadOnly, st.Pending)
	}
	ro.Store(false)
	mustFlush(t, r)
	if st := mustStats(t, r); st.DiskReadOnly || st.Pending != 0 || st.LastSeq != 20 {
		t.Errorf("after the card is writable again: %+v", st)
	}
}
