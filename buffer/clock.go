package buffer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/reading"
)

// Clock evidence: what it takes to re-stamp readings sampled before the
// system clock was synchronized, without ever inventing a time.
//
// A reading's time is the wall clock at its slot. While the clock is
// unsynchronized (no RTC, no NTP yet) that is the boot time (CLOCK_BOOTTIME)
// plus an offset that is wrong by an unknown amount, but the same for every
// reading of the boot until the clock is stepped. So the evidence a reading
// needs is its boot id and that offset, and the ring stores them once per
// run of readings that share them, not per reading:
//
//   - Append, for unsynced readings only, takes the evidence from the
//     Clock given to SetClock (boot id, wall minus boot time) and tags each
//     queued entry with an index into the epochs seen by this process: a
//     new epoch begins when the offset moves by more than epochSlack (a
//     clock step; nobody slews an unsynced clock). The offset is measured
//     at Append, right after the read, not at the slot: a step during a
//     sensor's read is the one case it gets wrong, by the step. Synced
//     readings cost nothing.
//   - A commit writes meta "clk/<seq>" = offset ns (8 bytes BE) | boot id
//     at each unsynced reading whose epoch differs from the last record's
//     (in seq order, so readings of two epochs interleaved in time after a
//     step back get a record at each switch). An unsynced reading belongs
//     to the record with the greatest seq not above its own. A synced box
//     writes no record at all: the steady state's commits are unchanged.
//   - MarkSynced(boot, offset), called by the agent once the clock is
//     synchronized, writes meta "syn/<boot id>" = the offset after the sync,
//     on the next commit.
//   - Read re-stamps an unsynced reading whose record's boot has a sync
//     record: time − offset at sampling + offset after sync, ClockUnsynced
//     cleared, ClockCorrected set. A boot that never synchronized keeps its
//     readings' raw time and ClockUnsynced: untrusted, never invented.
//
// Records whose seqs have all been pruned are deleted with them, and sync
// records of boots no longer referenced (except this boot's): the meta
// bucket stays small and inline. Older builds of database format 1 ignore
// both key kinds.

const (
	clkPrefix = "clk/"
	synPrefix = "syn/"
	// epochSlack: offsets within it are one epoch. Two reads of two clocks
	// differ by microseconds; a step is seconds or more.
	epochSlack = 100 * time.Millisecond
	// maxEpochs bounds the epochs one process tracks; past it (a clock
	// stepped 65535 times) new steps share the last epoch.
	maxEpochs = 1<<16 - 1
)

// evidence is one clock epoch: a boot and its wall-minus-boot offset.
type evidence struct {
	boot string
	off  int64 // ns
}

// clkRec is a persisted epoch record: unsynced readings from seq on.
type clkRec struct {
	seq uint64
	evidence
}

// Clock is the ring's view of the system clock (the agent fills it from
// package clock).
type Clock struct {
	// BootID identifies this boot (clock.BootID); "" disables the evidence.
	BootID string
	// Offset returns the wall clock minus CLOCK_BOOTTIME and whether it
	// could be measured (clock.Offset).
	Offset func() (time.Duration, bool)
	// Synced reports whether the clock is synchronized now (clock.Synced);
	// only then does Read flag readings dated in the future.
	Synced func() bool
	// Plausible decides whether a reading's time can be right given now
	// and Synced (clock.Plausible); Read flags the others
	// reading.TimeImplausible. Nil: every time is plausible.
	Plausible func(t, now time.Time, synced bool) bool
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// clockBook is the in-memory side of clock evidence: the Clock given to
// SetClock, the epochs seen by this process, and the syncs reported but
// not yet committed. It has its own lock, so Append tags readings and Read
// re-stamps them without the ring's. Lock order: Ring.mu may be held when
// it is taken (snapshot), never the reverse; it calls nothing of the ring.
type clockBook struct {
	mu     sync.Mutex
	clock  Clock
	boot   string                       // this boot's id; "" disables the evidence
	offset func() (time.Duration, bool) // wall minus boot time
	epochs []evidence                   // append-only: commits share it
	syncs  map[string]int64             // MarkSynced calls not yet committed
}

// SetClock gives the ring its clock. Call it before the first Append;
// without it unsynced readings are stored without evidence and never
// corrected, and Read checks no dates.
func (r *Ring) SetClock(c Clock) {
	if r.readOnly {
		return
	}
	r.clk.set(c)
}

func (b *clockBook) set(c Clock) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Synced == nil {
		c.Synced = func() bool { return false }
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clock = c
	if c.BootID != "" && c.Offset != nil {
		b.boot, b.offset = c.BootID, c.Offset
	}
}

// checkDates flags readings whose (corrected) time cannot be right.
func (c Clock) checkDates(out []reading.Reading) {
	if c.Plausible == nil {
		return
	}
	now, synced := c.Now(), c.Synced()
	for i := range out {
		if !c.Plausible(out[i].Time, now, synced) {
			out[i].Flags |= reading.TimeImplausible
		}
	}
}

// MarkSynced records that the clock of boot bootID is synchronized and that
// wall minus boot time is offset from now on; the next commit persists it.
// From then on Read re-stamps that boot's unsynced readings.
func (r *Ring) MarkSynced(bootID string, offset time.Duration) {
	if r.readOnly || bootID == "" {
		return
	}
	r.clk.markSynced(bootID, int64(offset))
}

func (b *clockBook) markSynced(boot string, off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.syncs == nil {
		b.syncs = map[string]int64{}
	}
	b.syncs[boot] = off
}

// epoch returns the current epoch's index, opening a new one after a clock
// step. 0 means no evidence.
func (b *clockBook) epoch() uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.offset == nil {
		return 0
	}
	off, ok := b.offset()
	if !ok {
		return 0
	}
	if n := len(b.epochs); n > 0 {
		last := b.epochs[n-1]
		if d := off - time.Duration(last.off); d > -epochSlack && d < epochSlack || n >= maxEpochs {
			return uint16(n)
		}
	}
	b.epochs = append(b.epochs, evidence{boot: b.boot, off: int64(off)})
	return uint16(len(b.epochs))
}

