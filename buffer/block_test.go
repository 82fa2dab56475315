package buffer

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

func TestBlockRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	specials := []float64{0, math.Copysign(0, -1), 1, -1, math.NaN(), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, math.SmallestNonzeroFloat64, 101, 102, 12.345678}
	times := []time.Time{{}, time.Unix(0, 0), t0, t0.Add(-time.Hour), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)}
	var in []entry
	for i := range 3000 {
		e := entry{sid: uint32(rnd.IntN(300)), flags: reading.Flags(rnd.IntN(4))}
		switch i % 3 {
		case 0:
			e.bits = math.Float64bits(specials[rnd.IntN(len(specials))])
		case 1:
			e.bits = math.Float64bits(rnd.NormFloat64() * 1000)
		default:
			e.bits = math.Float64bits(float64(i))
		}
		e.ts = tsOf(times[rnd.IntN(len(times))].Add(time.Duration(rnd.Int64N(1e12))))
		if i%50 == 0 {
			e.ts = tsOf(time.Time{})
		}
		in = append(in, e)
	}
	enc := newBlockEncoder()
	for _, e := range in {
		enc.add(e)
	}
	v := enc.bytes()
	var out []entry
	n, err := decodeBlock(v, 300, func(_ int, e entry) bool { out = append(out, e); return true })
	if err != nil || n != len(in) {
		t.Fatalf("decode: %d, %v", n, err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	if timeOf(tsOf(time.Time{})) != (time.Time{}) {
		t.Error("zero time does not survive")
	}
	// The tail grows in place: bytes() in between does not disturb it.
	a, b := newBlockEncoder(), newBlockEncoder()
	for i, e := range in[:100] {
		a.add(e)
		b.add(e)
		if i%7 == 0 {
			_ = a.bytes()
			a = a.clone()
		}
	}
	if string(a.bytes()) != string(b.bytes()) {
		t.Error("clone or bytes() changed the encoding")
	}
	// Unknown series ids and flipped bits are errors, not readings.
	if _, err := decodeBlock(v, 10, func(int, entry) bool { return true }); err == nil {
		t.Error("series ids beyond the dictionary accepted")
	}
	v[len(v)/2] ^= 1
	if _, err := decodeBlock(v, 300, func(int, entry) bool { return true }); err == nil {
		t.Error("a flipped bit went unnoticed")
	}
}

func TestBlockSize(t *testing.T) {
	// The reference site: 40 series, slowly varying values, 10 s apart.
	enc := newBlockEncoder()
	rs := gen(0, 4000, 40)
	for _, x := range rs {
		enc.add(entry{ts: tsOf(x.Time), bits: math.Float64bits(math.Round(x.Value/40) / 10), sid: uint32(int(x.Value) % 40)})
	}
	per := float64(enc.size()) / 4000
	t.Logf("%.1f bytes per reading", per)
	// 1 (series) + 5 (10 s in ns) or 3 (1 ms) + 1 (header) + ~6 (value).
	if per > 12 {
		t.Errorf("%.1f bytes per reading; the encoding should stay under 12", per)
	}
}

// FuzzDecodeBlock: whatever the bytes, the decoder returns an error or
// readings, never panics, and never reports more readings than the header.
func FuzzDecodeBlock(f *testing.F) {
	enc := newBlockEncoder()
	for _, x := range gen(0, 50, 5) {
		enc.add(entry{ts: tsOf(x.Time), bits: math.Float64bits(x.Value), sid: uint32(x.Value) % 5})
	}
	f.Add(enc.bytes())
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(v []byte) {
			count, herr := blockHeader(v)
			n, err := decodeBlock(v, 8, func(i int, e entry) bool {
				if e.sid >= 8 {
					t.Fatalf("sid %d passed through", e.sid)
				}
				return true
			})
			if err == nil && (herr != nil || n != int(count)) {
				t.Fatalf("decoded %d of %d readings without error (header err %v)", n, count, herr)
			}
		}
		check(b)
		// With a valid checksum, to reach the entry parser.
		if len(b) >= blockMinLen {
			e := &blockEncoder{buf: append([]byte(nil), b[:len(b)-blockCRCLen]...)}
			check(e.bytes())
		}
	})
}
