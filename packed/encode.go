package packed

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/reading"
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

// encoder holds the batch regrouped per series, which every step after the
// grouping reads, and scratch that the series reuse.
type encoder struct {
	sid    []int32 // series of each reading
	off    []int   // start of each series in ts and vals; off[len] = len(ts)
	counts []int
	ts     []int64 // grouped per series, in batch order within a series
	vals   []float64
	ints   []int64
	res    []uint64
}

// encode runs the steps in the order of the layout, after checking and
// regrouping the batch, so that it fails before writing anything. Slices
// that only this call uses are made here and passed down: Go keeps them on
// the stack only while no step can hold on to them.
func (e *encoder) encode(dst []byte, b *Batch) ([]byte, error) {
	rs := b.Readings
	if err := checkSizes(b); err != nil {
		return nil, err
	}
	tagKeys, err := sortedTagKeys(b.Tags, make([]string, 0, len(b.Tags)))
	if err != nil {
		return nil, err
	}
	keys, anyFlags, err := e.group(rs, make([]seriesKey, 0, 8))
	if err != nil {
		return nil, err
	}
	e.sortSeries(keys)
	flat := make([]int32, len(rs)) // reading -> its index in ts and vals
	if err := e.place(rs, flat); err != nil {
		return nil, err
	}

	dst = appendHeader(dst, b, anyFlags, tagKeys)
	if len(rs) == 0 {
		return dst, nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	orderBits, orderMode := e.orderStream(flat, len(keys))
	dst = append(dst, orderMode)
	sp := planSeqs(rs, make([]int64, len(rs)))
	dst = sp.appendDesc(dst, int64(b.FirstSeq))
	// the table's residuals go to the bit stream in table order, before
	// the seqs' and the order's, as the decoder reads them
	var w bitWriter
	dst = e.appendTable(dst, &w, keys)
	if anyFlags {
		dst = appendFlagRuns(dst, rs)
	}
	sp.writeResiduals(&w)
	w.appendBits(&orderBits)
	return append(dst, w.bytes()...), nil
}

// checkSizes refuses a batch whose reading count or device or stream name
// the decoder would refuse (MaxReadings, maxString).
func checkSizes(b *Batch) error {
	if len(b.Readings) > MaxReadings {
		return fmt.Errorf("batch of %d readings, more than the %d a payload holds", len(b.Readings), MaxReadings)
	}
	for _, s := range [...]struct{ what, v string }{{"device", b.Device}, {"stream", b.Stream}} {
		if len(s.v) > maxString {
			return fmt.Errorf("%s name of %d bytes, longer than %d", s.what, len(s.v), maxString)
		}
	}
	return nil
}

// sortedTagKeys appends the tags' keys to keys in order, which is the
// order they are written in, so that a payload does not depend on map
// order; it refuses a key or value longer than maxString.
func sortedTagKeys(tags map[string]string, keys []string) ([]string, error) {
	for k, v := range tags {
		if len(k) > maxString || len(v) > maxString {
			return nil, fmt.Errorf("tag %.40q: key or value longer than %d bytes", k, maxString)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// group numbers the series (name and unit) in order of first reading,
// appending them to keys, and sets each reading's series in e.sid. It
// refuses a name or unit longer than maxString, and says whether any
// reading has flags, which then take a table of their own.
func (e *encoder) group(rs []reading.Reading, keys []seriesKey) ([]seriesKey, bool, error) {
	index := map[seriesKey]int32{}
	e.sid = make([]int32, len(rs))
	anyFlags := false
	for i := range rs {
		r := &rs[i]
		k := seriesKey{r.Name, r.Unit}
		s, ok := index[k]
		if !ok {
			if len(r.Name) > maxString || len(r.Unit) > maxString {
				return nil, false, fmt.Errorf("reading %d (seq %d): series name or unit longer than %d bytes", i, r.Seq, maxString)
			}
			s = int32(len(keys))
			index[k] = s
			keys = append(keys, k)
		}
		e.sid[i] = s
		anyFlags = anyFlags || r.Flags != 0
	}
	return keys, anyFlags, nil
}

// sortSeries sorts keys by (name, unit), in place, so that names in the
// table share prefixes with the previous one; renumbers e.sid to match;
// and counts the readings of each series, which places them in e.off.
func (e *encoder) sortSeries(keys []seriesKey) {
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
	copy(keys, sorted)
	e.counts = make([]int, len(keys))
	for i, s := range e.sid {
		e.sid[i] = newIndex[s]
		e.counts[newIndex[s]]++
	}
	e.off = make([]int, len(keys)+1)
	for s, n := range e.counts {
		e.off[s+1] = e.off[s] + n
	}
}

// place copies each reading's time and value to its series' part of e.ts
// and e.vals, keeping batch order within a series, and sets flat[i] to
// reading i's index there. It refuses a time int64 nanoseconds cannot hold.
func (e *encoder) place(rs []reading.Reading, flat []int32) error {
	e.ts = make([]int64, len(rs))
	e.vals = make([]float64, len(rs))
	fill := append([]int(nil), e.off[:len(e.counts)]...)
	for i := range rs {
		r := &rs[i]
		ns, err := tsOf(r.Time)
		if err != nil {
			return fmt.Errorf("reading %d (seq %d, %s): %w", i, r.Seq, r.Name, err)
		}
		s := e.sid[i]
		e.ts[fill[s]] = ns
		e.vals[fill[s]] = r.Value
		flat[i] = int32(fill[s])
		fill[s]++
	}
	return nil
}

// appendHeader writes magic, version, flags, the batch's own fields, the
// reading count and the tags (tagKeys, sorted), which is all an empty
// batch has.
func appendHeader(dst []byte, b *Batch, anyFlags bool, tagKeys []string) []byte {
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
	dst = binary.AppendUvarint(dst, uint64(len(b.Readings)))
	if len(tagKeys) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(tagKeys)))
		for _, k := range tagKeys {
			dst = appendString(dst, k)
			dst = appendString(dst, b.Tags[k])
		}
	}
	return dst
}

// orderStream codes the batch order both ways (order.go) and returns the
// shorter with its mode byte. By time costs at least a bit a reading, so
// a successor stream below that wins without trying it.
func (e *encoder) orderStream(flat []int32, nser int) (bitWriter, byte) {
	var succ, byTime bitWriter
	writeSuccessor(&succ, e.sid, nser)
	n := len(flat)
	if succ.len() > n {
		writeByTime(&byTime, flat, e.ts)
	}
	if succ.len() > n && byTime.len() < succ.len() {
		return byTime, orderByTime
	}
	return succ, orderSuccessor
}

// planSeqs plans the seqs in batch order as an integer sequence; seqs is
// scratch of len(rs). A seq above MaxInt64 wraps, as the decoder's sums do.
func planSeqs(rs []reading.Reading, seqs []int64) intSeq {
	for i := range rs {
		seqs[i] = int64(rs[i].Seq)
	}
	return planIntSeq(seqs, nil)
}

// appendTable writes the series table and each series' residuals, in table
// order. The units seen so far stay a local here: an append through a
// pointer would put them on the heap.
func (e *encoder) appendTable(dst []byte, w *bitWriter, keys []seriesKey) []byte {
	var c tableContext
	var units []string
	for s, k := range keys {
		var newUnit bool
		dst, newUnit = e.appendEntry(dst, w, s, k, &c, units)
		if newUnit {
			units = append(units, k.unit)
		}
	}
	return dst
}

// appendEntry writes the table entry of series s and its bits: the head
// byte, name, unit, count and timestamp descriptor (the last two left out
// when they are the previous entry's), then its values. newUnit says k.unit
// was not in units and was written whole.
func (e *encoder) appendEntry(dst []byte, w *bitWriter, s int, k seriesKey, c *tableContext, units []string) (_ []byte, newUnit bool) {
	n := e.counts[s]
	tp := planIntSeq(e.ts[e.off[s]:e.off[s+1]], e.res)
	vals := e.vals[e.off[s]:e.off[s+1]]
	dec, isDec := decimals(vals)
	sameN := s > 0 && n == e.counts[s-1]
	sameTs := s > 0 && tp.sameDesc(&c.prevTs)
	dst = append(dst, seriesHead(dec, isDec, sameN, sameTs))
	dst = c.appendName(dst, k.name)
	dst, newUnit = appendUnit(dst, k.unit, units)
	if !sameN {
		dst = binary.AppendUvarint(dst, uint64(n))
	}
	if !sameTs {
		dst = tp.appendDesc(dst, c.prevTs.x0)
	}
	tp.writeResiduals(w)
	c.prevTs = tp
	c.prevTs.res = nil // e.res, which the next plans reuse
	e.res = tp.res
	if isDec {
		dst = e.appendDecimals(dst, w, vals, dec)
	} else {
		dst = appendXOR(dst, w, vals)
	}
	return dst, newUnit
}

// seriesHead is the head byte of a table entry: the value kind, and
// whether the count and the timestamp descriptor are the previous entry's.
func seriesHead(dec int, isDec, sameN, sameTs bool) byte {
	head := byte(valueXOR)
	if isDec {
		head = valueDecimal + byte(dec)
	}
	if sameN {
		head |= seriesSameN
	}
	if sameTs {
		head |= seriesSameTs
	}
	return head
}

// appendName writes name as the prefix and suffix it shares with the
// previous entry's, and the middle: sorted names share most of themselves.
func (c *tableContext) appendName(dst []byte, name string) []byte {
	p := commonPrefix(c.prevName, name)
	q := commonSuffix(c.prevName[p:], name[p:])
	dst = binary.AppendUvarint(dst, uint64(p))
	dst = binary.AppendUvarint(dst, uint64(q))
	dst = appendString(dst, name[p:len(name)-q])
	c.prevName = name
	return dst
}

// appendUnit writes unit as i > 0 when it is units[i-1], else 0 and the
// unit itself, which isNew then reports.
func appendUnit(dst []byte, unit string, units []string) (_ []byte, isNew bool) {
	if u := slices.Index(units, unit); u >= 0 {
		return binary.AppendUvarint(dst, uint64(u)+1), false
	}
	dst = append(dst, 0)
	return appendString(dst, unit), true
}

// appendDecimals writes vals, exact at dec decimal places, as the integer
// sequence of vals·10^dec: its descriptor to dst, its residuals to w.
func (e *encoder) appendDecimals(dst []byte, w *bitWriter, vals []float64, dec int) []byte {
	e.ints = e.ints[:0]
	for _, v := range vals {
		e.ints = append(e.ints, int64(math.Round(v*pow10[dec])))
	}
	vp := planIntSeq(e.ints, e.res)
	dst = vp.appendDesc(dst, 0)
	vp.writeResiduals(w)
	e.res = vp.res
	return dst
}

// appendXOR writes vals as XOR floats: the first value's bits whole to
// dst, the rest to w.
func appendXOR(dst []byte, w *bitWriter, vals []float64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(vals[0]))
	x := xorWriter{prev: math.Float64bits(vals[0])}
	for _, v := range vals[1:] {
		x.write(w, math.Float64bits(v))
	}
	return dst
}

// appendFlagRuns writes the readings' flags as runs of equal flags: the
// clock is unsynced from boot until NTP, then synced for good.
func appendFlagRuns(dst []byte, rs []reading.Reading) []byte {
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].Flags == rs[i].Flags {
			j++
		}
		dst = binary.AppendUvarint(dst, uint64(j-i))
		dst = append(dst, byte(rs[i].Flags))
		i = j
	}
	return dst
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
