package buffer

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkIngest measures commit throughput: N readings of 50 series
// appended, then one Flush (one transaction, two fdatasyncs).
func BenchmarkIngest(b *testing.B) {
	for _, batch := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("readings-per-commit=%d", batch), func(b *testing.B) {
			r := openManual(b, dbPath(b), 64<<20, tuning{})
			defer r.Close()
			rs := gen(0, batch, 50)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				r.Append(rs)
				if err := r.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.StopTimer()
			n := float64(b.N * batch)
			b.ReportMetric(n/el.Seconds(), "readings/s")
			b.ReportMetric(float64(el.Nanoseconds())/n, "ns/reading")
			st := mustStats(b, r)
			b.ReportMetric(float64(st.DataBytes)/float64(st.Readings), "stored-B/reading")
		})
	}
}

// BenchmarkRead measures how fast a stream drains a backlog.
func BenchmarkRead(b *testing.B) {
	r := openManual(b, dbPath(b), 64<<20, tuning{})
	defer r.Close()
	for i := range 100 {
		r.Append(gen(i*5000, 5000, 40))
		mustFlush(b, r)
	}
	b.ResetTimer()
	from, n := uint64(1), 0
	for range b.N {
		rs, err := r.Read(from, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) == 0 {
			from = 1
			continue
		}
		n += len(rs)
		from = rs[len(rs)-1].Seq + 1
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkDiskWrites is the SD-wear figure. The reference site makes 4
// readings/s (40 series at 10 s); a commit every 200 ms, 1 s or 5 s carries
// 0.8, 4 or 20 of them. One benchmark iteration is one commit tick. The
// stream acknowledges once a minute ("live": delivered data pruned once a
// page's worth is delivered, the default; "-each-ack": at every ack;
// "-256KiB": in large batches), or never ("backlog": 5 MB waiting, a deeper
// tree). write_bytes from /proc/self/io counts the page-cache
// pages this process dirtied, which fdatasync then writes: what the card
// sees, before its own write amplification.
func BenchmarkDiskWrites(b *testing.B) {
	if _, err := procWriteBytes(); err != nil {
		b.Skip(err)
	}
	for _, iv := range []time.Duration{200 * time.Millisecond, time.Second, 5 * time.Second} {
		for _, mode := range []string{"live", "live-prune-each-ack", "live-prune-256KiB", "backlog", "live-unsynced"} {
			b.Run(fmt.Sprintf("commit=%s/%s", iv, mode), func(b *testing.B) {
				benchDiskWrites(b, iv, mode)
			})
		}
	}
}

func benchDiskWrites(b *testing.B, interval time.Duration, mode string) {
	tn := tuning{}
	switch mode {
	case "live-prune-each-ack":
		tn.pruneBytes = -1
	case "live-prune-256KiB":
		tn.pruneBytes = 256 << 10
	}
	path := dbPath(b)
	r := openManual(b, path, 64<<20, tn)
	r.SetStreams([]string{"raw"})
	n := 0
	prefill := 20000
	if mode == "backlog" {
		prefill = 500000
	}
	for n < prefill {
		r.Append(gen(n, 10000, 40))
		n += 10000
		mustFlush(b, r)
	}
	if mode != "backlog" {
		r.Ack("raw", uint64(n))
	}
	// Measure a running box, not the aftermath of the prefill's big
	// writes: reopen, as after a restart (see dropCache).
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	r = openManual(b, path, 64<<20, tn)
	defer r.Close()
	r.SetStreams([]string{"raw"})
	produce := func(from, k int) []reading.Reading { return gen(from, k, 40) }
	if mode == "live-unsynced" {
		// No NTP yet: every reading flagged, the clock evidence kept.
		r.SetClock(Clock{BootID: "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", Offset: func() (time.Duration, bool) { return staleOff, true }})
		produce = func(from, k int) []reading.Reading {
			rs := gen(from, k, 40)
			for i := range rs {
				rs[i].Flags = reading.ClockUnsynced
			}
			return rs
		}
	}
	perTick := 4 * interval.Seconds()
	ticksPerAck := max(1, int(time.Minute/interval))
	st0 := mustStats(b, r)
	pages0 := r.pagesWritten()
	w0, _ := procWriteBytes()
	b.ResetTimer()
	produced, start := 0.0, n
	for i := range b.N {
		produced += perTick
		if k := int(produced) - (n - start); k > 0 {
			r.Append(produce(n, k))
			n += k
		}
		if mode != "backlog" && i%ticksPerAck == ticksPerAck-1 {
			_, last := r.Bounds()
			r.Ack("raw", last)
		}
		if err := r.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w1, _ := procWriteBytes()
	st1 := mustStats(b, r)
	written := float64(w1 - w0)
	commits := float64(st1.Commits - st0.Commits)
	readings := float64(n - start)
	if commits == 0 || readings == 0 {
		return
	}
	b.ReportMetric(written/commits, "B/commit")
	pages := float64(r.pagesWritten() - pages0)
	b.ReportMetric(pages/commits, "pages/commit")
	b.ReportMetric(pages*float64(r.pageSize)/readings, "page-B/reading")
	b.ReportMetric(written/readings, "B/reading")
	ticksPerDay := float64(24*time.Hour) / float64(interval)
	b.ReportMetric(written/float64(b.N)*ticksPerDay/1e6, "MB/day")
}

// pagesWritten is bbolt's count of page writes, meta pages included.
func (r *Ring) pagesWritten() int64 {
	r.dbMu.RLock()
	defer r.dbMu.RUnlock()
	st := r.db.Stats()
	return st.TxStats.GetWrite()
}

func procWriteBytes() (int64, error) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "write_bytes: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/self/io has no write_bytes")
}

// BenchmarkOpen measures Open of a full default-size ring (64 MiB
// max_bytes, 32 MiB of data, ~4.5 million readings), after a clean
// shutdown and after a power cut (then bbolt's consistency check runs too).
// Open drops the file from the page cache first, so this includes reading
// it from the disk.
func BenchmarkOpen(b *testing.B) {
	path := dbPath(b)
	r := openManual(b, path, 64<<20, tuning{})
	for {
		r.Append(gen(0, 20000, 40))
		mustFlush(b, r)
		if st := mustStats(b, r); st.DroppedTotal > 0 {
			break
		}
	}
	st := mustStats(b, r)
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	for _, clean := range []bool{true, false} {
		b.Run(fmt.Sprintf("clean=%v", clean), func(b *testing.B) {
			for range b.N {
				if !clean {
					b.StopTimer()
					editDB(b, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyClean, []byte{0}) })
					b.StartTimer()
				}
				r := openManual(b, path, 64<<20, tuning{})
				b.StopTimer()
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
			b.ReportMetric(float64(st.FileBytes)/(1<<20), "file-MiB")
			b.ReportMetric(float64(st.Readings), "readings")
		})
	}
}

