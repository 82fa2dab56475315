package packed

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Encode returns the payload for b.
func Encode(b *Batch) ([]byte, error) { return AppendEncode(nil, b) }

// AppendEncode appends the payload for b to dst. On error dst is returned
// unchanged in length.
//
// It fails only on what the format cannot hold: more than MaxReadings
// readings, a string longer than 64 KiB, or a time outside the years
// 1678..2262 that int64 nanoseconds span (the buffer already clamps to that
// range, so readings from it always fit). Every float64, NaN and ±Inf and
// -0 included, round-trips bit for bit.
func AppendEncode(dst []byte, b *Batch) ([]byte, error) {
	start := len(dst)
	var e encoder
	out, err := e.encode(dst, b)
	if err != nil {
		return dst[:start], fmt.Errorf("packed: %w", err)
	}
	return out, nil
}

type seriesKey struct{ name, unit string }

type encoder struct {
	sid    []int32 // series of each reading
	off    []int   // start of each series in ts and vals; off[len] = len(ts)
	counts []int
	ts     []int64 // grouped per series, in batch order within a series
	vals   []float64
	ints   []int64
	res    []uint64
}

func (e *encoder) encode(dst []byte, b *Batch) ([]byte, error) {
	rs := b.Readings
	if len(rs) > MaxReadings {
		return nil, fmt.Errorf("batch of %d readings, more than the %d a payload holds", len(rs), MaxReadings)
	}
	for _, s := range [...]struct{ what, v string }{{"device", b.Device}, {"stream", b.Stream}} {
		if len(s.v) > maxString {
			return nil, fmt.Errorf("%s name of %d bytes, longer than %d", s.what, len(s.v), maxString)
		}
	}
	tagKeys := make([]string, 0, len(b.Tags))
	for k, v := range b.Tags {
		if len(k) > maxString || len(v) > maxString {
			return nil, fmt.Errorf("tag %.40q: key or value longer than %d bytes", k, maxString)
		}
		tagKeys = append(tagKeys, k)
	}
	slices.Sort(tagKeys)

	// series, and each reading's place in its series
	index := map[seriesKey]int32{}
	var keys []seriesKey
	e.sid = make([]int32, len(rs))
	anyFlags := false
	for i := range rs {
		r := &rs[i]
		k := seriesKey{r.Name, r.Unit}
		s, ok := index[k]
		if !ok {
			if len(r.Name) > maxString || len(r.Unit) > maxString {
				return nil, fmt.Errorf("reading %d (seq %d): series name or unit longer than %d bytes", i, r.Seq, maxString)
			}
			s = int32(len(keys))
			index[k] = s
			keys = append(keys, k)
		}
		e.sid[i] = s
		anyFlags = anyFlags || r.Flags != 0
	}
	// the table is sorted by name, so that names share prefixes
	rank := make([]int32, len(keys))
	for i := range rank {
		rank[i] = int32(i)
	}
	slices.SortFunc(rank, func(a, b int32) int {
		if c := strings.Compare(keys[a].name, keys[b].name); c != 0 {
			return c
		}
		return strings.Compare(keys[a].unit, keys[b].unit)
	})
	sorted := make([]seriesKey, len(keys))
	newIndex := make([]int32, len(keys))
	for i, old := range rank {
		sorted[i] = keys[old]
		newIndex[old] = int32(i)
	}
	keys = sorted
	e.counts = make([]int, len(keys))
	for i, s := range e.sid {
		e.sid[i] = newIndex[s]
		e.counts[newIndex[s]]++
	}
	e.off = make([]int, len(keys)+1)
	for s, n := range e.counts {
		e.off[s+1] = e.off[s] + n
	}
	e.ts = make([]int64, len(rs))
	e.vals = make([]float64, len(rs))
	flat := make([]int32, len(rs)) // reading -> its index in ts and vals
	fill := append([]int(nil), e.off[:len(keys)]...)
	for i := range rs {
		r := &rs[i]
		ns, err := tsOf(r.Time)
		if err != nil {
			return nil, fmt.Errorf("reading %d (seq %d, %s): %w", i, r.Seq, r.Name, err)
		}
		s := e.sid[i]
		e.ts[fill[s]] = ns
		e.vals[fill[s]] = r.Value
		flat[i] = int32(fill[s])
		fill[s]++
	}

	// header
	dst = append(dst, Magic...)
	dst = append(dst, Version)
	var hflags byte
	if anyFlags {
		hflags |= flagReadingFlags
	}
	if len(tagKeys) > 0 {
		hflags |= flagTags
	}
	dst = append(dst, hflags)
	dst = appendString(dst, b.Device)
	dst = appendString(dst, b.Stream)
	dst = binary.AppendUvarint(dst, b.FirstSeq)
	dst = binary.AppendUvarint(dst, b.LastSeq)
	dst = binary.AppendUvarint(dst, b.Dropped)
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	if len(tagKeys) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(tagKeys)))
		for _, k := range tagKeys {
			dst = appendString(dst, k)
			dst = appendString(dst, b.Tags[k])
		}
	}
	if len(rs) == 0 {
		return dst, nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(keys)))

	// the order stream both ways, the shorter kept; by time costs at least
	// a bit a reading, so a successor stream below that wins outright
	var succ, byTime bitWriter
	writeSuccessor(&succ, e.sid, len(keys))
	if succ.len() > len(rs) {
		writeByTime(&byTime, flat, e.ts)
	}
	orderBits := &succ
	if succ.len() > len(rs) && byTime.len() < succ.len() {
		orderBits = &byTime
		dst = append(dst, orderByTime)
	} else {
		dst = append(dst, orderSuccessor)
	}

	// seqs in batch order, wrapping like the decoder's sums
	seqs := make([]int64, len(rs))
	for i := range rs {
		seqs[i] = int64(rs[i].Seq)
	}
	sp := planIntSeq(seqs, nil)
	dst = sp.appendDesc(dst, int64(b.FirstSeq))

	// series table; their residuals go to the bit stream in the same order
	var w bitWriter
	var prevName string
	var units []string
	var prevTs intSeq
	for s, k := range keys {
		n := e.counts[s]
		ts := e.ts[e.off[s]:e.off[s+1]]
		tp := planIntSeq(ts, e.res)
		vals := e.vals[e.off[s]:e.off[s+1]]
		dec, isDec := decimals(vals)
		kind := byte(valueXOR)
		if isDec {
			kind = valueDecimal + byte(dec)
		}
		sameN := s > 0 && n == e.counts[s-1]
		sameTs := s > 0 && tp.sameDesc(&prevTs)
		head := kind
		if sameN {
			head |= seriesSameN
		}
		if sameTs {
			head |= seriesSameTs
		}
		dst = append(dst, head)

		p := commonPrefix(prevName, k.name)
		q := commonSuffix(prevName[p:], k.name[p:])
		dst = binary.AppendUvarint(dst, uint64(p))
		dst = binary.AppendUvarint(dst, uint64(q))
		dst = appendString(dst, k.name[p:len(k.name)-q])
		prevName = k.name
		if u := slices.Index(units, k.unit); u >= 0 {
			dst = binary.AppendUvarint(dst, uint64(u)+1)
		} else {
			dst = append(dst, 0)
			dst = appendString(dst, k.unit)
			units = append(units, k.unit)
		}
		if !sameN {
			dst = binary.AppendUvarint(dst, uint64(n))
		}
		if !sameTs {
			dst = tp.appendDesc(dst, prevTs.x0)
		}
		tp.writeResiduals(&w)
		prevTs = tp
		prevTs.res = nil
		e.res = tp.res

		if isDec {
			e.ints = e.ints[:0]
			for _, v := range vals {
				e.ints = append(e.ints, int64(math.Round(v*pow10[dec])))
			}
			vp := planIntSeq(e.ints, e.res)
			dst = vp.appendDesc(dst, 0)
			vp.writeResiduals(&w)
			e.res = vp.res
		} else {
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(vals[0]))
			x := xorWriter{prev: math.Float64bits(vals[0])}
			for _, v := range vals[1:] {
				x.write(&w, math.Float64bits(v))
			}
		}
	}

	if anyFlags { // runs of equal flags: the clock is unsynced from boot until NTP
		for i := 0; i < len(rs); {
			j := i + 1
			for j < len(rs) && rs[j].Flags == rs[i].Flags {
				j++
			}
			dst = binary.AppendUvarint(dst, uint64(j-i))
			dst = append(dst, byte(rs[i].Flags))
			i = j
		}
	}
	sp.writeResiduals(&w)
	w.appendBits(orderBits)
	return append(dst, w.bytes()...), nil
}

