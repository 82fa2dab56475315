package packed

import "math/bits"

// Values that are not exact decimals (or a series with NaN, ±Inf or -0 in
// it) are coded like Gorilla does: each value's bits XOR the previous
// value's, a 0 bit when they are equal, else "10" and the meaningful bits
// when they fit in the previous window of leading and trailing zeros, or "11",
// 6 bits of leading zeros, 6 bits of length-1 and the meaningful bits.
// The first value is written whole in the series table.

type xorWriter struct {
	prev        uint64
	lead, trail uint // window of the last "11" block; starts as all 64 bits
}

func (x *xorWriter) write(w *bitWriter, v uint64) {
	d := v ^ x.prev
	x.prev = v
	if d == 0 {
		w.write(0, 1)
		return
	}
	lead, trail := uint(bits.LeadingZeros64(d)), uint(bits.TrailingZeros64(d))
	if lead >= x.lead && trail >= x.trail {
		w.write(0b10, 2)
		w.write(d>>x.trail, 64-x.lead-x.trail)
		return
	}
	sig := 64 - lead - trail
	w.write(0b11, 2)
	w.write(uint64(lead), 6)
	w.write(uint64(sig-1), 6)
	w.write(d>>trail, sig)
	x.lead, x.trail = lead, trail
}

type xorReader struct {
	prev        uint64
	lead, trail uint
}

// read returns the next value's bits; ok is false on a window that does not
// fit in 64 bits (garbage).
func (x *xorReader) read(r *bitReader) (v uint64, ok bool) {
	if !r.bit() {
		return x.prev, true
	}
	if r.bit() {
		lead := uint(r.read(6))
		sig := uint(r.read(6)) + 1
		if lead+sig > 64 {
			return 0, false
		}
		x.lead, x.trail = lead, 64-lead-sig
	}
	x.prev ^= r.read(64-x.lead-x.trail) << x.trail
	return x.prev, true
}
