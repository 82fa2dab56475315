package buffer

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keeping delivered readings: the rules engine rebuilds its windows from
// the ring at start, and the page plots the last hours from it, so
// readings every active stream has acknowledged stay until they are older
// than the horizon: the larger of [buffer] keep and what the agent asks for
// (SetKeep). A delivered data block is pruned once its newest reading is
// older than now minus the horizon, a page's worth at a time as without
// keep. The newest time is decoded from the block (a delivered block never
// changes: thinning only rewrites undelivered ones) and remembered in
// memory by seq, so a commit decodes at most the blocks it newly judges and
// nothing more is written: no index on disk, nothing new per commit.
//
// Capacity wins: the budget prune deletes the oldest blocks first, which
// are the delivered ones, and before thinning (past thin_at) the kept
// delivered blocks are deleted down to thinning's target, so delivered
// data never costs an undelivered reading its resolution or its place.
// Neither counts as dropped.
//
// The times are the readings' stored ones: a reading sampled before the
// clock synced (1970, or a stale boot time) looks old and goes once
// delivered. A box that boots with its clock behind (no RTC: the time
// saved at shutdown) sees every kept block as newer than now and prunes
// none of them until the clock catches up; a block timed ahead of the
// real time (a clock set wrong) holds the ones after it back until
// capacity needs the room: keeping too much costs room, pruning too
// much would cost the windows, so the rule errs on keeping.

// blockTime is a delivered block's newest reading time, and the checksum
// of the block it was decoded from.
type blockTime struct {
	crc    uint32
	newest int64
}

// maxNewestMemo bounds the memo: a commit judges a page's worth of blocks
// or a few more, so a small map suffices and is rebuilt by decoding.
const maxNewestMemo = 256

// SetKeep sets the horizon the caller needs delivered readings kept for
// (the rules' longest window, the page's default plot range); the ring
// keeps the larger of it and [buffer] keep. It takes effect at the next
// commit, costs no write, and does not bring back what was pruned.
func (r *Ring) SetKeep(d time.Duration) {
	r.mu.Lock()
	r.keepAgent = max(d, 0)
	r.mu.Unlock()
}

// Keep is the horizon in force: the larger of [buffer] keep and SetKeep's.
func (r *Ring) Keep() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keepLocked()
}

// keepLocked is the horizon in force; mu held.
func (r *Ring) keepLocked() time.Duration {
	return max(r.cfg.Keep.Duration, r.keepAgent)
}

func (r *Ring) now() time.Time {
	if r.tn.now != nil {
		return r.tn.now()
	}
	return time.Now()
}

// newestOf returns the newest reading time of a delivered block: from the
// memo when it holds this block, else decoded. A block that cannot be
// decoded counts as old: pruning must be able to remove it.
func (r *Ring) newestOf(first uint64, v []byte) int64 {
	crc := blockChecksum(v)
	if bt, ok := r.newest[first]; ok && bt.crc == crc {
		return bt.newest
	}
	newest := int64(math.MinInt64)
	if _, err := decodeBlock(v, math.MaxInt32, func(_ int, e entry) bool {
		newest = max(newest, e.ts)
		return true
	}); err != nil {
		newest = math.MinInt64
	}
	if r.newest == nil || len(r.newest) >= maxNewestMemo {
		r.newest = map[uint64]blockTime{}
	}
	r.newest[first] = blockTime{crc: crc, newest: newest}
	return newest
}

func blockChecksum(v []byte) uint32 {
	if len(v) < blockCRCLen {
		return 0
	}
	return binary.LittleEndian.Uint32(v[len(v)-blockCRCLen:])
}

// pruner deletes blocks from the front of data, keeping next's figures.
type pruner struct {
	data    *bolt.Bucket
	next    *diskState
	removed bool
}

func (p *pruner) remove(c *bolt.Cursor, k, v []byte) (first, last uint64, err error) {
	first, last, count := blockSpan(k, v)
	size := int64(len(k) + len(v))
	if err := c.Delete(); err != nil {
		return 0, 0, fmt.Errorf("prune block at seq %d: %w", first, err)
	}
	p.next.dataBytes -= size
	p.next.dataCount -= min(count, p.next.dataCount)
	p.removed = true
	return first, last, nil
}

// finish fixes the data bounds after removals.
func (p *pruner) finish(pageSize int) error {
	if !p.removed {
		return nil
	}
	next := p.next
	if next.dataCount == 0 {
		next.dataFirst, next.dataLast, next.dataBytes = 0, 0, 0
	} else if k, _ := p.data.Cursor().First(); k != nil {
		next.dataFirst, _ = keySeq(k)
	}
	return pruneHolds(p.data, next, pageSize)
}

// pruneKept deletes the delivered blocks whose newest reading is older
// than the horizon, oldest first, once a page's worth of them (the same
// threshold as without keep) has accumulated.
func (r *Ring) pruneKept(p *pruner, w *work) error {
	now := r.now()
	cutoff := now.Add(-w.keep).UnixNano()
	threshold := r.tn.pruneBytes
	if threshold == 0 {
		threshold = int64(r.pageSize)
	}
	var bytes int64
	n := 0
	c := p.data.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		first, last, _ := blockSpan(k, v)
		if last > w.minCursor {
			break
		}
		if r.newestOf(first, v) > cutoff {
			break
		}
		bytes += int64(len(k) + len(v))
		n++
	}
	if n == 0 || threshold >= 0 && bytes < threshold {
		return nil
	}
	for ; n > 0; n-- {
		k, v := c.First()
		if k == nil {
			break
		}
		first, _, err := p.remove(c, k, v)
		if err != nil {
			return err
		}
		delete(r.newest, first)
	}
	return nil
}

// evictKept runs before thinning: past thin_at, the kept delivered blocks
// are deleted, oldest first, down to thinning's target, so that thinning
// (and the budget prune after it) only ever meets undelivered readings
// once delivered ones are gone. Without keep there is at most a page of
// delivered blocks, and nothing to do.
func (r *Ring) evictKept(data *bolt.Bucket, next *diskState, w *work) error {
	if w.keep <= 0 || !w.hasActive || r.cfg.ThinAt <= 0 {
		return nil
	}
	limit := int64(r.cfg.ThinAt * float64(r.budget))
	if next.bytes() <= limit {
		return nil
	}
	target := limit - r.budget/32
	p := &pruner{data: data, next: next}
	c := data.Cursor()
	for k, v := c.First(); k != nil && next.bytes() > target; k, v = c.First() {
		if _, last, _ := blockSpan(k, v); last > w.minCursor {
			break
		}
		first, _, err := p.remove(c, k, v)
		if err != nil {
			return err
		}
		delete(r.newest, first)
	}
	return p.finish(r.pageSize)
}
