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
			sig := r.Subscribe()
			next := r.Cursor(s) + 1
			for next <= total {
				select {
				case <-sig:
				case <-time.After(50 * time.Millisecond):
				}
				for {
					rs, err := r.Read(next, 50+i*300)
					if err != nil {
						errs <- err
						return
					}
					if len(rs) == 0 {
						break
					}
					for _, x := range rs {
						if x.Seq != next || x.Value != float64(x.Seq-1) {
							errs <- fmt.Errorf("stream %s: got seq %d value %v, want seq %d", s, x.Seq, x.Value, next)
							return
						}
						next++
					}
					r.Ack(s, next-1)
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // stats, export and flush callers
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := r.Stats(); err != nil {
				errs <- err
				return
			}
			f, l := r.Bounds()
			if f > l {
				time.Sleep(3 * time.Millisecond)
				continue // empty: every reading acknowledged and pruned
			}
			var buf bytes.Buffer
			if err := r.Export(&buf, "csv", f, min(l, f+500)); err != nil {
				errs <- err
				return
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(7 * time.Millisecond):
				if err := r.Flush(); err != nil {
					errs <- err
					return
				}
			}
		}
	}()

	finished := make(chan struct{})
	go func() {
		// Streams and sampler end on their own; then stop the others.
		for _, s := range streams {
			for r.Cursor(s) < total {
				select {
				case err := <-errs:
					errs <- err
					close(finished)
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
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