// decimals finds the fewest decimal places dec (0..20) at which every value
// is exactly the float64 nearest to k/10^dec for an integer |k| <= 2^53:
// then the decoder's float64(k)/10^dec, a correctly rounded division of two
// exact numbers, gives back the very same bits. This is how the resolution
// a sensor delivers (0.01 °C, 1 mV) is found without the reading carrying
// it: a value rounded to 0.01 and printed cleanly, as drivers do, is such a
// float. ok is false when some value is not (noise at full precision, NaN,
// ±Inf, -0): the series is then coded as XOR floats.
func decimals(vals []float64) (dec int, ok bool) {
	for _, v := range vals {
		for !exactAt(v, dec) {
			dec++
			if dec > maxDecimals {
				return 0, false
			}
		}
	}
	// a value exact at fewer places stays exact at more (same rational),
	// unless its k outgrew 2^53
	for _, v := range vals {
		if !exactAt(v, dec) {
			return 0, false
		}
	}
	return dec, true
}

func exactAt(v float64, dec int) bool {
	k := math.Round(v * pow10[dec])
	if !(math.Abs(k) <= 1<<53) { // also NaN
		return false
	}
	return math.Float64bits(float64(int64(k))/pow10[dec]) == math.Float64bits(v)
}

func tsOf(t time.Time) (int64, error) {
	switch {
	case t.IsZero():
		return zeroTs, nil
	case t.Before(minTime) || t.After(maxTime):
		return 0, fmt.Errorf("time %s is outside the years 1678..2262 that packed stores", t.Format(time.RFC3339Nano))
	}
	return t.UnixNano(), nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[len(a)-1-i] != b[len(b)-1-i] {
			return i
		}
	}
	return n
}
