package packed

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Decode parses a payload written by Encode. It never panics, whatever the
// input: errors wrap ErrNotPacked, ErrVersion, ErrTruncated or ErrCorrupt
// and say where. Times come back in UTC; the zero time.Time comes back as
// the zero time.
func Decode(payload []byte) (*Batch, error) {
	d := decoder{b: payload}
	b := d.decode()
	if d.err != nil {
		return nil, d.err
	}
	return b, nil
}

// Sniff reports whether payload starts like a packed payload of any version.
func Sniff(payload []byte) bool {
	return len(payload) >= len(Magic) && string(payload[:len(Magic)]) == Magic
}

// decoder reads one payload front to back, a step per section of the
// layout (doc.go). The first error sticks and every read after it returns
// zeros, so a step may run to its end on garbage; decode checks err between
// steps, before anything is sized or indexed by what a failed step read.
type decoder struct {
	b   []byte
	off int
	err error

	// what the steps up to the series table hand on
	hflags    byte
	nReadings int // the header's count: it bounds every count after it
	orderMode byte
	seqs      intSeq       // the seqs' descriptor
	series    []seriesDesc // the series table, in table order
}

// columns are the per-reading arrays the steps after the series table fill.
// They are body's locals, passed down, not decoder fields: a small batch's
// then stay on the stack (Go keeps a make there only while it cannot escape).
type columns struct {
	span  []int   // series s is at span[s]..span[s+1] in ts and vals
	ts    []int64 // per series, in batch order within a series
	vals  []float64
	seqv  []int64         // per reading, in batch order
	flat  []int32         // reading i's index into ts and vals
	flags []reading.Flags // per reading; nil when the payload has none
}

func (d *decoder) truncated(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s expected at byte %d of a %d-byte payload", ErrTruncated, what, d.off, len(d.b))
	}
}

func (d *decoder) corrupt(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format+" (near byte %d)", append([]any{ErrCorrupt}, append(args, d.off)...)...)
	}
}

// bitsTruncated is truncated for the bit stream, whose reader knows only
// that it ran out, not at which byte: what names the section.
func (d *decoder) bitsTruncated(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: the %d-byte payload ends inside the %s", ErrTruncated, len(d.b), what)
	}
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.truncated(what)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.truncated(what)
	case n < 0:
		d.corrupt("%s: varint overflows 64 bits", what)
	}
	d.off += max(n, 0)
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	switch {
	case n == 0:
		d.truncated(what)
	case n < 0:
		d.corrupt("%s: varint overflows 64 bits", what)
	}
	d.off += max(n, 0)
	return v
}

// count reads a uvarint that must not exceed limit.
func (d *decoder) count(what string, limit uint64) int {
	v := d.uvarint(what)
	if d.err == nil && v > limit {
		d.corrupt("%s %d exceeds %d", what, v, limit)
		return 0
	}
	return int(v)
}

func (d *decoder) bytesN(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.truncated(what)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) str(what string) string {
	n := d.count(what+" length", maxString)
	return string(d.bytesN(n, what))
}

type seriesDesc struct {
	name, unit string
	n          int
	ts         intSeq
	valueKind  byte
	vals       intSeq // decimal kinds
	first      uint64 // valueXOR: the first value's bits
}

// tableContext is what an entry of the series table is coded against, the
// same on both sides: the previous entry's name and timestamp descriptor.
// The units seen so far are too, but stay a local of the table's loop: an
// append through a pointer would put them on the heap.
type tableContext struct {
	prevName string
	prevTs   intSeq
}

// decode runs the steps in the order of the layout.
func (d *decoder) decode() *Batch {
	if !d.magicAndVersion() {
		return nil
	}
	b := d.header()
	d.tags(b)
	if d.err != nil {
		return nil
	}
	if d.nReadings == 0 {
		d.emptyEnd()
		if d.err != nil {
			return nil
		}
		return b
	}
	nser := d.tableHead(b.FirstSeq)
	if d.err != nil {
		return nil
	}
	d.seriesTable(nser)
	if d.err != nil {
		return nil
	}
	b.Readings = d.body()
	if d.err != nil {
		return nil
	}
	return b
}

