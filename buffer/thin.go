package buffer

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/reading"
)

// Thinning (issue 4, long outages).
//
// When the data passes thin_at of the budget, the commit, before prune
// would drop anything, replaces the oldest undelivered raw readings with
// per-minute aggregates: per (series, UTC minute) group of at least 4
// readings, 4 readings "<series>_count", "_min", "_max", "_mean" (the rule
// of uplink/aggregate.go: min, max and mean over the finite values, count
// over all; count has no unit), timed at the minute's start, flags OR-ed
// plus reading.Thinned. A group of fewer than 4 readings, with no finite
// value, with an unknown time (zero, before 1970) or sampled with an
// unsynced clock (its minute is not known yet) is kept raw, with its seqs.
//
// Seqs. A thinned block (format 2) stores each entry's seq: the
// aggregates take seqs from the range they replace, so they stay unique,
// ascending and within the original range, and never collide with a seq
// a stream already saw. Outputs are ordered by the last seq of what they
// replace (a group's newest reading, a kept reading's own seq) and numbered
// from the range's first seq: a group of n readings first skips n-4 seqs,
// then takes 4 consecutive ones for _count, _min, _max, _mean; a kept
// reading takes the next one. So the range ends exactly where it did, a
// kept reading keeps no gap before it, and the only gaps a thinned range
// shows are the n-4 seqs just before each Thinned _count reading of value
// n: a consumer subtracts them from its hole count and dropped stays exact
// (uplink does: thinned.go). A group of fewer than 4 would need seqs it
// does not have, hence the minimum of 4.
//
// What is thinned: runs of up to thinRunBlocks contiguous format-1 data
// blocks, oldest first, that the slowest active stream has acknowledged
// none of (what every active stream acknowledged is pruned anyway; what a
// faster stream took it never reads again), skipping a block with an
// active cursor inside it: that stream would meet a range it had half read. Thinned blocks are never thinned again. A run
// is replaced by format-2 blocks of up to blockCap, the first keyed by the
// run's first seq, each covering the seqs up to the next (the span in its
// header). Thinning goes on until the data is under thin_at less 1/32 of
// the budget or no candidate is left; the scan position is kept in memory
// (diskState.thinFrom) so a commit never re-reads what it already judged.
// A stream that had read (not yet acknowledged) part of a run before it
// was thinned re-reads the rest as aggregates after a reconnect.

const (
	blockFormatThinned = 2
	// thinHeaderLen: format, count (4), span (4).
	thinHeaderLen = blockHeaderLen + 4
	thinRunBlocks = 32
	// thinMin is the smallest group that is aggregated (see above).
	thinMin = 4
)

var keyThin = []byte("thin") // thinned_total (8) | thinnings (8)

func (s *diskState) thinBytes() int {
	if s.thinned == 0 {
		return 0
	}
	return leafElemLen + len(keyThin) + 16
}

// thinOut is one entry of a thinned block, with its absolute seq.
type thinOut struct {
	seq uint64
	e   entry
}

// thinGroup accumulates one (series, minute).
type thinGroup struct {
	sid    uint32
	minute int64
	n      int // all readings, finite or not
	sum    reading.Summary
	flags  reading.Flags
	last   uint64 // newest seq
}