// syncsWaiting reports whether a MarkSynced is still to be committed.
func (b *clockBook) syncsWaiting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.syncs) > 0
}

// take gives a commit what it writes: the epochs its readings' tags index
// (taken after the readings, so every tag is covered), the syncs to
// persist, and this boot's id.
func (b *clockBook) take(w *work) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.epochs, w.syncs, w.boot = b.epochs, b.syncs, b.boot
	b.syncs = nil
}

// putBack returns a failed commit's syncs, unless MarkSynced has since
// given a newer offset for that boot.
func (b *clockBook) putBack(syncs map[string]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for boot, off := range syncs {
		if _, newer := b.syncs[boot]; !newer {
			if b.syncs == nil {
				b.syncs = map[string]int64{}
			}
			b.syncs[boot] = off
		}
	}
}

// restamp re-stamps the unsynced readings of out whose boot has synced
// (from the evidence in meta, read in the readings' transaction: a record
// committed with them is always seen with them) and flags the times the
// Clock finds implausible.
func (b *clockBook) restamp(meta *bolt.Bucket, out []reading.Reading) {
	for i := range out {
		if out[i].Flags&reading.ClockUnsynced != 0 {
			readClockView(meta).correct(out[i:])
			break
		}
	}
	b.mu.Lock()
	c := b.clock
	b.mu.Unlock()
	c.checkDates(out) // outside the lock: the Clock's functions are the agent's
}

func clkKey(seq uint64) []byte  { return append([]byte(clkPrefix), seqKey(seq)...) }
func synKey(boot string) []byte { return []byte(synPrefix + boot) }

func encodeEvidence(ev evidence) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(ev.off)), ev.boot...)
}

// readClockMeta handles a clk/ or syn/ meta key at load; ok is false for
// other keys.
func (ld *loaded) readClockMeta(k, v []byte) (ok bool, err error) {
	switch {
	case bytes.HasPrefix(k, []byte(clkPrefix)):
		seq, ok := keySeq(k[len(clkPrefix):])
		if !ok || len(v) < 8 {
			return true, fmt.Errorf("meta clock record %x: malformed", k)
		}
		ld.clk = append(ld.clk, clkRec{seq, evidence{off: int64(binary.BigEndian.Uint64(v)), boot: string(v[8:])}})
		return true, nil
	case bytes.HasPrefix(k, []byte(synPrefix)):
		if len(v) != 8 {
			return true, fmt.Errorf("meta sync record %q: %d bytes, want 8", k, len(v))
		}
		if ld.syn == nil {
			ld.syn = map[string]int64{}
		}
		ld.syn[string(k[len(synPrefix):])] = int64(binary.BigEndian.Uint64(v))
		return true, nil
	}
	return false, nil
}

// clockBytes is what the clock records take in the meta bucket.
func (s *diskState) clockBytes() int {
	n := 0
	for _, c := range s.clk {
		n += leafElemLen + len(clkPrefix) + 8 + 8 + len(c.boot)
	}
	for b := range s.syn {
		n += leafElemLen + len(synPrefix) + len(b) + 8
	}
	return n
}

