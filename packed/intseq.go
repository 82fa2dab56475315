package packed

import (
	"encoding/binary"
	"math/bits"
)

// An integer sequence (a series' timestamps in ns, or its values as
// integers at their resolution) is coded as its first value, a step g and
// residuals: either the deltas x[i]-x[i-1] divided by g (order 1), or the
// deltas of those (delta-of-delta, order 2). g is the GCD of the deltas, so
// timestamps 10 s apart have residuals of 0 whatever unit they are in, and a
// rain gauge counting 0.2 mm steps at 0.1 resolution loses nothing to the
// odd tenths it never uses. The encoder tries both orders and keeps the
// cheaper: smooth curves (temperatures, the solar bell) favour order 2,
// noisy ones and random walks order 1. Residuals are zigzagged and Rice-coded
// with the parameter k that minimizes the series' size, or skipped entirely
// when they are all zero (aligned timestamps, a constant series). When most
// are zero but not all (a counter that ticks now and then, one late
// timestamp) the runs of zeros are gamma-coded instead and only the others
// Rice-coded, as z-1.

const (
	orderDelta = 1
	orderDoD   = 2

	seqZero    = 0x80 // header bit: every residual is zero, none is written
	seqOrderMk = 0x03
	seqExpMask = 0x7c // bits 2..6: decimal exponent of g

	riceRuns = 0x40 // in the k byte: zero runs, then Rice(k) of each z-1
)

// intSeq is the plan for one sequence: its descriptor and its residuals.
type intSeq struct {
	n     int
	x0    int64
	order uint8
	g     uint64
	d1    int64 // first delta / g, order 2 only
	k     uint8 // Rice parameter, | riceRuns for run coding
	zero  bool
	res   []uint64 // zigzagged residuals, written to the bit stream
}

// planIntSeq chooses how to code xs; res reuses scratch.
func planIntSeq(xs []int64, scratch []uint64) intSeq {
	s := intSeq{n: len(xs), x0: xs[0]}
	if len(xs) < 2 {
		s.res = scratch[:0]
		return s
	}
	// deltas, their GCD, and whether any overflowed int64 (then the deltas
	// are kept wrapped, g is 1, and only order 1 is exact)
	var g uint64
	wrapped := false
	for i := 1; i < len(xs); i++ {
		d := xs[i] - xs[i-1]
		if (xs[i]^xs[i-1])&(xs[i]^d) < 0 {
			wrapped = true
		}
		g = gcd(g, absU(d))
	}
	if g == 0 || wrapped {
		g = 1
	}
	// order 1 residuals, and order 2 unless a difference overflows
	r1 := scratch[:0]
	var r2 []uint64
	dodOK := !wrapped && len(xs) >= 3
	var prevR int64
	for i := 1; i < len(xs); i++ {
		r := (xs[i] - xs[i-1]) / int64(g) // wrapped when g is 1, as the decoder's sum wraps
		r1 = append(r1, zigzag(r))
		if i >= 2 && dodOK {
			dd := r - prevR
			if (r^prevR)&(r^dd) < 0 {
				dodOK = false
			}
		}
		prevR = r
	}
	k1, c1, z1 := bestRice(r1)
	s.g = g
	if dodOK {
		r2 = make([]uint64, 0, len(xs)-2)
		for i := 1; i < len(r1); i++ {
			r2 = append(r2, zigzag(unzigzag(r1[i])-unzigzag(r1[i-1])))
		}
		k2, c2, z2 := bestRice(r2)
		d1 := unzigzag(r1[0])
		c2 += 8 * uint64(varintLen(d1))
		if c2 < c1 {
			s.order, s.d1, s.k, s.zero, s.res = orderDoD, d1, k2, z2, r2
			return s
		}
	}
	s.order, s.k, s.zero, s.res = orderDelta, k1, z1, r1
	return s
}

// bestRice returns the coding of zs in the fewest bits (a Rice parameter,
// or riceRuns|k), that many bits, and whether all zs are zero (then nothing
// is written). The cost is convex in k (nearly: the escape bends it), so
// the search stops once it rises.
func bestRice(zs []uint64) (k uint8, cost uint64, zero bool) {
	var maxZ uint64
	nonzero := 0
	for _, z := range zs {
		maxZ |= z
		if z != 0 {
			nonzero++
		}
	}
	if maxZ == 0 {
		return 0, 0, true
	}
	// zero runs pay off only when most residuals are zero; their gamma
	// codes do not depend on k
	runs := 2*nonzero <= len(zs)
	var runCost uint64
	if runs {
		runCost = zeroRunsCost(zs)
	}
	cost = ^uint64(0)
	best, bestRuns := ^uint64(0), ^uint64(0)
	for kk := uint(0); kk <= uint(bits.Len64(maxZ)) && kk < 64; kk++ {
		c, cr := riceCosts(zs, kk, runs)
		if c < cost {
			k, cost = uint8(kk), c
		}
		if runs && cr+runCost < cost {
			k, cost = uint8(kk)|riceRuns, cr+runCost
		}
		if kk >= 2 && c > best && (!runs || cr > bestRuns) {
			break
		}
		best, bestRuns = min(best, c), min(bestRuns, cr)
	}
	return k, cost, false
}

