package buffer

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// work is what one commit carries, taken from the shared state under mu.
type work struct {
	batch     []entry
	hole      uint64            // seqs to skip before the batch
	dropped   uint64            // dropped_total at the snapshot
	cursors   map[string]uint64 // cursors that differ from the persisted ones
	minCursor uint64            // slowest active stream
	hasActive bool
	// activeCursors are the active streams' cursors (thin.go).
	activeCursors []uint64
	series        []seriesKey // dictionary entries not yet persisted
	markClean     bool
	state         map[string][]byte // state entries set since the last commit
	stateBytes    int               // all state entries' size in the meta bucket
	epochs        []evidence        // clock epochs the batch refers to (clock.go)
	syncs         map[string]int64  // MarkSynced calls to persist
	boot          string            // this process's boot id
	streamsSet    bool              // SetStreams was called: every active stream has a cursor
	keep          time.Duration     // delivered readings' horizon (keep.go)
}

// empty reports whether w has nothing to write against the committed st.
func (w *work) empty(st *diskState) bool {
	return len(w.batch) == 0 && w.hole == 0 && len(w.cursors) == 0 && len(w.series) == 0 &&
		w.dropped == st.dropped && !(w.markClean && !st.clean) && len(w.state) == 0 &&
		len(w.syncs) == 0
}

// commit writes pending readings, cursor moves and new series in one bbolt
// transaction, prunes, and maybe compacts. Nothing is written when nothing
// changed. On failure the readings go back to the front of the queue, and
// so do those that no durable seq reservation covers (reserve).
func (r *Ring) commit(markClean bool) error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	if r.isDiskRO() && !r.tryUpgrade() {
		return r.stillReadOnly()
	}
	if r.db == nil {
		return fmt.Errorf("buffer %s: %w", r.path, ErrClosed)
	}
	w := r.snapshot(markClean)
	if w == nil {
		return nil
	}
	rest, restHole, resvErr := r.reserve(w)
	if resvErr != nil && w.empty(&r.st) {
		// Nothing but readings that must wait: no transaction at all.
		r.requeue(rest, restHole, resvErr)
		return fmt.Errorf("buffer %s: commit: %w", r.path, resvErr)
	}
	start := time.Now()
	next, pruneDrops, err := r.write(w)
	took := time.Since(start)
	if err != nil {
		w.batch = append(w.batch[:len(w.batch):len(w.batch)], rest...)
		w.hole += restHole
		r.restore(w, err)
		return fmt.Errorf("buffer %s: commit: %w", r.path, err)
	}
	r.st = next
	streak := r.health.committed(took, resvErr == nil)
	r.mu.Lock()
	r.dropped += pruneDrops
	r.publishLocked()
	r.mu.Unlock()
	if len(w.batch) > 0 {
		r.subs.notify()
	}
	if resvErr != nil {
		r.requeue(rest, restHole, resvErr)
	} else if streak > 0 {
		r.log.Info("commits succeed again", "path", r.path, "failed_commits", streak)
	}
	r.fullDrops += pruneDrops
	if now := time.Now(); r.fullDrops > 0 && now.Sub(r.lastFullLog) >= time.Minute {
		// Once a minute at most: a full ring drops at every commit, and
		// the journal is on the same card.
		r.lastFullLog = now
		r.log.Warn("full; dropped the oldest undelivered readings", "path", r.path,
			"dropped", r.fullDrops, "first_seq", next.firstSeq(), "budget_bytes", r.budget)
		r.fullDrops = 0
	}
	r.maybeCompact()
	if resvErr != nil {
		return fmt.Errorf("buffer %s: commit: %w", r.path, resvErr)
	}
	return nil
}

// reserve makes sure that every seq the batch is to take is below the
// durable reservation (seqfile.go). When it cannot be written (a full disk
// on which bbolt still has free pages inside its file), only the readings
// below the reservation stay in w; the others, and the hole when none
// fits, are returned to wait in the queue as on a failing commit: a lost
// file resumes numbering at the reservation, so a seq at or above it could
// be handed out twice.
func (r *Ring) reserve(w *work) (rest []entry, restHole uint64, err error) {
	n := uint64(len(w.batch))
	if n == 0 {
		return nil, 0, nil
	}
	k, err := r.resv.cover(max(r.st.nextSeq+w.hole, r.st.jump.to), n)
	if err == nil {
		return nil, 0, nil
	}
	rest = w.batch[k:]
	w.batch = w.batch[:k:k]
	if k == 0 {
		restHole, w.hole = w.hole, 0
	}
	return rest, restHole, err
}

