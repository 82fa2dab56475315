package packed

import (
	"cmp"
	"math/bits"
	"slices"
)

// The order stream says which series each reading of the batch belongs to,
// in batch (seq) order; the seqs themselves are an integer sequence of their
// own. Two codings; the encoder writes both and keeps the shorter.
//
// orderSuccessor predicts that a reading's series is the one that followed
// the previous reading's series last time (at first: the next series by
// index). The bits are the gamma code of the number of readings predicted
// right up to the next miss, then the missed series' index in truncated
// binary, and so on; a run that reaches the last reading ends the stream.
// A batch whose readings come round the series in the same order every slot
// costs a few bits in all.
//
// orderByTime exploits the timestamps, which the decoder already has: sort
// the batch's readings by (time, series, place in series) and the batch
// order is a walk through that list. Each reading is coded by its position
// p among the readings not yet taken, counted from the first of them: p < m,
// where m is how many not yet taken share the first one's time, is written
// in truncated binary over m+1 symbols; otherwise the symbol m and the gamma
// code of p-m. This is the common case on a box: the sampler reads each
// sensor in its own goroutine and they land in the buffer in a different
// order every slot, which costs log2(m+1) bits per reading and no more —
// about 4.2 bits for 40 series that share a slot, against 5.3 for a plain
// index.

const (
	orderSuccessor = 0
	orderByTime    = 1
)

// writeSuccessor codes sid (series per reading) in orderSuccessor.
func writeSuccessor(w *bitWriter, sid []int32, nser int) {
	p := newPredictor(nser)
	run := uint64(0)
	for _, s := range sid {
		ps := p.predict()
		p.update(s)
		if s == ps {
			run++
			continue
		}
		writeGamma(w, run)
		run = 0
		writeTruncated(w, uint64(s), uint64(nser))
	}
	if run > 0 {
		writeGamma(w, run)
	}
}

func (d *decoder) readSuccessor(r *bitReader, sid []int32, nser int) {
	p := newPredictor(nser)
	hits := readGamma(r)
	for i := range sid {
		s := p.predict()
		if hits > 0 {
			hits--
		} else {
			s = int32(readTruncated(r, uint64(nser)))
			if i+1 < len(sid) {
				hits = readGamma(r)
			}
		}
		if r.err {
			return
		}
		p.update(s)
		sid[i] = s
	}
}

type predictor struct {
	succ []int32 // the series that followed each series last time
	prev int32   // series of the previous reading; -1 before the first
}

func newPredictor(nser int) *predictor {
	p := &predictor{succ: make([]int32, nser), prev: -1}
	for i := range p.succ {
		p.succ[i] = int32((i + 1) % nser)
	}
	return p
}

func (p *predictor) predict() int32 {
	if p.prev < 0 {
		return 0
	}
	return p.succ[p.prev]
}

func (p *predictor) update(s int32) {
	if p.prev >= 0 {
		p.succ[p.prev] = s
	}
	p.prev = s
}

// timeList is the batch's readings sorted by (time, series, place in
// series), as positions into the per-series arrays, with where each run of
// equal times ends.
type timeList struct {
	item   []int32 // flat index into the per-series arrays (off[s]+j)
	runEnd []int32 // for each position, the end of its run of equal times
}

// newTimeList sorts the flat per-series timestamps ts (series s at
// off[s]..off[s+1]). Sorting by flat index breaks ties by series, then by
// place in the series, so encoder and decoder agree.
func newTimeList(ts []int64) timeList {
	type entry struct {
		ts int64
		i  int32
	}
	es := make([]entry, len(ts))
	for i, t := range ts {
		es[i] = entry{t, int32(i)}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.ts != b.ts {
			return cmp.Compare(a.ts, b.ts)
		}
		return cmp.Compare(a.i, b.i)
	})
	l := timeList{item: make([]int32, len(ts)), runEnd: make([]int32, len(ts))}
	end := int32(len(ts))
	for i := len(es) - 1; i >= 0; i-- {
		if i+1 < len(es) && es[i].ts != es[i+1].ts {
			end = int32(i + 1)
		}
		l.item[i] = es[i].i
		l.runEnd[i] = end
	}
	return l
}