// thin runs inside the commit transaction, before prune. It returns the raw
// readings replaced.
func (r *Ring) thin(data, ser *bolt.Bucket, next *diskState, w *work) (uint64, error) {
	if r.cfg.ThinAt <= 0 {
		return 0, nil
	}
	limit := int64(r.cfg.ThinAt * float64(r.budget))
	if next.bytes() <= limit {
		return 0, nil
	}
	target := limit - r.budget/32
	var total uint64
	c := data.Cursor()
	for next.bytes() > target {
		// Collect the next run of candidate blocks.
		var run []uint64 // keys
		var vals [][]byte
		k, v := c.Seek(seqKey(next.thinFrom))
		for ; k != nil; k, v = c.Next() {
			first, last, _ := blockSpan(k, v)
			ok := v[0] == blockFormat1 && thinCandidate(first, last, w)
			if len(run) > 0 {
				_, prevLast, _ := blockSpan(seqKey(run[len(run)-1]), vals[len(vals)-1])
				if !ok || first != prevLast+1 || len(run) == thinRunBlocks {
					break
				}
			}
			next.thinFrom = last + 1
			if ok {
				run = append(run, first)
				vals = append(vals, v)
			}
		}
		if len(run) == 0 {
			break
		}
		n, err := r.thinRun(data, next, run, vals)
		if err != nil {
			return total, err
		}
		total += n
		c = data.Cursor() // the run's keys were rewritten
	}
	if total == 0 {
		return 0, nil
	}
	// Series the aggregates interned (and any the sampler added meanwhile).
	names := r.dict.snapshot()
	for i := next.nSeries; i < len(names); i++ {
		if err := ser.Put(seriesID(uint32(i)), encodeSeries(names[i])); err != nil {
			return total, fmt.Errorf("thin: series: %w", err)
		}
	}
	next.nSeries = len(names)
	return total, nil
}

// thinCandidate: the slowest active stream has acknowledged none of the
// block, and no active stream has acknowledged part of it.
func thinCandidate(first, last uint64, w *work) bool {
	if w.hasActive && w.minCursor >= first {
		return false
	}
	for _, c := range w.activeCursors {
		if c >= first && c < last {
			return false
		}
	}
	return true
}

