package buffer

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// makeDB writes a real buffer with data blocks, a tail and a cursor, closes
// it, and returns its last seq and page size. Nothing is pruned.
func makeDB(t *testing.T, path string) (last uint64, pageSize int) {
	t.Helper()
	r := openManual(t, path, 8<<20, tuning{pruneBytes: 1 << 40})
	r.SetStreams([]string{"raw"})
	for i := range 20 {
		r.Append(gen(i*500, 500, 20))
		mustFlush(t, r)
	}
	r.Append(gen(10000, 7, 20))
	r.Ack("raw", 5000)
	mustFlush(t, r)
	_, last = r.Bounds()
	pageSize = r.pageSize
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return last, pageSize
}

func TestCorruptFileIsMovedAside(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  func(t *testing.T, path string, pageSize int)
		keepSeq bool // the .seq reservation survives
	}{
		{"garbage", func(t *testing.T, path string, _ int) {
			b := make([]byte, 200<<10)
			rnd := rand.NewChaCha8([32]byte{1})
			rnd.Read(b)
			writeFile(t, path, b)
		}, true},
		{"garbage-without-seq-file", func(t *testing.T, path string, _ int) {
			writeFile(t, path, bytes.Repeat([]byte("not a database "), 1000))
			os.Remove(path + seqSuffix)
		}, false},
		{"zero-length", func(t *testing.T, path string, _ int) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"tiny", func(t *testing.T, path string, _ int) {
			writeFile(t, path, []byte("x"))
		}, true},
		{"truncated", func(t *testing.T, path string, _ int) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"zeroed-meta-pages", func(t *testing.T, path string, ps int) {
			overwrite(t, path, 0, make([]byte, 2*ps))
		}, true},
		{"damaged-pages", func(t *testing.T, path string, ps int) {
			// Every page but the metas: the root page is among them.
			fi, _ := os.Stat(path)
			b := bytes.Repeat([]byte{0xA5}, int(fi.Size())-2*ps)
			overwrite(t, path, int64(2*ps), b)
		}, true},
		{"one-damaged-leaf", func(t *testing.T, path string, ps int) {
			id := pickLeaf(t, path)
			b := bytes.Repeat([]byte{0x5A}, ps)
			overwrite(t, path, int64(id)*int64(ps), b)
		}, true},
		{"unknown-block-format", func(t *testing.T, path string, _ int) {
			editDB(t, path, func(tx *bolt.Tx) error {
				bad := newBlockEncoder()
				bad.add(entry{ts: 1, sid: 0})
				v := bad.bytes()
				v[0] = 9
				return tx.Bucket(bucketData).Put(seqKey(9000000), v)
			})
		}, true},
		{"bad-tail-checksum", func(t *testing.T, path string, _ int) {
			editDB(t, path, func(tx *bolt.Tx) error {
				m := tx.Bucket(bucketMeta)
				v := append([]byte(nil), m.Get(keyTail)...)
				v[len(v)-1] ^= 0xFF
				return m.Put(keyTail, v)
			})
		}, true},
		{"newer-database-format", func(t *testing.T, path string, _ int) {
			editDB(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keyFormat, []byte{dbFormat + 1})
			})
		}, true},
		{"hold-overlaps-data", func(t *testing.T, path string, _ int) {
			editDB(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(holdBuckets[1])
				if err != nil {
					return err
				}
				enc := newBlockEncoder()
				enc.add(entry{ts: 1, sid: 0})
				return b.Put(seqKey(2), enc.bytes())
			})
		}, true},
		{"bad-hold-checksum", func(t *testing.T, path string, _ int) {
			editDB(t, path, func(tx *bolt.Tx) error {
				// Park the tail as a hold, as retireTail does, then damage it.
				m := tx.Bucket(bucketMeta)
				v := append([]byte(nil), m.Get(keyTail)...)
				b, err := tx.CreateBucket(holdBuckets[0])
				if err != nil {
					return err
				}
				v[len(v)-1] ^= 0xFF
				if err := b.Put(v[:8], v[8:]); err != nil {
					return err
				}
				return m.Delete(keyTail)
			})
		}, true},
		{"foreign-bbolt-file", func(t *testing.T, path string, _ int) {
			os.Remove(path)
			editDB(t, path, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("someone-else"))
				return err
			})
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := dbPath(t)
			last, ps := makeDB(t, path)
			c.damage(t, path, ps)
			damaged, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			checkMovedAside(t, path, last, damaged, c.keepSeq)
		})
	}
}

