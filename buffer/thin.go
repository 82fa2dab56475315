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

// Thinning: a link down for weeks must cost resolution, not readings.
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
// none of (what every active stream acknowledged is pruned anyway, or kept
// unthinned for keep.go and deleted before thinning starts; what a
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
		run, vals := nextThinRun(c, next, w)
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

// nextThinRun collects the next run of candidate blocks from thinFrom on
// (their keys, and values valid until the first write) and moves thinFrom
// past every block it judged.
func nextThinRun(c *bolt.Cursor, next *diskState, w *work) (run []uint64, vals [][]byte) {
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
	return run, vals
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
// valid until the first write) and returns the raw readings replaced: it
// decodes the run, plans its outputs, and writes them in place of the run.
func (r *Ring) thinRun(data *bolt.Bucket, next *diskState, keys []uint64, vals [][]byte) (uint64, error) {
	names := r.dict.snapshot()
	run, ok := decodeRun(keys, vals, len(names))
	if !ok {
		// A damaged block is left as it is: Read skips it and reports it.
		return 0, nil
	}
	items, replaced := planThin(run.raw)
	if replaced == 0 {
		return 0, nil // nothing to gain; thinFrom has moved past it
	}
	out, err := r.renumber(items, run, names)
	if err != nil {
		return 0, err
	}
	if err := deleteRun(data, next, run); err != nil {
		return 0, err
	}
	if err := writeThinned(data, next, out, run, blockCap(r.pageSize)); err != nil {
		return 0, err
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

// thinSource is a decoded run of raw blocks.
type thinSource struct {
	keys        []uint64  // the blocks' first seqs
	raw         []thinOut // every reading, in seq order
	first, last uint64    // the run's seq range
	bytes       int64     // the blocks' key and value bytes
	count       uint64    // readings stored
}

// decodeRun decodes the blocks of a run; ok is false when one is damaged.
func decodeRun(keys []uint64, vals [][]byte, nNames int) (thinSource, bool) {
	run := thinSource{keys: keys, first: keys[0]}
	for i, v := range vals {
		first := keys[i]
		n, err := decodeBlock(v, nNames, func(off int, e entry) bool {
			run.raw = append(run.raw, thinOut{seq: first + uint64(off), e: e})
			return true
		})
		if err != nil {
			return thinSource{}, false
		}
		run.bytes += int64(8 + len(v))
		run.count += uint64(n)
	}
	run.last = run.raw[len(run.raw)-1].seq
	return run, true
}

// groupKey is a group: one series in one UTC minute.
type groupKey struct {
	sid    uint32
	minute int64
}

const minuteNs = int64(60e9)

// groupOf is x's group; ok is false for a reading never thinned: an
// unknown time or an unsynced clock (its minute is not known yet).
func groupOf(x thinOut) (groupKey, bool) {
	if x.e.ts <= 0 || x.e.flags&reading.ClockUnsynced != 0 {
		return groupKey{}, false
	}
	return groupKey{x.e.sid, x.e.ts - x.e.ts%minuteNs}, true
}

// thinItem is one output of a run: a group's aggregates (g set) or a raw
// reading kept, at the last seq of what it replaces.
type thinItem struct {
	anchor uint64
	g      *thinGroup
	raw    entry
}

// planThin groups raw by (series, minute) and lists the outputs in the
// order of the last seq they replace: a group that is thinned at its
// newest reading, every other reading as it is. It returns the raw
// readings the aggregates replace.
func planThin(raw []thinOut) ([]thinItem, uint64) {
	groups := map[groupKey]*thinGroup{}
	for _, x := range raw {
		k, ok := groupOf(x)
		if !ok {
			continue
		}
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
	var items []thinItem
	var replaced uint64
	for _, x := range raw {
		var g *thinGroup
		if k, ok := groupOf(x); ok {
			if g = groups[k]; g.n < thinMin || g.sum.Finite == 0 {
				g = nil
			}
		}
		switch {
		case g == nil:
			items = append(items, thinItem{anchor: x.seq, raw: x.e})
		case g.last == x.seq:
			items = append(items, thinItem{anchor: x.seq, g: g})
			replaced += uint64(g.n)
		}
	}
	slices.SortFunc(items, func(a, b thinItem) int { return cmp.Compare(a.anchor, b.anchor) })
	return items, replaced
}

// renumber gives the outputs their seqs from the run's first (Seqs, at the
// top of this file: a group skips n-4 seqs, then takes 4) and interns the
// aggregates' series. The last output must land on the run's last seq.
func (r *Ring) renumber(items []thinItem, run thinSource, names []seriesKey) ([]thinOut, error) {
	n := len(items)
	for _, it := range items {
		if it.g != nil {
			n += thinMin - 1
		}
	}
	out := make([]thinOut, 0, n)
	cur := run.first - 1
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
	if cur != run.last {
		return nil, fmt.Errorf("thin: run %d..%d renumbered to end at %d (bug)", run.first, run.last, cur)
	}
	return out, nil
}

// deleteRun deletes the run's raw blocks.
func deleteRun(data *bolt.Bucket, next *diskState, run thinSource) error {
	for _, k := range run.keys {
		if err := data.Delete(seqKey(k)); err != nil {
			return fmt.Errorf("thin: delete block at seq %d: %w", k, err)
		}
	}
	next.dataBytes -= run.bytes
	next.dataCount -= min(run.count, next.dataCount)
	return nil
}

// writeThinned writes the outputs in format-2 blocks of up to capBytes;
// each covers the seqs up to the next block's key, the first is keyed by
// the run's first seq and the last covers up to the run's end.
func writeThinned(data *bolt.Bucket, next *diskState, out []thinOut, run thinSource, capBytes int) error {
	chunks := thinChunks(out, run.first, capBytes)
	for i, ch := range chunks {
		key := ch[0].seq
		if i == 0 {
			key = run.first
		}
		end := run.last + 1
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
			return fmt.Errorf("thin: block at seq %d: %w", key, err)
		}
		next.dataBytes += int64(8 + len(v))
		next.dataCount += uint64(enc.n)
	}
	return nil
}

// thinChunks cuts out into the runs that fit a block of capBytes.
func thinChunks(out []thinOut, first uint64, capBytes int) [][]thinOut {
	var chunks [][]thinOut
	start := 0
	enc := newThinEncoder(first)
	for i, x := range out {
		if enc.n > 0 && enc.size()+maxEntryLen+binary.MaxVarintLen64 > capBytes {
			chunks = append(chunks, out[start:i])
			start = i
			enc = newThinEncoder(x.seq)
		}
		enc.addAt(x.seq, x.e)
	}
	return append(chunks, out[start:])
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