// BenchmarkRefSiteWrites is the reference site's commit shape at the
// buffer: one iteration is one 10 s slot, 40 noisy readings at 0.01
// resolution (7-9 stored bytes each, like the sim's waveforms) committed
// together, and the 15-minute stream acknowledging every 90 slots. It
// counts bbolt's page writes (meta page included), so it is deterministic
// where BenchmarkDiskWrites of cmd/karana-edge, over a 60 s window of six
// commits, is noisy. The floor is 2 pages (root + meta).
func BenchmarkRefSiteWrites(b *testing.B) {
	r := openManual(b, dbPath(b), 64<<20, tuning{})
	defer r.Close()
	r.SetStreams([]string{"raw"})
	slot := refSlot
	// A day's worth first, so the tree has its steady depth.
	k := 0
	for ; k < 8640; k++ {
		r.Append(slot(k))
		mustFlush(b, r)
		if k%90 == 89 {
			_, last := r.Bounds()
			r.Ack("raw", last)
		}
	}
	st0 := mustStats(b, r)
	pages0 := r.pagesWritten()
	w0, werr := procWriteBytes()
	b.ResetTimer()
	for range b.N {
		r.Append(slot(k))
		mustFlush(b, r)
		if k%90 == 89 {
			_, last := r.Bounds()
			r.Ack("raw", last)
			mustFlush(b, r) // the ack's own commit, as the daemon makes it
		}
		k++
	}
	b.StopTimer()
	st1 := mustStats(b, r)
	commits := float64(st1.Commits - st0.Commits)
	pages := float64(r.pagesWritten() - pages0)
	b.ReportMetric(pages/commits, "pages/commit")
	b.ReportMetric(pages/commits/2, "x-floor")
	if w1, err := procWriteBytes(); werr == nil && err == nil {
		// What the kernel accounts (see doc.go on large folios).
		b.ReportMetric(float64(w1-w0)/commits, "write-B/commit")
	}
}

// BenchmarkIngestDefault is the buffer's ingest at the default commit
// interval (1 s) with its own commit goroutine, as the daemon runs it: a
// producer keeps the queue as full as it can without overflowing it (the
// queue is bounded, so the sustained rate is what the commits absorb), for
// 5 s per iteration. It fails if a reading is dropped.
func BenchmarkIngestDefault(b *testing.B) {
	log, _ := testLogger(b)
	r, err := open(dbPath(b), testConfig(256<<20), log, tuning{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	batch := gen(0, 1000, 50)
	var elapsed time.Duration
	var committed uint64
	for range b.N {
		_, last0 := r.Bounds()
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if st := mustStats(b, r); st.Pending > defaultMaxPending-2*len(batch) {
				time.Sleep(time.Millisecond)
				continue
			}
			r.Append(batch)
		}
		_, last1 := r.Bounds()
		elapsed += time.Since(start)
		committed += last1 - last0
	}
	b.StopTimer()
	st := mustStats(b, r)
	if st.DroppedTotal > 0 {
		b.Fatalf("%d readings dropped", st.DroppedTotal)
	}
	b.ReportMetric(float64(committed)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(float64(st.MaxCommit.Microseconds())/1000, "max-commit-ms")
}