// zeroRunsCost is what the gamma codes of zs' runs of zeros cost in run
// coding, as writeResiduals writes them: one before each nonzero, and one
// for a run at the end.
func zeroRunsCost(zs []uint64) uint64 {
	var cost, run uint64
	for _, z := range zs {
		if z == 0 {
			run++
			continue
		}
		cost += gammaCost(run)
		run = 0
	}
	if run > 0 {
		cost += gammaCost(run)
	}
	return cost
}

// riceCosts is what Rice(k) costs for every z (c), and, with runs, for
// each nonzero z as z-1 (cr): the two codings writeResiduals can write.
func riceCosts(zs []uint64, k uint, runs bool) (c, cr uint64) {
	for _, z := range zs {
		c += riceCost(z, k)
		if runs && z != 0 {
			cr += riceCost(z-1, k)
		}
	}
	return c, cr
}

// sameDesc reports whether s and o have the same descriptor (all but the
// residuals), so that a series can say "timestamps like the previous one".
func (s *intSeq) sameDesc(o *intSeq) bool {
	return s.n == o.n && s.x0 == o.x0 && s.order == o.order && s.g == o.g &&
		s.d1 == o.d1 && s.k == o.k && s.zero == o.zero
}

// appendDesc writes the descriptor: x0 relative to ref (wrapping), and for
// two or more values the header byte, g as m·10^e, the first delta for
// order 2, and k unless the residuals are all zero.
func (s *intSeq) appendDesc(dst []byte, ref int64) []byte {
	dst = binary.AppendVarint(dst, s.x0-ref)
	if s.n < 2 {
		return dst
	}
	m, e := s.g, 0
	for m%10 == 0 && e < 19 {
		m /= 10
		e++
	}
	h := s.order | byte(e)<<2
	if s.zero {
		h |= seqZero
	}
	dst = append(dst, h)
	dst = binary.AppendUvarint(dst, m)
	if s.order == orderDoD {
		dst = binary.AppendVarint(dst, s.d1)
	}
	if !s.zero {
		dst = append(dst, s.k)
	}
	return dst
}

func (s *intSeq) writeResiduals(w *bitWriter) {
	if s.zero {
		return
	}
	k := uint(s.k &^ riceRuns)
	if s.k&riceRuns == 0 {
		for _, z := range s.res {
			writeRice(w, z, k)
		}
		return
	}
	run := 0
	for _, z := range s.res {
		if z == 0 {
			run++
			continue
		}
		writeGamma(w, uint64(run))
		writeRice(w, z-1, k)
		run = 0
	}
	if run > 0 {
		writeGamma(w, uint64(run))
	}
}

// residuals returns a reader of the n residuals written by writeResiduals.
func (s *intSeq) residuals(r *bitReader) func() int64 {
	if s.zero {
		return func() int64 { return 0 }
	}
	k := uint(s.k &^ riceRuns)
	if s.k&riceRuns == 0 {
		return func() int64 { return unzigzag(readRice(r, k)) }
	}
	var zeros uint64 // left in the current run
	inRun := false   // a run was read and the value after it is due
	return func() int64 {
		for {
			if inRun {
				if zeros > 0 {
					zeros--
					return 0
				}
				inRun = false
				return unzigzag(readRice(r, k) + 1)
			}
			zeros, inRun = readGamma(r), true
			if r.err {
				return 0
			}
		}
	}
}

// readDesc parses a descriptor written by appendDesc for n values.
func (d *decoder) readIntSeqDesc(n int, ref int64, what string) intSeq {
	s := intSeq{n: n}
	s.x0 = d.varint(what) + ref
	if n < 2 || d.err != nil {
		return s
	}
	h := d.byte1(what)
	m := d.uvarint(what)
	if d.err != nil {
		return s
	}
	s.order = h & seqOrderMk
	s.zero = h&seqZero != 0
	e := int((h & seqExpMask) >> 2)
	if s.order != orderDelta && s.order != orderDoD {
		d.corrupt("%s: unknown sequence order %d", what, s.order)
		return s
	}
	if e > 19 || m == 0 {
		d.corrupt("%s: invalid step %d·10^%d", what, m, e)
		return s
	}
	g := m
	for range e {
		hi, lo := bits.Mul64(g, 10)
		if hi != 0 {
			d.corrupt("%s: step %d·10^%d overflows", what, m, e)
			return s
		}
		g = lo
	}
	s.g = g
	if s.order == orderDoD {
		s.d1 = d.varint(what)
	}
	if !s.zero {
		s.k = d.byte1(what)
		if s.k&^riceRuns > 63 {
			d.corrupt("%s: Rice parameter %d out of range", what, s.k)
		}
	}
	return s
}

// readValues decodes the sequence into out (len n) from the bit stream.
// Arithmetic wraps exactly as the encoder's did.
func (s *intSeq) readValues(r *bitReader, out []int64) {
	out[0] = s.x0
	if s.n < 2 {
		return
	}
	next := s.residuals(r)
	g := int64(s.g)
	x := s.x0
	switch s.order {
	case orderDelta:
		for i := 1; i < s.n; i++ {
			x += next() * g
			out[i] = x
		}
	case orderDoD:
		d := s.d1
		x += d * g
		out[1] = x
		for i := 2; i < s.n; i++ {
			d += next()
			x += d * g
			out[i] = x
		}
	}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // MinInt64 stays 1<<63, which is its magnitude
	}
	return uint64(v)
}

func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}
