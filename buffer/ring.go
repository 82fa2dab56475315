package buffer

import (
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/reading"
)

var (
	// ErrLocked is returned by Open and OpenReadOnly when another process
	// holds the file: bbolt's writer takes an exclusive lock, so while the
	// daemon runs, read its stats over the control socket instead.
	ErrLocked = errors.New("buffer file is locked by another process (is the daemon running?)")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("buffer is closed")
	// ErrReadOnly is returned by Flush on a ring from OpenReadOnly.
	ErrReadOnly = errors.New("buffer is open read-only")
	// ErrDiskReadOnly is returned by Flush while the data directory refuses
	// writes (a card gone read-only): the stored readings are served, new
	// ones wait in memory without a seq (readonly.go).
	ErrDiskReadOnly = errors.New("the data directory refuses writes (read-only file system?); new readings wait in memory")
	// ErrNotWritable is returned by Flush while the buffer file cannot be
	// opened for writing for another reason (a disk too full to create
	// it): new readings wait in memory without a seq (readonly.go).
	ErrNotWritable = errors.New("the buffer file cannot be written (disk full?); new readings wait in memory")
)

// Ring is the crash-safe reading buffer. It is safe for concurrent use: one
// sampler appending, several streams reading and acknowledging, and stats or
// export callers, while its own goroutine commits.
type Ring struct {
	path     string
	cfg      Config
	log      *slog.Logger
	readOnly bool
	tn       tuning
	pageSize int

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// commitMu serialises commits, compaction and Close, and guards the
	// fields below it: the state as last committed.
	commitMu         sync.Mutex
	st               diskState
	budget           int64
	lastCompactCheck time.Time
	lastCompact      time.Time
	fullDrops        uint64 // dropped by the budget since lastFullLog
	lastFullLog      time.Time
	lastUpgradeTry   time.Time // readonly.go
	lastROLog        time.Time
	lastUpgradeErr   string               // the last reason the ring could not write (readonly.go)
	newest           map[uint64]blockTime // delivered blocks' newest times (keep.go)

	// dbMu guards the handle: readers hold it shared; compaction and Close
	// swap it holding it exclusively (and commitMu).
	dbMu sync.RWMutex
	db   *bolt.DB

	// The parts below have locks of their own and call nothing of the
	// Ring; mu may be held when one is taken, never the reverse.
	dict   *dict
	resv   *seqReservation // the .seq file (seqfile.go)
	clk    clockBook       // clock evidence in memory (clock.go)
	state  sensorState     // SetState values (state.go)
	subs   subscribers     // Subscribe (subscribe.go)
	health commitHealth    // commit counts and failures (health.go)

	// mu guards what Append, Ack and the readers share with the committer.
	mu          sync.Mutex
	closed      bool
	pending     []entry
	hole        uint64 // pending readings dropped since the last commit
	dropped     uint64 // dropped_total, including what is not yet persisted
	cursors     map[string]uint64
	active      map[string]bool
	first, last uint64
	count       uint64
	dataBytes   int64
	compactions uint64
	recovery    recovery // what this open did about a lost file (jump.go)
	floor       uint64   // start of an unannounced jump for new streams (jump.go)
	diskRO      bool     // no file open for writing: read-only or none (readonly.go)
	lastDropLog time.Time
	badBlocks   map[uint64]bool
	thinned     uint64 // thinned_total (thin.go)
	thinnings   uint64
	keepAgent   time.Duration // the horizon the agent asked for (SetKeep)
}

// tuning holds the knobs tests and benchmarks turn; Open uses the defaults.
type tuning struct {
	maxPending    int           // pending readings kept while commits fail
	pruneBytes    int64         // delivered bytes batched before pruning; 0: a page; <0: any
	compactEvery  time.Duration // how often the file-vs-data check may run
	compactMinGap time.Duration // between compactions even when over max_bytes
	compactMinFil int64         // no compaction for "mostly free" below this file size
	reserveStep   uint64        // seqs reserved per write of the .seq file
	budget        int64         // data budget; 0: dataBudget
	manual        bool          // no commit goroutine: the caller Flushes
	failCommit    func() error  // fault injection, called inside each commit tx
	lockTimeout   time.Duration // wait for the file lock
	// failReserve replaces writing the .seq reservation (fault injection).
	failReserve func() error
	// writeFault, when it returns an error, stands for a data directory
	// that refuses writes (EROFS): root ignores chmod, so tests inject it.
	writeFault func() error
	// createFault, when it returns an error, stands for creating the
	// buffer file failing (a full disk, a quota: bbolt's first write).
	createFault func() error
	// upgradeEvery is how often a ring opened on a read-only data
	// directory tries to reopen it writable; <0: at every commit.
	upgradeEvery time.Duration
	// now is the wall clock keep is measured against (keep.go); nil: time.Now.
	now func() time.Time
}