// checkMovedAside opens the damaged file at path (the bytes damaged; the
// lost file ended at seq last): it is moved aside as it is, logged, and a
// fresh ring numbered past it announces the jump and reopens cleanly.
func checkMovedAside(t *testing.T, path string, last uint64, damaged []byte, keepSeq bool) {
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true, lockTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open refused a damaged file: %v", err)
	}
	defer r.Close()
	st := mustStats(t, r)
	if st.RecoveredFrom == "" || !strings.HasPrefix(st.RecoveredFrom, path+".corrupt-") {
		t.Fatalf("RecoveredFrom = %q", st.RecoveredFrom)
	}
	kept, err := os.ReadFile(st.RecoveredFrom)
	if err != nil || !bytes.Equal(kept, damaged) {
		t.Errorf("the damaged file was not kept as is at %s (err %v)", st.RecoveredFrom, err)
	}
	out := logs.String()
	if os.Getenv("DUMPLOG") != "" {
		t.Log(out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, path) || !strings.Contains(out, st.RecoveredFrom) {
		t.Errorf("recovery not logged at ERROR with both paths:\n%s", out)
	}
	// Seqs never go back: a stream may have delivered up to last.
	first, l := r.Bounds()
	if first <= last || l != first-1 {
		t.Errorf("fresh ring Bounds %d,%d; the lost file ended at %d", first, l, last)
	}
	if !keepSeq && first < uint64(time.Now().Add(-time.Hour).UnixMilli()) {
		t.Errorf("without any high-water mark, seqs restart at %d", first)
	}
	// And it works, and the jump is announced: the stream had
	// acknowledged 5000 (makeDB), so its next batch must start at
	// or before 5001 and count every seq up to the first new
	// reading as dropped.
	r.SetStreams([]string{"raw"})
	c := r.Cursor("raw")
	if c+1 > 5001 {
		t.Errorf("stream raw had acknowledged 5000; it resumes at %d, leaving seqs 5001..%d unannounced", c+1, c)
	}
	r.Append(gen(0, 50, 5))
	mustFlush(t, r)
	got := readAll(t, r, 0)
	if len(got) != 50 || got[0].Seq != first {
		t.Fatalf("fresh ring read %d readings from seq %v", len(got), got)
	}
	if f, dropped := announced(t, r, c); f != first || dropped == 0 {
		t.Errorf("stream raw's first batch after the move-aside reads seq %d after cursor %d and says dropped: %d", f, c, dropped)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openManual(t, path, 8<<20, tuning{})
	defer r2.Close()
	if st := mustStats(t, r2); st.RecoveredFrom != "" || st.LastSeq != first+49 {
		t.Errorf("reopening the fresh ring: %+v", st)
	}
}

func TestUncleanShutdownIsVerifiedNotRecovered(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	r := openManual(t, path, 8<<20, tuning{})
	r.SetStreams([]string{"raw"})
	for i := range 10 {
		r.Append(gen(i*300, 300, 10))
		mustFlush(t, r)
	}
	r.Ack("raw", 1234)
	mustFlush(t, r)
	// The image a power cut leaves: everything committed, no clean mark.
	crash := filepath.Join(dir, "crash.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, crash, b)
	r.Close()

	log, logs := testLogger(t)
	r2, err := open(crash, testConfig(8<<20), log, tuning{manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	st := mustStats(t, r2)
	if st.RecoveredFrom != "" || st.LastSeq != 3000 || st.Cursors["raw"] != 1234 {
		t.Fatalf("after a power cut: %+v", st)
	}
	if !strings.Contains(logs.String(), "not clean") {
		t.Errorf("unclean shutdown not noticed:\n%s", logs)
	}
	checkContiguous(t, r2)
}

func TestDamagedMiddleBlockIsSkippedByRead(t *testing.T) {
	path := dbPath(t)
	makeDB(t, path)
	// Damage the content (not the structure) of a block in the middle, as
	// bit rot would: bbolt cannot see it, the block checksum does.
	var victim uint64
	editDB(t, path, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketData).Cursor()
		k, _ := c.First()
		k, v := c.Next()
		victim, _ = keySeq(k)
		v = append([]byte(nil), v...)
		v[len(v)/2] ^= 0x10
		return tx.Bucket(bucketData).Put(k, v)
	})
	log, logs := testLogger(t)
	r, err := open(path, testConfig(8<<20), log, tuning{manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := mustStats(t, r); st.RecoveredFrom != "" {
		t.Fatalf("one bad block in the middle moved the whole file aside")
	}
	got := readAll(t, r, 0)
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seqs out of order at %d", i)
		}
	}
	if len(got) == 0 || len(got) >= 10007 || got[0].Seq != 1 || got[len(got)-1].Seq != 10007 {
		t.Fatalf("read %d readings around the damaged block", len(got))
	}
	for _, g := range got {
		if g.Seq == victim {
			t.Fatalf("the damaged block's readings were returned")
		}
	}
	if !strings.Contains(logs.String(), "damaged block") {
		t.Errorf("damaged block not logged:\n%s", logs)
	}
}

func TestOpenReadOnly(t *testing.T) {
	path := dbPath(t)
	if _, err := OpenReadOnly(path, time.Second); err == nil {
		t.Error("OpenReadOnly of a missing file succeeded")
	}
	last, _ := makeDB(t, path)
	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, ro)
	if !st.ReadOnly || st.LastSeq != last || st.Readings != last || st.Cursors["raw"] != 5000 || st.Unsent["raw"] != last-5000 {
		t.Errorf("read-only stats %+v", st)
	}
	got := readAll(t, ro, 0)
	if uint64(len(got)) != last {
		t.Errorf("read-only read %d readings, want %d", len(got), last)
	}
	var out bytes.Buffer
	if err := ro.Export(&out, "csv", 1, 3); err != nil || strings.Count(out.String(), "\n") != 4 {
		t.Errorf("read-only export: %v\n%s", err, out.String())
	}
	if err := ro.Flush(); err == nil {
		t.Error("Flush on a read-only ring succeeded")
	}
	ro.Append(gen(0, 3, 1)) // ignored
	ro.Ack("raw", last)
	if ro.Cursor("raw") != 5000 {
		t.Error("Ack moved a read-only cursor")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) == 0 {
		t.Fatal("file gone")
	}

	// While the daemon runs, the file is locked.
	r := openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	if _, err := OpenReadOnly(path, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("OpenReadOnly while a writer runs: %v", err)
	}
}

func TestSeqReservationFile(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, 8<<20, tuning{reserveStep: 100})
	r.Append(gen(0, 10, 1))
	mustFlush(t, r)
	res, err := readReservation(path)
	if err != nil || res != 111 {
		t.Fatalf("reservation %d (%v), want 11+100", res, err)
	}
	r.Append(gen(10, 50, 1))
	mustFlush(t, r) // 60 < 111: no new write
	if res, _ := readReservation(path); res != 111 {
		t.Errorf("reservation rewritten early: %d", res)
	}
	r.Append(gen(60, 60, 1))
	mustFlush(t, r) // reaches 120
	if res, _ := readReservation(path); res != 221 {
		t.Errorf("reservation %d, want 121+100", res)
	}
	r.Close()
	// The database is deleted by hand: seqs resume at the reservation.
	os.Remove(path)
	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	if f, l := r.Bounds(); f != 221 || l != 220 {
		t.Errorf("after losing the database: Bounds %d,%d, want 221,220", f, l)
	}
	writeFile(t, path+seqSuffix, []byte("junk"))
	if _, err := readReservation(path); err == nil {
		t.Error("junk reservation accepted")
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func editDB(t testing.TB, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// pickLeaf returns a leaf page of the data bucket in the middle of the file.
func pickLeaf(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var leaves []int
	db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil {
				t.Fatal(err)
			}
			if p == nil {
				break
			}
			if p.Type == "leaf" {
				leaves = append(leaves, id)
			}
		}
		return nil
	})
	if len(leaves) < 3 {
		t.Fatalf("only %d leaf pages", len(leaves))
	}
	return leaves[len(leaves)/2]
}