// snapshot takes the pending work, or returns nil when there is none.
func (r *Ring) snapshot(markClean bool) *work {
	r.mu.Lock()
	w := &work{batch: r.pending, hole: r.hole, dropped: r.dropped, markClean: markClean}
	for s, c := range r.cursors {
		if p, ok := r.st.cursors[s]; !ok || p != c {
			if w.cursors == nil {
				w.cursors = map[string]uint64{}
			}
			w.cursors[s] = c
		}
	}
	for s := range r.active {
		c, ok := r.cursors[s]
		if !ok {
			continue
		}
		w.activeCursors = append(w.activeCursors, c)
		if !w.hasActive || c < w.minCursor {
			w.minCursor, w.hasActive = c, true
		}
	}
	w.series = r.dict.snapshot()[r.st.nSeries:]
	w.streamsSet = r.active != nil
	w.keep = r.keepLocked()
	idle := w.empty(&r.st) && !r.state.waiting() && !r.clk.syncsWaiting()
	if !idle {
		r.pending, r.hole = nil, 0
		r.state.take(w)
		r.clk.take(w) // after the readings: their epochs are all in it
	}
	r.mu.Unlock()
	if idle {
		return nil
	}
	// Seqs go out in time order, then series order: the sensors' goroutines
	// append a slot's readings in a different order every time, and an order
	// that changes costs the packed format ~4 bits a reading on the wire.
	slices.SortStableFunc(w.batch, func(a, b entry) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return cmp.Compare(a.sid, b.sid)
	})
	return w
}

// restore puts a failed commit's readings back in front of the queue, and
// its state and syncs back to be written by the next.
func (r *Ring) restore(w *work, err error) {
	r.state.putBack(w)
	r.clk.putBack(w.syncs)
	r.requeue(w.batch, w.hole, err)
}

// requeue puts readings that could not be committed back in front of the
// queue (trimmed to its bound, the overflow counted and made a hole),
// counts the failure and logs it: the first at ERROR, then once a minute.
func (r *Ring) requeue(batch []entry, hole uint64, err error) {
	streak, logNow := r.health.failed(err)
	r.mu.Lock()
	r.pending = append(batch[:len(batch):len(batch)], r.pending...)
	r.hole += hole
	r.trimPendingLocked()
	pending := len(r.pending)
	r.mu.Unlock()
	if logNow {
		r.log.Error("commit failed; readings stay pending and will be retried",
			"path", r.path, "err", err, "pending", pending, "failed_commits", streak)
	}
}

// write runs the transaction on a clone of the committed state and returns
// the new state, and how many undelivered readings the budget pruned. The
// batch's seqs start after the hole, or at a pending jump (jump.go).
func (r *Ring) write(w *work) (diskState, uint64, error) {
	next := r.st.clone()
	seq := max(next.nextSeq+w.hole, next.jump.to)
	var pruneDrops uint64
	err := r.update(func(tx *bolt.Tx) error {
		if r.tn.failCommit != nil {
			if err := r.tn.failCommit(); err != nil {
				return err
			}
		}
		meta, data, ser := tx.Bucket(bucketMeta), tx.Bucket(bucketData), tx.Bucket(bucketSeries)
		if meta == nil || data == nil || ser == nil {
			return errors.New("buckets missing")
		}
		// Keys only ever grow at the right: full pages waste nothing.
		data.FillPercent = 1.0
		if err := writeKeys(meta, ser, &next, w); err != nil {
			return err
		}
		if err := writeClock(meta, &next, w, seq); err != nil {
			return err
		}
		tailChanged := false
		if len(w.batch) > 0 {
			if err := r.addReadings(data, &next, w, seq); err != nil {
				return err
			}
			tailChanged = true
		}
		if err := r.evictKept(data, &next, w); err != nil {
			return err
		}
		if _, err := r.thin(data, ser, &next, w); err != nil {
			return err
		}
		var err error
		if pruneDrops, tailChanged, err = r.prune(data, &next, w, tailChanged); err != nil {
			return err
		}
		if err := pruneClock(meta, &next, w.boot); err != nil {
			return err
		}
		return r.writeMeta(meta, &next, w, pruneDrops, tailChanged)
	})
	return next, pruneDrops, err
}