// writeClock persists the epoch records of a batch whose first seq is seq
// (the batch sorted as snapshot sorts it) and pending sync records.
func writeClock(meta *bolt.Bucket, next *diskState, w *work, seq uint64) error {
	for i, e := range w.batch {
		if e.flags&reading.ClockUnsynced == 0 || e.epoch == 0 || int(e.epoch) > len(w.epochs) {
			continue
		}
		ev := w.epochs[e.epoch-1]
		if n := len(next.clk); n > 0 && next.clk[n-1].evidence == ev {
			continue
		}
		rec := clkRec{seq + uint64(i), ev}
		if err := meta.Put(clkKey(rec.seq), encodeEvidence(ev)); err != nil {
			return fmt.Errorf("clock record at seq %d: %w", rec.seq, err)
		}
		next.clk = append(next.clk[:len(next.clk):len(next.clk)], rec)
	}
	// A sync is written only once some record refers to its boot: a box
	// that was synced all along keeps nothing in meta (a smaller meta
	// bucket leaves the tail more room). Until then it waits in memory, for
	// readings sampled just before the sync that are appended after it.
	if len(w.syncs) > 0 {
		next.synWant = cloneSyn(next.synWant)
		for boot, off := range w.syncs {
			next.synWant[boot] = off
		}
	}
	for boot, off := range next.synWant {
		if !slices.ContainsFunc(next.clk, func(c clkRec) bool { return c.boot == boot }) {
			continue
		}
		if old, ok := next.syn[boot]; !ok || old != off {
			if err := meta.Put(synKey(boot), u64(uint64(off))); err != nil {
				return fmt.Errorf("clock sync record for boot %s: %w", boot, err)
			}
			next.syn = cloneSyn(next.syn)
			next.syn[boot] = off
		}
		next.synWant = cloneSyn(next.synWant)
		delete(next.synWant, boot)
	}
	return nil
}

// pruneClock deletes epoch records whose readings are all gone, and sync
// records of boots no record refers to (except the current boot's).
func pruneClock(meta *bolt.Bucket, next *diskState, curBoot string) error {
	first := next.firstSeq()
	drop := 0
	for drop+1 < len(next.clk) && next.clk[drop+1].seq <= first {
		drop++
	}
	if drop == 0 && len(next.syn) <= 1 {
		return nil
	}
	for _, c := range next.clk[:drop] {
		if err := meta.Delete(clkKey(c.seq)); err != nil {
			return fmt.Errorf("prune clock record at seq %d: %w", c.seq, err)
		}
	}
	next.clk = next.clk[drop:len(next.clk):len(next.clk)]
	used := map[string]bool{curBoot: true}
	for _, c := range next.clk {
		used[c.boot] = true
	}
	for b := range next.syn {
		if !used[b] {
			if err := meta.Delete(synKey(b)); err != nil {
				return fmt.Errorf("prune clock sync record for boot %s: %w", b, err)
			}
			next.syn = cloneSyn(next.syn)
			delete(next.syn, b)
		}
	}
	return nil
}

func cloneSyn(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// clockView is the evidence as a read transaction sees it.
type clockView struct {
	clk []clkRec // by seq
	syn map[string]int64
}

func readClockView(meta *bolt.Bucket) clockView {
	var cv clockView
	c := meta.Cursor()
	for k, v := c.Seek([]byte(clkPrefix)); k != nil && bytes.HasPrefix(k, []byte(clkPrefix)); k, v = c.Next() {
		if seq, ok := keySeq(k[len(clkPrefix):]); ok && len(v) >= 8 {
			cv.clk = append(cv.clk, clkRec{seq, evidence{off: int64(binary.BigEndian.Uint64(v)), boot: string(v[8:])}})
		}
	}
	for k, v := c.Seek([]byte(synPrefix)); k != nil && bytes.HasPrefix(k, []byte(synPrefix)); k, v = c.Next() {
		if len(v) == 8 {
			if cv.syn == nil {
				cv.syn = map[string]int64{}
			}
			cv.syn[string(k[len(synPrefix):])] = int64(binary.BigEndian.Uint64(v))
		}
	}
	return cv
}

// correct re-stamps the unsynced readings of out whose boot later synced.
func (cv clockView) correct(out []reading.Reading) {
	if len(cv.clk) == 0 || len(cv.syn) == 0 {
		return
	}
	for i := range out {
		x := &out[i]
		if x.Flags&reading.ClockUnsynced == 0 || x.Time.IsZero() {
			continue
		}
		j := sort.Search(len(cv.clk), func(j int) bool { return cv.clk[j].seq > x.Seq }) - 1
		if j < 0 {
			continue // stored before any evidence: cannot be corrected
		}
		rec := cv.clk[j]
		osync, ok := cv.syn[rec.boot]
		if !ok {
			continue
		}
		x.Time = x.Time.Add(time.Duration(osync - rec.off)).UTC()
		x.Flags = x.Flags&^reading.ClockUnsynced | reading.ClockCorrected
	}
}
