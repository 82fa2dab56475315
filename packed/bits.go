package packed

import "math/bits"

// bitWriter appends bits MSB-first; the last byte is padded with zeros.
type bitWriter struct {
	buf []byte
	cur byte // pending bits, right-aligned
	n   uint // number of pending bits, < 8
}

// write appends the low n bits of v (n <= 64), most significant first.
func (w *bitWriter) write(v uint64, n uint) {
	for n > 0 {
		take := min(n, 8-w.n)
		chunk := byte(v>>(n-take)) & byte(1<<take-1)
		w.cur = w.cur<<take | chunk
		w.n += take
		n -= take
		if w.n == 8 {
			w.buf = append(w.buf, w.cur)
			w.cur, w.n = 0, 0
		}
	}
}

func (w *bitWriter) bit(b bool) {
	if b {
		w.write(1, 1)
	} else {
		w.write(0, 1)
	}
}

// ones writes n one-bits.
func (w *bitWriter) ones(n uint) {
	for n >= 64 {
		w.write(^uint64(0), 64)
		n -= 64
	}
	w.write(1<<n-1, n)
}

// len is the number of bits written.
func (w *bitWriter) len() int { return 8*len(w.buf) + int(w.n) }

// appendBits appends the bits written to o.
func (w *bitWriter) appendBits(o *bitWriter) {
	for _, b := range o.buf {
		w.write(uint64(b), 8)
	}
	w.write(uint64(o.cur), o.n)
}

// bytes flushes the pending bits (zero-padded) and returns the buffer.
func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, w.cur<<(8-w.n))
		w.cur, w.n = 0, 0
	}
	return w.buf
}

// bitReader reads what bitWriter wrote. Reading past the end sets err and
// returns zeros, so the decoders can check once per section instead of
// after every bit.
type bitReader struct {
	buf []byte
	pos uint // in bits
	err bool
}

func (r *bitReader) read(n uint) uint64 {
	if r.pos+n > uint(len(r.buf))*8 {
		r.err = true
		r.pos = uint(len(r.buf)) * 8
		return 0
	}
	var v uint64
	for n > 0 {
		i, off := r.pos/8, r.pos%8
		take := min(n, 8-off)
		chunk := uint64(r.buf[i]>>(8-off-take)) & (1<<take - 1)
		v = v<<take | chunk
		r.pos += take
		n -= take
	}
	return v
}

func (r *bitReader) bit() bool { return r.read(1) == 1 }

// unary counts one-bits up to limit, consuming the terminating zero when it
// comes before the limit.
func (r *bitReader) unary(limit uint) uint {
	var q uint
	for q < limit && !r.err && r.bit() {
		q++
	}
	return q
}

// Gamma code for any uint64: L = bits.Len64(z) in unary (L ones, then a
// zero unless L is 64), then the L-1 bits below z's top bit. 0 costs 1 bit,
// 1 costs 2, 2..3 cost 4, and a full 64-bit value 127.
func writeGamma(w *bitWriter, z uint64) {
	l := uint(bits.Len64(z))
	w.ones(l)
	if l < 64 {
		w.write(0, 1)
	}
	if l >= 2 {
		w.write(z, l-1)
	}
}

func gammaCost(z uint64) uint64 {
	l := uint64(bits.Len64(z))
	c := l + max(l, 1) // ones + terminator + low bits (l-1), i.e. 2l, or 1 for z==0
	if l == 64 {
		c--
	}
	return c
}

func readGamma(r *bitReader) uint64 {
	l := r.unary(64)
	switch l {
	case 0:
		return 0
	case 1:
		return 1
	}
	return 1<<(l-1) | r.read(l-1)
}

// Rice code with parameter k (0..63): q = z>>k in unary, then the k low
// bits; a quotient of riceEscape or more is written as riceEscape ones and
// the gamma code of z, so one outlier (a cloud edge, a reboot's jump) costs
// tens of bits, not millions.
const riceEscape = 24

func writeRice(w *bitWriter, z uint64, k uint) {
	q := z >> k
	if q >= riceEscape {
		w.ones(riceEscape)
		writeGamma(w, z)
		return
	}
	w.ones(uint(q))
	w.write(0, 1)
	w.write(z, k)
}

func riceCost(z uint64, k uint) uint64 {
	q := z >> k
	if q >= riceEscape {
		return riceEscape + gammaCost(z)
	}
	return q + 1 + uint64(k)
}

func readRice(r *bitReader, k uint) uint64 {
	q := r.unary(riceEscape)
	if q == riceEscape {
		return readGamma(r)
	}
	return uint64(q)<<k | r.read(k)
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(z uint64) int64 { return int64(z>>1) ^ -int64(z&1) }