// writeKeys writes the new series, the state set and the cursors moved.
func writeKeys(meta, ser *bolt.Bucket, next *diskState, w *work) error {
	for i, s := range w.series {
		if err := ser.Put(seriesID(uint32(next.nSeries+i)), encodeSeries(s)); err != nil {
			return fmt.Errorf("series: %w", err)
		}
	}
	next.nSeries += len(w.series)
	for k, v := range w.state {
		if err := meta.Put(stateKey(k), v); err != nil {
			return fmt.Errorf("state %s: %w", k, err)
		}
	}
	for s, c := range w.cursors {
		if err := meta.Put(cursorKey(s), u64(c)); err != nil {
			return fmt.Errorf("cursor %s: %w", s, err)
		}
		next.cursors[s] = c
	}
	return nil
}

// writeMeta writes the meta values the commit changed: thinning totals,
// the tail, dropped, next_seq, the clean mark, and the jump once it is
// announced.
func (r *Ring) writeMeta(meta *bolt.Bucket, next *diskState, w *work, pruneDrops uint64, tailChanged bool) error {
	if next.thinned != r.st.thinned {
		v := binary.BigEndian.AppendUint64(u64(next.thinned), next.thinnings)
		if err := meta.Put(keyThin, v); err != nil {
			return fmt.Errorf("thin totals: %w", err)
		}
	}
	if tailChanged {
		var err error
		if next.tail.n > 0 {
			err = meta.Put(keyTail, append(seqKey(next.tailFirst), next.tail.bytes()...))
		} else {
			err = meta.Delete(keyTail)
		}
		if err != nil {
			return fmt.Errorf("tail: %w", err)
		}
	}
	if d := w.dropped + pruneDrops; d != next.dropped {
		if err := meta.Put(keyDropped, u64(d)); err != nil {
			return fmt.Errorf("dropped: %w", err)
		}
		next.dropped = d
	}
	if next.nextSeq != r.st.nextSeq {
		if err := meta.Put(keyNextSeq, u64(next.nextSeq)); err != nil {
			return fmt.Errorf("next_seq: %w", err)
		}
	}
	if next.clean != w.markClean {
		v := byte(0)
		if w.markClean {
			v = 1
		}
		if err := meta.Put(keyClean, []byte{v}); err != nil {
			return fmt.Errorf("clean mark: %w", err)
		}
		next.clean = w.markClean
	}
	// The jump is announced once readings after it are committed and every
	// configured stream has its cursor before it (in this commit at the
	// latest: snapshot takes the new cursors with the readings).
	if next.jump.to > 0 && len(w.batch) > 0 && (next.jump.floor == 0 || w.streamsSet) {
		if err := meta.Delete(keyJump); err != nil {
			return fmt.Errorf("jump: %w", err)
		}
		next.jump = jump{}
	}
	return nil
}

func (r *Ring) update(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bbolt panicked: %v", p)
		}
	}()
	return r.db.Update(fn)
}

// addReadings gives the batch its seqs and stores it. The common small
// batch joins the tail, the block kept in the inline meta bucket: that
// commit rewrites only the root page and the meta page. When the tail is
// full it is sealed into the data bucket, and a large batch (a backlog
// after failed commits) goes to data blocks of up to blockCap.
func (r *Ring) addReadings(data *bolt.Bucket, next *diskState, w *work, seq uint64) error {
	lim := tailLimit(r.pageSize, next.cursors, w.stateBytes+next.clockBytes()+next.thinBytes()+next.jumpBytes())
	if seq != next.nextSeq && next.tail.n > 0 {
		// Seqs within a block are contiguous; a hole starts a new one.
		if err := r.retireTail(data, next); err != nil {
			return err
		}
	}
	if next.tail.n == 0 {
		next.tailFirst = seq
	}
	next.nextSeq = seq + uint64(len(w.batch))

	if next.tail.size()+len(w.batch)*minEntryLen <= lim {
		trial := next.tail.clone()
		for _, e := range w.batch {
			trial.add(e)
		}
		if trial.size() <= lim {
			next.tail = trial
			return nil
		}
	}
	if next.tail.n > 0 && blockMinLen+len(w.batch)*minEntryLen <= lim {
		// The batch starts the next tail when it fits one on its own.
		fresh := newBlockEncoder()
		for _, e := range w.batch {
			fresh.add(e)
		}
		if fresh.size() <= lim {
			if err := r.retireTail(data, next); err != nil {
				return err
			}
			next.tail, next.tailFirst = fresh, seq
			return nil
		}
	}
	if err := sealTail(data, next); err != nil {
		return err
	}
	enc, start, capBytes := newBlockEncoder(), seq, blockCap(r.pageSize)
	for _, e := range w.batch {
		if enc.n > 0 && enc.size()+maxEntryLen > capBytes {
			if err := putBlock(data, next, start, enc); err != nil {
				return err
			}
			start += uint64(enc.n)
			enc = newBlockEncoder()
		}
		enc.add(e)
	}
	if enc.size() <= lim {
		next.tail, next.tailFirst = enc, start
		return nil
	}
	if err := putBlock(data, next, start, enc); err != nil {
		return err
	}
	next.tail, next.tailFirst = newBlockEncoder(), next.nextSeq
	return nil
}