// body reads what follows the series table, the reading flags and the bit
// stream, and puts the readings together. Each step's arrays are sized by
// the header's count and the table, both checked by now.
func (d *decoder) body() []reading.Reading {
	var c columns
	if d.hflags&flagReadingFlags != 0 {
		c.flags = d.readingFlags(make([]reading.Flags, 0, d.nReadings))
		if d.err != nil {
			return nil
		}
	}
	r := bitReader{buf: d.b[d.off:]}
	c.span = make([]int, len(d.series)+1)
	c.ts = make([]int64, d.nReadings)
	c.vals = make([]float64, d.nReadings)
	d.seriesBits(&r, &c)
	if d.err != nil {
		return nil
	}
	c.seqv = make([]int64, d.nReadings)
	d.seqBits(&r, c.seqv)
	if d.err != nil {
		return nil
	}
	c.flat = make([]int32, d.nReadings)
	d.order(&r, &c)
	if d.err != nil {
		return nil
	}
	d.bitsEnd(&r)
	if d.err != nil {
		return nil
	}
	return d.readings(&c)
}

// magicAndVersion refuses what is not packed, and a version other than
// this one before reading any of it as this version's layout.
func (d *decoder) magicAndVersion() bool {
	if !Sniff(d.b) {
		n := min(len(d.b), 4)
		d.err = fmt.Errorf("%w (magic %q, want %q)", ErrNotPacked, d.b[:n], Magic)
		return false
	}
	d.off = len(Magic)
	v := d.byte1("version")
	if d.err != nil {
		return false
	}
	if v != Version {
		d.err = fmt.Errorf("%w %d (this decoder reads version %d; update karana-edge)", ErrVersion, v, Version)
		return false
	}
	return true
}

// header reads the batch's own fields. The reading count is capped at
// MaxReadings here: every later count and allocation is bounded by it.
// Unknown header flags are an error, not ignored: a flag is a section
// this decoder would misread.
func (d *decoder) header() *Batch {
	d.hflags = d.byte1("header flags")
	if d.hflags&^knownFlags != 0 {
		d.corrupt("unknown header flags %#02x", d.hflags)
	}
	b := &Batch{}
	b.Device = d.str("device")
	b.Stream = d.str("stream")
	b.FirstSeq = d.uvarint("first_seq")
	b.LastSeq = d.uvarint("last_seq")
	b.Dropped = d.uvarint("dropped")
	d.nReadings = d.count("count", MaxReadings)
	return b
}

// tags reads the stream's tags when the flag says they are there, and
// then at least one. Their number is bounded by the payload's length and
// the map's first size by 64, so a forged count allocates nothing big.
func (d *decoder) tags(b *Batch) {
	if d.hflags&flagTags == 0 {
		return
	}
	ntags := d.count("tag count", uint64(len(d.b)))
	if ntags == 0 && d.err == nil {
		d.corrupt("tags flag set with no tags")
	}
	b.Tags = make(map[string]string, min(ntags, 64))
	for range ntags {
		if d.err != nil {
			break
		}
		k := d.str("tag key")
		b.Tags[k] = d.str("tag value")
	}
}

// emptyEnd checks that a batch of no readings ends with its header: it has
// no series table, so no reading flags nor any other byte may follow.
func (d *decoder) emptyEnd() {
	if d.hflags&flagReadingFlags != 0 {
		d.corrupt("reading flags on an empty batch")
	} else if d.off != len(d.b) {
		d.corrupt("%d trailing bytes", len(d.b)-d.off)
	}
}

// tableHead reads what precedes the series table: the number of series (at
// least one, at most one a reading), the order coding, and the seqs'
// descriptor. It returns the number of series.
func (d *decoder) tableHead(firstSeq uint64) int {
	nser := d.count("series count", uint64(d.nReadings))
	if nser == 0 && d.err == nil {
		d.corrupt("%d readings in no series", d.nReadings)
	}
	d.orderMode = d.byte1("order mode")
	if d.err == nil && d.orderMode != orderSuccessor && d.orderMode != orderByTime {
		d.corrupt("unknown order mode %d", d.orderMode)
	}
	d.seqs = d.readIntSeqDesc(d.nReadings, int64(firstSeq), "seqs")
	return nser
}

// seriesTable reads the nser entries of the series table, whose reading
// counts must add up to the header's count exactly: the flat arrays the bit
// stream fills are sized by it.
func (d *decoder) seriesTable(nser int) {
	d.series = make([]seriesDesc, 0, min(nser, len(d.b)))
	var c tableContext
	var units []string
	total := 0
	for s := 0; s < nser && d.err == nil; s++ {
		d.series = append(d.series, seriesDesc{})
		sd := &d.series[s]
		if d.seriesEntry(s, sd, &c, units, total) {
			units = append(units, sd.unit)
		}
		total += sd.n
	}
	if d.err == nil && total != d.nReadings {
		d.corrupt("series hold %d readings, header says %d", total, d.nReadings)
	}
}

