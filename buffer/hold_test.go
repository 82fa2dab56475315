package buffer

import (
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/reading"
)

// TestHoldsKeepEveryReadingInOrder commits the reference site's slots so
// that full tails are parked in holds and sealed, and checks that every
// reading reads back once, in seq order, with its value and time, before
// and after a reopen that has to load the holds.
func TestHoldsKeepEveryReadingInOrder(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, 8<<20, tuning{})
	r.SetStreams([]string{"raw"})
	var want []reading.Reading
	maxHolds, seals := 0, 0
	for k := range 47 {
		rs := refSlot(k)
		want = append(want, rs...)
		before := r.st.dataCount
		r.Append(rs)
		mustFlush(t, r)
		maxHolds = max(maxHolds, len(r.st.holds))
		if r.st.dataCount > before {
			seals++
		}
		// Reads in the middle of it all see everything committed.
		if k%5 == 0 {
			checkReadings(t, readAll(t, r, 0), want)
		}
	}
	if maxHolds < 2 || seals == 0 {
		t.Fatalf("the reference site used at most %d holds and sealed %d times: the test does not exercise holds", maxHolds, seals)
	}
	holds := slices.Clone(r.st.holds)
	if len(holds) == 0 {
		t.Fatalf("no hold left at the end; pick a slot count that leaves some")
	}
	// A read from inside a hold starts there.
	mid := holds[0].first + 3
	if got := readAll(t, r, mid); len(got) == 0 || got[0].Seq != mid {
		t.Fatalf("read from seq %d inside a hold starts at %v", mid, got[:min(1, len(got))])
	}
	// Compaction copies the hold buckets with the rest.
	r.commitMu.Lock()
	err := r.compact()
	r.commitMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	checkReadings(t, readAll(t, r, 0), want)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r2 := openManual(t, path, 8<<20, tuning{})
	defer r2.Close()
	if !slices.Equal(r2.st.holds, holds) {
		t.Errorf("holds after reopen %+v, want %+v", r2.st.holds, holds)
	}
	checkReadings(t, readAll(t, r2, 0), want)
	st := mustStats(t, r2)
	if !st.Oldest.Equal(want[0].Time) || !st.Newest.Equal(want[len(want)-1].Time) {
		t.Errorf("stats oldest/newest %v/%v, want %v/%v", st.Oldest, st.Newest, want[0].Time, want[len(want)-1].Time)
	}
	// And it goes on from there: the holds are sealed in order.
	for k := 47; k < 60; k++ {
		rs := refSlot(k)
		want = append(want, rs...)
		r2.Append(rs)
		mustFlush(t, r2)
	}
	checkReadings(t, readAll(t, r2, 0), want)
}

func checkReadings(t *testing.T, got, want []reading.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d readings, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != uint64(i+1) || g.Name != w.Name || g.Value != w.Value || !g.Time.Equal(w.Time) {
			t.Fatalf("reading %d = seq %d %s %v %v, want seq %d %s %v %v", i, g.Seq, g.Name, g.Value, g.Time, i+1, w.Name, w.Value, w.Time)
		}
	}
}

// TestOrdinaryCommitWritesTwoPages is the SD-wear design as a check: at
// the reference site, a commit that does not seal writes bbolt's floor (the
// root page and the meta page) and seals are rare, so the root page stays
// one page with the holds in it.
func TestOrdinaryCommitWritesTwoPages(t *testing.T) {
	r := openManual(t, dbPath(t), 64<<20, tuning{})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	hist := map[int64]int{}
	commits := 0
	for k := range 900 {
		p0 := r.pagesWritten()
		r.Append(refSlot(k))
		mustFlush(t, r)
		if k >= 300 { // past the first acks and prunes
			hist[r.pagesWritten()-p0]++
			commits++
		}
		if k%90 == 89 {
			_, last := r.Bounds()
			r.Ack("raw", last)
			mustFlush(t, r)
		}
	}
	var pages int64
	for p, n := range hist {
		pages += p * int64(n)
		if p > 6 {
			t.Errorf("%d commits wrote %d pages", n, p)
		}
	}
	if hist[2] < commits*3/4 {
		t.Errorf("only %d of %d commits wrote the 2-page floor: %v", hist[2], commits, hist)
	}
	if avg := float64(pages) / float64(commits); avg > 2.6 {
		t.Errorf("%.2f pages a commit (%v), over 1.3x the floor", avg, hist)
	}
}

// TestFormat1FileIsUpgraded opens a file of the format before holds: it is
// read as it is, and the commit that parks the first hold marks it format 2
// so an older build refuses it rather than miss the holds.
func TestFormat1FileIsUpgraded(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, 8<<20, tuning{})
	r.Append(refSlot(0))
	mustFlush(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	editDB(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte{1}) })
	r = openManual(t, path, 8<<20, tuning{})
	if st := mustStats(t, r); st.RecoveredFrom != "" || st.Readings != 40 {
		t.Fatalf("format 1 file not read as it is: %+v", st)
	}
	var want []reading.Reading
	want = append(want, refSlot(0)...)
	for k := 1; len(r.st.holds) == 0; k++ {
		if k > 20 {
			t.Fatal("no hold after 20 slots")
		}
		want = append(want, refSlot(k)...)
		r.Append(refSlot(k))
		mustFlush(t, r)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var format []byte
	viewDB(t, path, func(tx *bolt.Tx) error {
		format = slices.Clone(tx.Bucket(bucketMeta).Get(keyFormat))
		return nil
	})
	if !slices.Equal(format, []byte{dbFormat}) {
		t.Errorf("format after the first hold %v, want %d", format, dbFormat)
	}
	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	checkReadings(t, readAll(t, r, 0), want)
}

func viewDB(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}