// sealTail writes the holds and the tail to data, in seq order.
func sealTail(data *bolt.Bucket, next *diskState) error {
	if err := flushHolds(data, next); err != nil {
		return err
	}
	if next.tail.n == 0 {
		return nil
	}
	if err := putBlock(data, next, next.tailFirst, next.tail); err != nil {
		return err
	}
	next.tail = newBlockEncoder()
	next.tailFirst = 0
	return nil
}

func putBlock(data *bolt.Bucket, next *diskState, first uint64, enc *blockEncoder) error {
	return putRaw(data, next, first, uint64(enc.n), enc.bytes())
}

func putRaw(data *bolt.Bucket, next *diskState, first, n uint64, v []byte) error {
	if err := data.Put(seqKey(first), v); err != nil {
		return fmt.Errorf("block at seq %d: %w", first, err)
	}
	if next.dataCount == 0 {
		next.dataFirst = first
	}
	next.dataCount += n
	next.dataBytes += int64(8 + len(v))
	next.dataLast = first + n - 1
	return nil
}

// blockSpan reads a block's seq range from its header. A damaged header
// counts as one reading: pruning must still be able to remove it.
func blockSpan(k, v []byte) (first, last, count uint64) {
	first, _ = keySeq(k)
	c, span, _, err := blockLayout(v)
	if err != nil {
		return first, first, 1
	}
	return first, first + uint64(span) - 1, uint64(c)
}

// prune deletes the oldest blocks while the data is over budget (counting
// the undelivered readings among them as dropped, whatever the cursors
// say), then the blocks every active stream has acknowledged, once a leaf
// page's worth of them has accumulated (with a keep horizon, only those
// older than it: pruneKept, keep.go). A prune rewrites the leftmost path
// of the tree: waiting for a page's worth bounds that to a few pages per
// page freed while a backlog drains in small batches; pruning sooner keeps
// the tree of a live box one level shallower, which every tail seal
// profits from (BenchmarkDiskWrites measures both ways: pruning at a
// larger threshold such as 256 KiB costs 2-10% more writes per commit).
func (r *Ring) prune(data *bolt.Bucket, next *diskState, w *work, tailChanged bool) (drops uint64, _ bool, err error) {
	p := &pruner{data: data, next: next}
	remove := p.remove

	if next.bytes() > r.budget {
		target := r.budget - r.budget/32
		// The oldest go first, wherever they are: holds join data first.
		if err := flushHolds(data, next); err != nil {
			return 0, tailChanged, err
		}
		c := data.Cursor()
		for next.bytes() > target {
			k, v := c.First()
			if k == nil {
				break
			}
			first, last, err := remove(c, k, v)
			if err != nil {
				return 0, tailChanged, err
			}
			if !w.hasActive {
				drops += last - first + 1
			} else if done := max(w.minCursor, first-1); last > done {
				drops += last - done
			}
		}
		if next.bytes() > target && next.tail.n > 0 {
			// Only the tail is left and it alone is over budget: a budget
			// this small is a configuration error Validate prevents, but
			// never keep more than asked.
			drops += uint64(next.tail.n)
			next.tail, next.tailFirst = newBlockEncoder(), 0
			tailChanged = true
		}
	}

	if w.hasActive && w.keep > 0 {
		if err := r.pruneKept(p, w); err != nil {
			return 0, tailChanged, err
		}
	} else if w.hasActive && next.dataCount > 0 && w.minCursor >= next.dataFirst {
		upto := min(w.minCursor, next.dataLast)
		est := (upto - next.dataFirst + 1) * uint64(next.dataBytes) / next.dataCount
		threshold := r.tn.pruneBytes
		if threshold == 0 {
			threshold = int64(r.pageSize)
		}
		if threshold < 0 || est >= uint64(threshold) {
			c := data.Cursor()
			for k, v := c.First(); k != nil; k, v = c.First() {
				if _, last, _ := blockSpan(k, v); last > w.minCursor {
					break
				}
				if _, _, err := remove(c, k, v); err != nil {
					return 0, tailChanged, err
				}
			}
		}
	}

	if err := p.finish(r.pageSize); err != nil {
		return 0, tailChanged, err
	}
	return drops, tailChanged, nil
}
