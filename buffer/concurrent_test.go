package buffer

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// TestConcurrentUse runs the daemon's shape at speed: a sampler appending,
// three streams reading and acknowledging as commits signal them, stats and
// export callers, an extra Flush caller, and compactions, all at once.
// Every stream must see every seq exactly once, in order, with the value
// appended for it.
func TestConcurrentUse(t *testing.T) {
	path := dbPath(t)
	log, _ := testLogger(t)
	cfg := Config{MaxBytes: 8 << 20, CommitInterval: config.D(10 * time.Millisecond)}
	r, err := open(path, cfg, log, tuning{pruneBytes: 4 << 10, compactEvery: time.Nanosecond, compactMinFil: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{"raw", "hourly", "alarms"}
	r.SetStreams(streams)

	const total = 60000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 16)

	wg.Add(1)
	go func() { // the sampler
		defer wg.Done()
		for n := 0; n < total; {
			k := min(1+n%97, total-n)
			r.Append(gen(n, k, 40))
			n += k
			if n%5 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := consume(r, s, 50+i*300, total); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(2)
	go func() { // stats, export and flush callers
		defer wg.Done()
		if err := pollStatsExport(r, done); err != nil {
			errs <- err
		}
	}()
	go func() {
		defer wg.Done()
		if err := flushEvery(r, 7*time.Millisecond, done); err != nil {
			errs <- err
		}
	}()

	finished := make(chan struct{})
	go func() {
		// Streams and sampler end on their own; then stop the others.
		waitCursors(r, streams, total, errs)
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("streams did not catch up in 60s")
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := mustStats(t, r)
	if st.LastSeq != total || st.DroppedTotal != 0 || st.CommitErrors != 0 {
		t.Errorf("final stats %+v", st)
	}
	t.Logf("commits %d, compactions %d, file %d bytes, data %d bytes", st.Commits, st.Compactions, st.FileBytes, st.DataBytes)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openManual(t, path, 8<<20, tuning{})
	defer r.Close()
	for _, s := range streams {
		if c := r.Cursor(s); c != total {
			t.Errorf("stream %s cursor %d after reopen, want %d", s, c, total)
		}
	}
}

// consume reads stream s as the uplink does, up to seq total: as commits
// signal it, batches of up to batch from its cursor, acknowledging each.
// Every seq must come exactly once, in order, with the value appended for
// it (gen: seq-1).
func consume(r *Ring, s string, batch int, total uint64) error {
	sig := r.Subscribe()
	next := r.Cursor(s) + 1
	for next <= total {
		select {
		case <-sig:
		case <-time.After(50 * time.Millisecond):
		}
		for {
			rs, err := r.Read(next, batch)
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				break
			}
			for _, x := range rs {
				if x.Seq != next || x.Value != float64(x.Seq-1) {
					return fmt.Errorf("stream %s: got seq %d value %v, want seq %d", s, x.Seq, x.Value, next)
				}
				next++
			}
			r.Ack(s, next-1)
		}
	}
	return nil
}

// pollStatsExport calls Stats and exports up to 500 readings until done.
func pollStatsExport(r *Ring, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		default:
		}
		if _, err := r.Stats(); err != nil {
			return err
		}
		f, l := r.Bounds()
		if f > l {
			time.Sleep(3 * time.Millisecond)
			continue // empty: every reading acknowledged and pruned
		}
		var buf bytes.Buffer
		if err := r.Export(&buf, "csv", f, min(l, f+500)); err != nil {
			return err
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// flushEvery calls Flush every d until done.
func flushEvery(r *Ring, d time.Duration, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		case <-time.After(d):
			if err := r.Flush(); err != nil {
				return err
			}
		}
	}
}

// waitCursors returns once every stream's cursor reached total, or at the
// first error (put back for the test to report).
func waitCursors(r *Ring, streams []string, total uint64, errs chan error) {
	for _, s := range streams {
		for r.Cursor(s) < total {
			select {
			case err := <-errs:
				errs <- err
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}