// thinRun replaces the blocks of one contiguous run (keys and values, values
// valid until the first write) and returns the raw readings replaced.
func (r *Ring) thinRun(data *bolt.Bucket, next *diskState, keys []uint64, vals [][]byte) (uint64, error) {
	names := r.dict.snapshot()
	var raw []thinOut
	oldBytes := int64(0)
	var oldCount uint64
	for i, v := range vals {
		first := keys[i]
		n, err := decodeBlock(v, len(names), func(off int, e entry) bool {
			raw = append(raw, thinOut{seq: first + uint64(off), e: e})
			return true
		})
		if err != nil {
			// A damaged block is left as it is: Read skips it and reports it.
			return 0, nil
		}
		oldBytes += int64(8 + len(v))
		oldCount += uint64(n)
	}
	lastSeq := raw[len(raw)-1].seq

	type gk struct {
		sid    uint32
		minute int64
	}
	const minuteNs = int64(60e9)
	groups := map[gk]*thinGroup{}
	for _, x := range raw {
		if x.e.ts <= 0 || x.e.flags&reading.ClockUnsynced != 0 {
			continue
		}
		k := gk{x.e.sid, x.e.ts - x.e.ts%minuteNs}
		g := groups[k]
		if g == nil {
			g = &thinGroup{sid: k.sid, minute: k.minute}
			groups[k] = g
		}
		g.n++
		g.flags |= x.e.flags
		g.last = x.seq
		g.sum.Add(math.Float64frombits(x.e.bits))
	}
	thinned := func(x thinOut) *thinGroup {
		if x.e.ts <= 0 || x.e.flags&reading.ClockUnsynced != 0 {
			return nil
		}
		g := groups[gk{x.e.sid, x.e.ts - x.e.ts%minuteNs}]
		if g.n < thinMin || g.sum.Finite == 0 {
			return nil
		}
		return g
	}

	// Output items in the order of the last seq they replace.
	type item struct {
		anchor uint64
		g      *thinGroup
		raw    entry
	}
	var items []item
	var replaced uint64
	for _, x := range raw {
		g := thinned(x)
		switch {
		case g == nil:
			items = append(items, item{anchor: x.seq, raw: x.e})
		case g.last == x.seq:
			items = append(items, item{anchor: x.seq, g: g})
			replaced += uint64(g.n)
		}
	}
	if replaced == 0 {
		return 0, nil // nothing to gain; thinFrom has moved past it
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.anchor, b.anchor) })
	out := make([]thinOut, 0, len(items)+3*len(groups))
	cur := keys[0] - 1
	for _, it := range items {
		if it.g == nil {
			cur++
			out = append(out, thinOut{seq: cur, e: it.raw})
			continue
		}
		g := it.g
		cur += uint64(g.n - thinMin)
		s := names[g.sid]
		fl := g.flags | reading.Thinned
		for _, a := range [...]struct {
			suffix, unit string
			v            float64
		}{
			{"_count", "", float64(g.n)},
			{"_min", s.unit, g.sum.Min},
			{"_max", s.unit, g.sum.Max},
			{"_mean", s.unit, g.sum.Mean()},
		} {
			cur++
			sid := r.dict.intern(s.name+a.suffix, a.unit)
			out = append(out, thinOut{seq: cur, e: entry{ts: g.minute, bits: math.Float64bits(a.v), sid: sid, flags: fl}})
		}
	}
	if cur != lastSeq {
		return 0, fmt.Errorf("thin: run %d..%d renumbered to end at %d (bug)", keys[0], lastSeq, cur)
	}

	for _, k := range keys {
		if err := data.Delete(seqKey(k)); err != nil {
			return 0, fmt.Errorf("thin: delete block at seq %d: %w", k, err)
		}
	}
	next.dataBytes -= oldBytes
	next.dataCount -= min(oldCount, next.dataCount)

	// Write the outputs in blocks of up to blockCap; each covers the seqs
	// up to the next block's key, the last up to the run's end.
	capBytes := blockCap(r.pageSize)
	var chunks [][]thinOut
	start := 0
	enc := newThinEncoder(keys[0])
	for i, x := range out {
		if enc.n > 0 && enc.size()+maxEntryLen+binary.MaxVarintLen64 > capBytes {
			chunks = append(chunks, out[start:i])
			start = i
			enc = newThinEncoder(x.seq)
		}
		enc.addAt(x.seq, x.e)
	}
	chunks = append(chunks, out[start:])
	for i, ch := range chunks {
		key := ch[0].seq
		if i == 0 {
			key = keys[0]
		}
		end := lastSeq + 1
		if i+1 < len(chunks) {
			end = chunks[i+1][0].seq
		}
		enc := newThinEncoder(key)
		for _, x := range ch {
			enc.addAt(x.seq, x.e)
		}
		binary.BigEndian.PutUint32(enc.buf[blockHeaderLen:thinHeaderLen], uint32(end-key))
		v := enc.bytes()
		if err := data.Put(seqKey(key), v); err != nil {
			return 0, fmt.Errorf("thin: block at seq %d: %w", key, err)
		}
		next.dataBytes += int64(8 + len(v))
		next.dataCount += uint64(enc.n)
	}
	if next.dataCount > 0 {
		if k, _ := data.Cursor().First(); k != nil {
			next.dataFirst, _ = keySeq(k)
		}
	}
	next.thinned += replaced
	next.thinnings++
	return replaced, nil
}

// newThinEncoder starts a format-2 block keyed by first; thinSeq tracks
// the previous entry's seq.
func newThinEncoder(first uint64) *blockEncoder {
	return &blockEncoder{
		buf:     []byte{blockFormatThinned, 0, 0, 0, 0, 0, 0, 0, 0},
		prev:    map[uint32]uint64{},
		thinSeq: first - 1,
	}
}

// addAt adds an entry with its seq (> the previous one's): a format-2
// entry starts with the uvarint count of seqs skipped before it.
func (e *blockEncoder) addAt(seq uint64, x entry) {
	e.buf = binary.AppendUvarint(e.buf, seq-e.thinSeq-1)
	e.thinSeq = seq
	e.add(x)
}