const (
	// defaultMaxPending bounds readings waiting for a commit that keeps
	// failing: 131072 * 24 bytes = 3 MiB, 9 hours at the reference site.
	defaultMaxPending = 1 << 17
	openTimeout       = 10 * time.Second
)

func (t *tuning) fill(cfg Config) {
	if t.maxPending <= 0 {
		t.maxPending = defaultMaxPending
	}
	if t.compactEvery == 0 {
		t.compactEvery = time.Minute
	}
	if t.compactMinGap == 0 {
		t.compactMinGap = 10 * time.Second
	}
	if t.compactMinFil == 0 {
		t.compactMinFil = 1 << 20
	}
	if t.reserveStep == 0 {
		t.reserveStep = defaultReserveStep
	}
	if t.lockTimeout == 0 {
		t.lockTimeout = openTimeout
	}
	if t.upgradeEvery == 0 {
		t.upgradeEvery = defaultUpgradeEvery
	}
}

// diskState is the ring as last committed; commits work on a clone and
// keep it only when the transaction committed.
type diskState struct {
	nextSeq uint64
	dropped uint64
	clean   bool
	cursors map[string]uint64
	nSeries int

	dataFirst, dataLast, dataCount uint64
	dataBytes                      int64

	tailFirst uint64
	tail      *blockEncoder
	holds     []held // parked full tails, by first seq (hold.go)
	format    byte   // the file's database format (meta format)

	// thinned and thinnings are the persisted thinning totals; thinFrom is
	// where the next thinning scan starts (thin.go), in memory only.
	thinned, thinnings, thinFrom uint64

	jump jump // a seq jump not yet announced (jump.go)

	clk []clkRec         // clock epoch records, by seq (clock.go)
	syn map[string]int64 // boot id → offset after sync; replaced, never mutated
	// synWant holds syncs not written yet because no record refers to
	// their boot (clock.go); in memory only, replaced, never mutated.
	synWant map[string]int64
}

func (s *diskState) clone() diskState {
	c := *s
	c.cursors = make(map[string]uint64, len(s.cursors))
	for k, v := range s.cursors {
		c.cursors[k] = v
	}
	c.tail = s.tail.clone()
	return c
}

func (s *diskState) tailSize() int64 {
	if s.tail.n == 0 {
		return 0
	}
	return int64(len(keyTail) + 8 + s.tail.size())
}

func (s *diskState) bytes() int64  { return s.dataBytes + s.holdBytes() + s.tailSize() }
func (s *diskState) count() uint64 { return s.dataCount + s.holdCount() + uint64(s.tail.n) }

func (s *diskState) firstSeq() uint64 {
	switch {
	case s.dataCount > 0:
		return s.dataFirst
	case len(s.holds) > 0:
		return s.holds[0].first
	case s.tail.n > 0:
		return s.tailFirst
	}
	return s.nextSeq
}

func stateFrom(ld *loaded, nextSeq uint64) diskState {
	s := diskState{
		nextSeq:   nextSeq,
		dropped:   ld.dropped,
		clean:     ld.clean,
		cursors:   ld.cursors,
		nSeries:   len(ld.series),
		dataFirst: ld.dataFirst,
		dataLast:  ld.dataLast,
		dataCount: ld.dataCount,
		dataBytes: ld.dataBytes,
		tailFirst: ld.tailFirst,
		tail:      newBlockEncoder(),
		holds:     ld.holds,
		format:    ld.format,
		clk:       ld.clk,
		syn:       ld.syn,
		thinned:   ld.thinned,
		thinnings: ld.thinnings,
		jump:      ld.jump,
	}
	if s.cursors == nil {
		s.cursors = map[string]uint64{}
	}
	for _, e := range ld.tail {
		s.tail.add(e)
	}
	return s
}

// publish copies the committed state to what readers see; mu held.
func (r *Ring) publishLocked() {
	r.first = r.st.firstSeq()
	r.last = r.st.nextSeq - 1
	r.count = r.st.count()
	r.dataBytes = r.st.bytes()
	r.thinned, r.thinnings = r.st.thinned, r.st.thinnings
	r.floor = r.st.jump.floor
}

// newCursorLocked is where a stream the file has no cursor for starts: at
// first-1, or before an unannounced jump (jump.go) so that it announces it
// too. mu held.
func (r *Ring) newCursorLocked() uint64 {
	if r.floor > 0 {
		return min(r.floor, r.first) - 1
	}
	return r.first - 1
}