// seriesEntry reads entry s of the table into sd, after entries that hold
// total readings and named units; newUnit says its unit is not one of
// those. The first entry has no previous one to refer to.
func (d *decoder) seriesEntry(s int, sd *seriesDesc, c *tableContext, units []string, total int) (newUnit bool) {
	head := d.byte1("series head")
	sd.valueKind = head & valueKind
	if s == 0 && head&(seriesSameN|seriesSameTs) != 0 {
		d.corrupt("first series refers to a previous one")
	}
	sd.name = d.seriesName(c)
	sd.unit, newUnit = d.seriesUnit(units)
	sd.n = d.seriesCount(s, head, sd.name, total)
	d.seriesTimestamps(head, sd, c)
	d.seriesValueDesc(sd)
	return newUnit
}

// seriesName reads a name as the previous one's prefix and suffix around
// a middle; the lengths are bounded by the previous name, so the slicing
// cannot go out of range, and the name by maxString.
func (d *decoder) seriesName(c *tableContext) string {
	prev := c.prevName
	p := d.count("series name prefix", uint64(len(prev)))
	q := d.count("series name suffix", uint64(len(prev)-p))
	mid := d.str("series name")
	name := prev[:p] + mid + prev[len(prev)-q:]
	if len(name) > maxString && d.err == nil {
		d.corrupt("series name of %d bytes, longer than %d", len(name), maxString)
	}
	c.prevName = name
	return name
}

// seriesUnit reads a unit: i > 0 for the i-th of the units seen so far,
// or 0 and a new unit.
func (d *decoder) seriesUnit(units []string) (unit string, isNew bool) {
	if u := d.count("series unit", uint64(len(units))); u > 0 {
		return units[u-1], false
	}
	return d.str("series unit"), true
}

// seriesCount reads entry s's reading count, or takes the previous entry's.
// Either way it is at least one and at most what the entries before it
// left of the header's count.
func (d *decoder) seriesCount(s int, head byte, name string, total int) int {
	left := d.nReadings - total
	var n int
	if head&seriesSameN != 0 && s > 0 {
		n = d.series[s-1].n
		if n > left {
			d.corrupt("series %s: %d readings, %d left", name, n, left)
		}
	} else {
		n = d.count("series reading count", uint64(left))
	}
	if n == 0 && d.err == nil {
		d.corrupt("series %d (%s) has no readings", s, name)
	}
	return n
}

// seriesTimestamps reads sd's timestamp descriptor, or takes the previous
// entry's, which must then be for as many readings.
func (d *decoder) seriesTimestamps(head byte, sd *seriesDesc, c *tableContext) {
	if head&seriesSameTs != 0 {
		if c.prevTs.n != sd.n && d.err == nil {
			d.corrupt("series %s: timestamps like a series of %d readings, it has %d", sd.name, c.prevTs.n, sd.n)
		}
		sd.ts = c.prevTs
	} else {
		sd.ts = d.readIntSeqDesc(sd.n, c.prevTs.x0, "timestamps of "+sd.name)
	}
	c.prevTs = sd.ts
}

// seriesValueDesc reads what the value kind needs from the table: the
// first value's bits for XOR floats, the descriptor of the integers for
// decimals. A kind beyond maxDecimals has no divisor and is refused.
func (d *decoder) seriesValueDesc(sd *seriesDesc) {
	switch {
	case sd.valueKind == valueXOR:
		if p := d.bytesN(8, "first value of "+sd.name); p != nil {
			sd.first = binary.BigEndian.Uint64(p)
		}
	case sd.valueKind <= valueDecimal+maxDecimals:
		sd.vals = d.readIntSeqDesc(sd.n, 0, "values of "+sd.name)
	default:
		d.corrupt("series %s: unknown value kind %d", sd.name, sd.valueKind)
	}
}

// readingFlags appends the runs of reading flags to flags. Each run is one
// reading or more, and no more than are left, so the runs add up to the
// reading count exactly.
func (d *decoder) readingFlags(flags []reading.Flags) []reading.Flags {
	for len(flags) < d.nReadings && d.err == nil {
		run := d.count("flag run", uint64(d.nReadings-len(flags)))
		f := reading.Flags(d.byte1("flags"))
		if run == 0 && d.err == nil {
			d.corrupt("empty flag run")
		}
		for range run {
			flags = append(flags, f)
		}
	}
	return flags
}

