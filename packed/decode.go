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

type decoder struct {
	b   []byte
	off int
	err error
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

func (d *decoder) decode() *Batch {
	if !Sniff(d.b) {
		n := min(len(d.b), 4)
		d.err = fmt.Errorf("%w (magic %q, want %q)", ErrNotPacked, d.b[:n], Magic)
		return nil
	}
	d.off = len(Magic)
	v := d.byte1("version")
	if d.err != nil {
		return nil
	}
	if v != Version {
		d.err = fmt.Errorf("%w %d (this decoder reads version %d; update karana-edge)", ErrVersion, v, Version)
		return nil
	}
	hflags := d.byte1("header flags")
	if hflags&^knownFlags != 0 {
		d.corrupt("unknown header flags %#02x", hflags)
	}
	b := &Batch{}
	b.Device = d.str("device")
	b.Stream = d.str("stream")
	b.FirstSeq = d.uvarint("first_seq")
	b.LastSeq = d.uvarint("last_seq")
	b.Dropped = d.uvarint("dropped")
	count := d.count("count", MaxReadings)
	if hflags&flagTags != 0 {
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
	if d.err != nil {
		return nil
	}
	if count == 0 {
		if hflags&flagReadingFlags != 0 {
			d.corrupt("reading flags on an empty batch")
		} else if d.off != len(d.b) {
			d.corrupt("%d trailing bytes", len(d.b)-d.off)
		}
		if d.err != nil {
			return nil
		}
		return b
	}
	nser := d.count("series count", uint64(count))
	if nser == 0 && d.err == nil {
		d.corrupt("%d readings in no series", count)
	}
	orderMode := d.byte1("order mode")
	if d.err == nil && orderMode != orderSuccessor && orderMode != orderByTime {
		d.corrupt("unknown order mode %d", orderMode)
	}
	seqs := d.readIntSeqDesc(count, int64(b.FirstSeq), "seqs")
	if d.err != nil {
		return nil
	}

	series := make([]seriesDesc, 0, min(nser, len(d.b)))
	var prevName string
	var units []string
	var prevTs intSeq
	total := 0
	for s := 0; s < nser && d.err == nil; s++ {
		var sd seriesDesc
		head := d.byte1("series head")
		sd.valueKind = head & valueKind
		if s == 0 && head&(seriesSameN|seriesSameTs) != 0 {
			d.corrupt("first series refers to a previous one")
		}
		p := d.count("series name prefix", uint64(len(prevName)))
		q := d.count("series name suffix", uint64(len(prevName)-p))
		mid := d.str("series name")
		sd.name = prevName[:p] + mid + prevName[len(prevName)-q:]
		if len(sd.name) > maxString && d.err == nil {
			d.corrupt("series name of %d bytes, longer than %d", len(sd.name), maxString)
		}
		prevName = sd.name
		if u := d.count("series unit", uint64(len(units))); u > 0 {
			sd.unit = units[u-1]
		} else {
			sd.unit = d.str("series unit")
			units = append(units, sd.unit)
		}
		if head&seriesSameN != 0 && s > 0 {
			sd.n = series[s-1].n
			if sd.n > count-total {
				d.corrupt("series %s: %d readings, %d left", sd.name, sd.n, count-total)
			}
		} else {
			sd.n = d.count("series reading count", uint64(count-total))
		}
		if sd.n == 0 && d.err == nil {
			d.corrupt("series %d (%s) has no readings", s, sd.name)
		}
		total += sd.n
		if head&seriesSameTs != 0 {
			if prevTs.n != sd.n && d.err == nil {
				d.corrupt("series %s: timestamps like a series of %d readings, it has %d", sd.name, prevTs.n, sd.n)
			}
			sd.ts = prevTs
		} else {
			sd.ts = d.readIntSeqDesc(sd.n, prevTs.x0, "timestamps of "+sd.name)
		}
		prevTs = sd.ts
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
		series = append(series, sd)
	}
	if d.err == nil && total != count {
		d.corrupt("series hold %d readings, header says %d", total, count)
	}
	if d.err != nil {
		return nil
	}

	var flags []reading.Flags
	if hflags&flagReadingFlags != 0 {
		flags = make([]reading.Flags, 0, count)
		for len(flags) < count && d.err == nil {
			run := d.count("flag run", uint64(count-len(flags)))
			f := reading.Flags(d.byte1("flags"))
			if run == 0 && d.err == nil {
				d.corrupt("empty flag run")
			}
			for range run {
				flags = append(flags, f)
			}
		}
		if d.err != nil {
			return nil
		}
	}

	// the bit stream: per series timestamps and values, then seqs, then order
	r := bitReader{buf: d.b[d.off:]}
	bitsTruncated := func(what string) {
		if d.err == nil {
			d.err = fmt.Errorf("%w: the %d-byte payload ends inside the %s", ErrTruncated, len(d.b), what)
		}
	}
	off := make([]int, nser+1)
	for s := range series {
		off[s+1] = off[s] + series[s].n
	}
	ts := make([]int64, count)
	vals := make([]float64, count)
	var ints []int64
	for s := range series {
		sd := &series[s]
		sd.ts.readValues(&r, ts[off[s]:off[s+1]])
		vs := vals[off[s]:off[s+1]]
		if sd.valueKind == valueXOR {
			x := xorReader{prev: sd.first}
			vs[0] = math.Float64frombits(sd.first)
			for i := 1; i < len(vs); i++ {
				bits, ok := x.read(&r)
				if !ok {
					d.corrupt("series %s: XOR window beyond 64 bits", sd.name)
					return nil
				}
				vs[i] = math.Float64frombits(bits)
			}
		} else {
			if cap(ints) < len(vs) {
				ints = make([]int64, len(vs))
			}
			ints = ints[:len(vs)]
			sd.vals.readValues(&r, ints)
			div := pow10[sd.valueKind-valueDecimal]
			for i, k := range ints {
				vs[i] = float64(k) / div
			}
		}
		if r.err {
			bitsTruncated("bit stream of series " + sd.name)
			return nil
		}
	}
	seqv := make([]int64, count)
	seqs.readValues(&r, seqv)
	if r.err {
		bitsTruncated("seq bits")
		return nil
	}

	// flat[i]: reading i's index into ts and vals
	flat := make([]int32, count)
	switch orderMode {
	case orderSuccessor:
		sid := make([]int32, count)
		d.readSuccessor(&r, sid, nser)
		next := slices.Clone(off[:nser]) // fill positions
		for i, s := range sid {
			if next[s] >= off[s+1] {
				if d.err == nil && !r.err {
					d.corrupt("series %s appears more often than its %d readings", series[s].name, series[s].n)
				}
				break
			}
			flat[i] = int32(next[s])
			next[s]++
		}
	case orderByTime:
		d.readByTime(&r, flat, ts)
	}
	if r.err {
		bitsTruncated("order bits")
	}
	if d.err != nil {
		return nil
	}
	if rest := uint(len(r.buf))*8 - r.pos; rest >= 8 {
		d.off += int(r.pos / 8)
		d.corrupt("%d trailing bytes", rest/8)
		return nil
	}

	// series of each flat index, to name the readings
	sidOf := make([]int32, count)
	for s := range series {
		for j := off[s]; j < off[s+1]; j++ {
			sidOf[j] = int32(s)
		}
	}
	b.Readings = make([]reading.Reading, count)
	for i := range b.Readings {
		j := flat[i]
		sd := &series[sidOf[j]]
		rd := &b.Readings[i]
		rd.Seq = uint64(seqv[i])
		rd.Name, rd.Unit = sd.name, sd.unit
		rd.Time = timeOf(ts[j])
		rd.Value = vals[j]
		if flags != nil {
			rd.Flags = flags[i]
		}
	}
	return b
}

func timeOf(ns int64) time.Time {
	if ns == zeroTs {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