// Append queues readings for the next commit. It copies them, never blocks
// on the disk, and assigns no seq: that happens at commit, in time order.
// When commits keep failing and the queue is full, the oldest queued
// readings are dropped and counted.
func (r *Ring) Append(rs []reading.Reading) {
	if len(rs) == 0 || r.readOnly {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.appendLocked(rs)
}

// appendLocked is Append with mu held.
func (r *Ring) appendLocked(rs []reading.Reading) {
	if r.closed {
		r.dropped += uint64(len(rs))
		return
	}
	var ep uint16
	for i := range rs {
		if rs[i].Flags&reading.ClockUnsynced != 0 {
			ep = r.clk.epoch() // evidence only where it is needed
			break
		}
	}
	for i := range rs {
		x := &rs[i]
		r.pending = append(r.pending, entry{
			ts:    tsOf(x.Time),
			bits:  math.Float64bits(x.Value),
			sid:   r.dict.intern(x.Name, x.Unit),
			flags: x.Flags &^ reading.Thinned, // only thinning writes it
			epoch: ep * uint16(x.Flags&reading.ClockUnsynced),
		})
	}
	r.trimPendingLocked()
}

// trimPendingLocked drops the oldest pending readings beyond the bound; the
// next commit skips as many seqs, so the loss shows as a hole.
func (r *Ring) trimPendingLocked() {
	over := len(r.pending) - r.tn.maxPending
	if over <= 0 {
		return
	}
	r.pending = r.pending[over:]
	r.hole += uint64(over)
	r.dropped += uint64(over)
	if now := time.Now(); now.Sub(r.lastDropLog) >= time.Minute {
		r.lastDropLog = now
		r.log.Error("commits are failing and the pending queue is full; dropping the oldest readings",
			"path", r.path, "dropped_now", over, "dropped_total", r.dropped, "pending", len(r.pending), "last_err", r.health.lastError())
	}
}

// Bounds returns the first available and the last committed seq. An empty
// ring has first == last+1 (1 and 0 on a brand-new file).
func (r *Ring) Bounds() (first, last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first, r.last
}

// SetStreams declares the active streams. A stream new to the file starts
// at first-1: it will read the oldest reading available and nothing is
// announced as dropped, unless the file was just recovered from a loss:
// then it starts before the seq jump and announces it (jump.go). Pruning of delivered readings only waits for active
// streams; the cursors of inactive ones are kept, in case they come back.
func (r *Ring) SetStreams(names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active = make(map[string]bool, len(names))
	for _, s := range names {
		r.active[s] = true
		if _, ok := r.cursors[s]; !ok {
			r.cursors[s] = r.newCursorLocked()
		}
	}
}

// Cursor returns the last acknowledged seq of stream (first-1 for a stream
// the ring does not know yet).
func (r *Ring) Cursor(stream string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cursors[stream]; ok {
		return c
	}
	return r.newCursorLocked()
}

// Ack moves stream's cursor forward to seq (never backward, never past the
// last committed seq). It is persisted by the next commit.
func (r *Ring) Ack(stream string, seq uint64) {
	if r.readOnly {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq > r.last {
		seq = r.last
	}
	c, ok := r.cursors[stream]
	if !ok {
		c = r.newCursorLocked()
	}
	if seq > c || !ok {
		r.cursors[stream] = max(seq, c)
	}
}

// Flush commits pending readings and cursors now.
func (r *Ring) Flush() error {
	if r.readOnly {
		return ErrReadOnly
	}
	return r.commit(false)
}

// Close stops the commit loop, commits what is pending with the
// clean-shutdown mark, and closes the file.
func (r *Ring) Close() error {
	r.closeOnce.Do(func() {
		if r.stop != nil {
			close(r.stop)
			<-r.done
		}
		var err error
		if !r.readOnly {
			if err = r.commit(true); err != nil {
				r.mu.Lock()
				n := len(r.pending)
				r.mu.Unlock()
				if n == 0 && (errors.Is(err, ErrDiskReadOnly) || errors.Is(err, ErrNotWritable)) {
					err = nil // nothing lost but cursor moves, as announced at open
				} else {
					r.log.Error("final commit failed; pending readings are lost", "path", r.path, "pending", n, "err", err)
				}
			}
		}
		r.commitMu.Lock()
		r.dbMu.Lock()
		if r.db != nil {
			if cerr := r.db.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			r.db = nil
		}
		r.dbMu.Unlock()
		r.commitMu.Unlock()
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.state.close()
		r.closeErr = err
	})
	return r.closeErr
}

func (r *Ring) loop() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.CommitInterval.Duration)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			_ = r.commit(false) // logged inside
		}
	}
}