// seriesBits reads each series' timestamps and values from the bit stream
// into c.ts and c.vals, series after series in table order, and sets c.span.
func (d *decoder) seriesBits(r *bitReader, c *columns) {
	for s := range d.series {
		c.span[s+1] = c.span[s] + d.series[s].n
	}
	var ints []int64 // scratch for the decimal series' integers
	for s := range d.series {
		sd := &d.series[s]
		sd.ts.readValues(r, c.ts[c.span[s]:c.span[s+1]])
		vs := c.vals[c.span[s]:c.span[s+1]]
		if sd.valueKind == valueXOR {
			if !readXORValues(r, sd.first, vs) {
				d.corrupt("series %s: XOR window beyond 64 bits", sd.name)
				return
			}
		} else {
			ints = readDecimalValues(r, sd, vs, ints)
		}
		if r.err {
			d.bitsTruncated("bit stream of series " + sd.name)
			return
		}
	}
}

// readXORValues fills vs from first and the XOR bits; false on a window
// that does not fit in 64 bits.
func readXORValues(r *bitReader, first uint64, vs []float64) bool {
	x := xorReader{prev: first}
	vs[0] = math.Float64frombits(first)
	for i := 1; i < len(vs); i++ {
		bits, ok := x.read(r)
		if !ok {
			return false
		}
		vs[i] = math.Float64frombits(bits)
	}
	return true
}

// readDecimalValues fills vs with the series' integers divided by 10^dec,
// the one correctly rounded division the encoder checked gives back each
// value's bits. ints is scratch, returned for the next series.
func readDecimalValues(r *bitReader, sd *seriesDesc, vs []float64, ints []int64) []int64 {
	if cap(ints) < len(vs) {
		ints = make([]int64, len(vs))
	}
	ints = ints[:len(vs)]
	sd.vals.readValues(r, ints)
	div := pow10[sd.valueKind-valueDecimal]
	for i, k := range ints {
		vs[i] = float64(k) / div
	}
	return ints
}

// seqBits reads the seqs, in batch order, after the series' bits.
func (d *decoder) seqBits(r *bitReader, seqv []int64) {
	d.seqs.readValues(r, seqv)
	if r.err {
		d.bitsTruncated("seq bits")
	}
}

// order reads the order bits (order.go) into c.flat: which of the
// per-series readings each reading of the batch is.
func (d *decoder) order(r *bitReader, c *columns) {
	switch d.orderMode {
	case orderSuccessor:
		d.placeBySuccessor(r, c.span, c.flat)
	case orderByTime:
		d.readByTime(r, c.flat, c.ts)
	}
	if r.err {
		d.bitsTruncated("order bits")
	}
}

// placeBySuccessor reads each reading's series and gives it the next
// unused place in that series; a series named more often than its count
// in the table is corrupt, and would otherwise take another's place.
func (d *decoder) placeBySuccessor(r *bitReader, span []int, flat []int32) {
	nser := len(d.series)
	sid := make([]int32, d.nReadings)
	d.readSuccessor(r, sid, nser)
	next := slices.Clone(span[:nser]) // fill positions
	for i, s := range sid {
		if next[s] >= span[s+1] {
			if d.err == nil && !r.err {
				d.corrupt("series %s appears more often than its %d readings", d.series[s].name, d.series[s].n)
			}
			break
		}
		flat[i] = int32(next[s])
		next[s]++
	}
}

// bitsEnd checks that the bit stream ends in its last byte: a whole byte
// left over is not padding.
func (d *decoder) bitsEnd(r *bitReader) {
	if rest := uint(len(r.buf))*8 - r.pos; rest >= 8 {
		d.off += int(r.pos / 8)
		d.corrupt("%d trailing bytes", rest/8)
	}
}

// readings puts the batch's readings together, in batch order, from the
// per-series arrays.
func (d *decoder) readings(c *columns) []reading.Reading {
	span, flat, seqv, ts, vals, flags := c.span, c.flat, c.seqv, c.ts, c.vals, c.flags
	// series of each flat index, to name the readings
	sidOf := make([]int32, d.nReadings)
	for s := range d.series {
		for j := span[s]; j < span[s+1]; j++ {
			sidOf[j] = int32(s)
		}
	}
	rs := make([]reading.Reading, d.nReadings)
	for i := range rs {
		j := flat[i]
		sd := &d.series[sidOf[j]]
		rd := &rs[i]
		rd.Seq = uint64(seqv[i])
		rd.Name, rd.Unit = sd.name, sd.unit
		rd.Time = timeOf(ts[j])
		rd.Value = vals[j]
		if flags != nil {
			rd.Flags = flags[i]
		}
	}
	return rs
}

func timeOf(ns int64) time.Time {
	if ns == zeroTs {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