// writeByTime codes the batch order in orderByTime. flat[i] is reading i's
// flat index into the per-series arrays.
func writeByTime(w *bitWriter, flat []int32, ts []int64) {
	l := newTimeList(ts)
	pos := make([]int32, len(ts)) // flat index -> position in l
	for p, it := range l.item {
		pos[it] = int32(p)
	}
	f := newFenwick(len(ts))
	for _, fi := range flat {
		first := f.kth(1)
		m := f.prefix(int(l.runEnd[first])) // none before first is left
		p := uint64(f.prefix(int(pos[fi])))
		if p < uint64(m) {
			writeTruncated(w, p, uint64(m)+1)
		} else {
			writeTruncated(w, uint64(m), uint64(m)+1)
			writeGamma(w, p-uint64(m))
		}
		f.remove(int(pos[fi]))
	}
}

// readByTime decodes orderByTime into flat (reading -> flat index).
func (d *decoder) readByTime(r *bitReader, flat []int32, ts []int64) {
	l := newTimeList(ts)
	f := newFenwick(len(ts))
	for i := range flat {
		left := len(ts) - i
		first := f.kth(1)
		m := uint64(f.prefix(int(l.runEnd[first])))
		p := readTruncated(r, m+1)
		if p == m {
			p += readGamma(r)
		}
		if r.err {
			return
		}
		if p >= uint64(left) {
			d.corrupt("reading %d: position %d among %d readings left", i, p, left)
			return
		}
		at := f.kth(int(p) + 1)
		f.remove(at)
		flat[i] = l.item[at]
	}
}

// fenwick counts the positions not yet taken.
type fenwick struct {
	t   []int32 // 1-based
	top int     // highest power of two <= len
}

func newFenwick(n int) *fenwick {
	f := &fenwick{t: make([]int32, n+1)}
	for i := 1; i <= n; i++ {
		f.t[i]++
		if j := i + i&-i; j <= n {
			f.t[j] += f.t[i]
		}
	}
	if n > 0 {
		f.top = 1 << (bits.Len(uint(n)) - 1)
	}
	return f
}

// prefix counts the positions left in [0, i).
func (f *fenwick) prefix(i int) int32 {
	var s int32
	for ; i > 0; i -= i & -i {
		s += f.t[i]
	}
	return s
}

func (f *fenwick) remove(p int) {
	for i := p + 1; i < len(f.t); i += i & -i {
		f.t[i]--
	}
}

// kth returns the position of the k-th (1-based) position left; k must be
// between 1 and the number left.
func (f *fenwick) kth(k int) int {
	pos := 0
	for step := f.top; step > 0; step >>= 1 {
		if next := pos + step; next < len(f.t) && int(f.t[next]) < k {
			pos = next
			k -= int(f.t[next])
		}
	}
	return pos // 0-based: the 1-based index is pos+1
}

// Truncated binary code of x in [0, n): the first u = 2^(k+1)-n symbols take
// k = floor(log2 n) bits, the others k+1; n = 1 takes none.
func writeTruncated(w *bitWriter, x, n uint64) {
	if n <= 1 {
		return
	}
	k := uint(bits.Len64(n) - 1)
	u := uint64(1)<<(k+1) - n
	if x < u {
		w.write(x, k)
	} else {
		w.write(x+u, k+1)
	}
}

func readTruncated(r *bitReader, n uint64) uint64 {
	if n <= 1 {
		return 0
	}
	k := uint(bits.Len64(n) - 1)
	u := uint64(1)<<(k+1) - n
	v := r.read(k)
	if v < u {
		return v
	}
	return (v<<1 | r.read(1)) - u
}
