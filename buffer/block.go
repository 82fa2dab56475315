package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Block layout, format 1 (see doc.go):
//
//	[0]      format byte (1)
//	[1:5]    count, uint32 big-endian (fixed width so the tail can grow in place)
//	[5:n-4]  count entries
//	[n-4:n]  CRC-32C of bytes [0:n-4], little-endian
//
// entry: uvarint series id | varint ts delta ns (zigzag) | value header h |
// flags byte, only if h has bit 7 set | 8-lz-tz value bytes.
// h = f<<7 | lz<<3 | tz: f says the flags differ from the previous reading
// in the block (which starts at 0); the value is
// x = bits(value) XOR bits(previous value of the same series in the block),
// lz and tz are its leading and trailing zero bytes, and the bytes between
// them follow, big-endian. x == 0 is lz=8, tz=0 and no value bytes.
const (
	blockFormat1   = 1
	blockHeaderLen = 5
	blockCRCLen    = 4
	blockMinLen    = blockHeaderLen + blockCRCLen
	// minEntryLen is sid + dt + value header: bounds count against length.
	minEntryLen = 3
	// maxEntryLen is 5 (sid) + 10 (dt) + 1 (header) + 1 (flags) + 8.
	maxEntryLen = 25
	// zeroTs encodes the zero time.Time, which has no UnixNano.
	zeroTs = math.MinInt64
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// blockCap is the largest block a commit writes to the data bucket: a
// quarter of a page (996 bytes at 4 KiB), so that four blocks fill a leaf.
// bbolt rewrites a whole leaf node whenever one key in it changes, and never
// splits a node of four keys or fewer, however large: with 64 KiB blocks a
// small block appended next to one rewrites it, 17 pages for one. Kept
// small, the rightmost leaf is always a single page.
func blockCap(pageSize int) int {
	return (pageSize-pageHeaderLen)/4 - leafElemLen - 8
}

// entry is a reading in its stored shape: pending readings are kept like this
// (24 bytes) rather than as reading.Reading (~80 bytes).
type entry struct {
	ts    int64
	bits  uint64 // math.Float64bits(value)
	sid   uint32
	flags reading.Flags
	epoch uint16 // clock epoch index + 1 (clock.go); 0: no evidence. Not stored in blocks.
}

func tsOf(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroTs
	case t.Before(minTime):
		return zeroTs + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, zeroTs+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

func timeOf(ns int64) time.Time {
	if ns == zeroTs {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// blockEncoder builds one block; it can keep growing after bytes() was
// called, which is how the tail absorbs commit after commit.
type blockEncoder struct {
	buf    []byte // header and entries, no CRC
	n      uint32
	prevTs int64
	flags  reading.Flags
	prev   map[uint32]uint64
	// thinSeq is the previous entry's seq in a thinned block (thin.go).
	thinSeq uint64
}

func newBlockEncoder() *blockEncoder {
	return &blockEncoder{buf: []byte{blockFormat1, 0, 0, 0, 0}, prev: map[uint32]uint64{}}
}

func (e *blockEncoder) clone() *blockEncoder {
	c := &blockEncoder{
		buf:    append(make([]byte, 0, len(e.buf)+256), e.buf...),
		n:      e.n,
		prevTs: e.prevTs,
		flags:  e.flags,
		prev:   make(map[uint32]uint64, len(e.prev)),
	}
	for k, v := range e.prev {
		c.prev[k] = v
	}
	return c
}

func (e *blockEncoder) add(x entry) {
	e.buf = binary.AppendUvarint(e.buf, uint64(x.sid))
	e.buf = binary.AppendVarint(e.buf, x.ts-e.prevTs) // wraps, and so does the decoder
	e.prevTs = x.ts
	e.buf = appendValue(e.buf, x.bits^e.prev[x.sid], x.flags, x.flags != e.flags)
	e.prev[x.sid] = x.bits
	e.flags = x.flags
	e.n++
	binary.BigEndian.PutUint32(e.buf[1:blockHeaderLen], e.n)
}

// size is the length bytes() would return.
func (e *blockEncoder) size() int { return len(e.buf) + blockCRCLen }

// bytes returns the finished block (a new slice).
func (e *blockEncoder) bytes() []byte {
	out := make([]byte, len(e.buf), len(e.buf)+blockCRCLen)
	copy(out, e.buf)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(e.buf, crcTable))
}

func appendValue(b []byte, x uint64, flags reading.Flags, newFlags bool) []byte {
	var h byte
	if newFlags {
		h = 0x80
	}
	lz, tz := 8, 0
	if x != 0 {
		lz, tz = bits.LeadingZeros64(x)/8, bits.TrailingZeros64(x)/8
	}
	b = append(b, h|byte(lz<<3|tz))
	if newFlags {
		b = append(b, byte(flags))
	}
	for i := 7 - lz; i >= tz; i-- {
		b = append(b, byte(x>>(8*i)))
	}
	return b
}

var errBlockCRC = errors.New("checksum mismatch")

// blockHeader checks the parts of a block that can be checked without
// decoding it: length, format, count plausibility. It does not read the
// entries, so it is what the open-time walk uses on every block.
func blockHeader(v []byte) (count uint32, err error) {
	count, _, _, err = blockLayout(v)
	return count, err
}

// blockSeqs returns the number of seqs a block covers: its count for format
// 1, the stored span for a thinned block (format 2, thin.go).
func blockSeqs(v []byte) (uint64, error) {
	_, span, _, err := blockLayout(v)
	return uint64(span), err
}

// blockLayout reads the header of either format: the readings held, the
// seqs covered and where the entries start.
func blockLayout(v []byte) (count, span uint32, hdr int, err error) {
	if len(v) < blockMinLen {
		return 0, 0, 0, fmt.Errorf("block of %d bytes is shorter than %d", len(v), blockMinLen)
	}
	hdr = blockHeaderLen
	switch v[0] {
	case blockFormat1:
	case blockFormatThinned:
		hdr = thinHeaderLen
		if len(v) < thinHeaderLen+blockCRCLen {
			return 0, 0, 0, fmt.Errorf("thinned block of %d bytes is shorter than %d", len(v), thinHeaderLen+blockCRCLen)
		}
	default:
		return 0, 0, 0, fmt.Errorf("unknown block format %d (this build reads formats %d and %d)", v[0], blockFormat1, blockFormatThinned)
	}
	count = binary.BigEndian.Uint32(v[1:blockHeaderLen])
	if count == 0 {
		return 0, 0, 0, errors.New("block holds no readings")
	}
	if uint64(count)*minEntryLen > uint64(len(v)-hdr-blockCRCLen) {
		return 0, 0, 0, fmt.Errorf("block claims %d readings in %d bytes", count, len(v))
	}
	span = count
	if hdr == thinHeaderLen {
		span = binary.BigEndian.Uint32(v[blockHeaderLen:thinHeaderLen])
		if span < count {
			return 0, 0, 0, fmt.Errorf("thinned block covers %d seqs but holds %d readings", span, count)
		}
	}
	return count, span, hdr, nil
}

// decodeBlock verifies a block and calls fn for each entry in order, with its
// seq offset from the block's key (its index, in a format-1 block); fn
// returns false to stop early. nSeries bounds the series ids. It never
// panics, whatever v holds.
func decodeBlock(v []byte, nSeries int, fn func(off int, e entry) bool) (int, error) {
	count, span, hdr, err := blockLayout(v)
	if err != nil {
		return 0, err
	}
	thinned := hdr == thinHeaderLen
	body := v[:len(v)-blockCRCLen]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(v[len(body):]) {
		return 0, errBlockCRC
	}
	var (
		p      = hdr
		off    = -1
		prevTs int64
		flags  reading.Flags
		prev   = make(map[uint32]uint64, 64)
	)
	for i := 0; i < int(count); i++ {
		off++
		if thinned {
			gap, n := binary.Uvarint(body[p:])
			if n <= 0 || gap >= uint64(span) || uint64(off)+gap >= uint64(span) {
				return i, fmt.Errorf("reading %d: bad seq gap", i)
			}
			off += int(gap)
			p += n
		}
		sid, n := binary.Uvarint(body[p:])
		if n <= 0 {
			return i, fmt.Errorf("reading %d: bad series id varint", i)
		}
		if sid >= uint64(nSeries) {
			return i, fmt.Errorf("reading %d: unknown series id %d (dictionary holds %d)", i, sid, nSeries)
		}
		p += n
		dt, n := binary.Varint(body[p:])
		if n <= 0 {
			return i, fmt.Errorf("reading %d: bad time varint", i)
		}
		p += n
		if p >= len(body) {
			return i, fmt.Errorf("reading %d: truncated", i)
		}
		h := body[p]
		p++
		if h&0x80 != 0 {
			if p >= len(body) {
				return i, fmt.Errorf("reading %d: truncated flags", i)
			}
			flags = reading.Flags(body[p])
			p++
		}
		lz, tz := int(h>>3&15), int(h&7)
		if lz > 8 || lz == 8 && tz != 0 || lz < 8 && lz+tz > 7 {
			return i, fmt.Errorf("reading %d: bad value header %#x", i, h)
		}
		w := 8 - lz - tz
		if p+w > len(body) {
			return i, fmt.Errorf("reading %d: truncated value", i)
		}
		var x uint64
		for _, c := range body[p : p+w] {
			x = x<<8 | uint64(c)
		}
		x <<= 8 * tz
		p += w
		e := entry{ts: prevTs + dt, sid: uint32(sid), flags: flags}
		prevTs = e.ts
		e.bits = prev[e.sid] ^ x
		prev[e.sid] = e.bits
		if !fn(off, e) {
			return i + 1, nil
		}
	}
	if p != len(body) {
		return int(count), fmt.Errorf("%d bytes after the last of %d readings", len(body)-p, count)
	}
	return int(count), nil
}

// toReading materialises an entry; names come from the dictionary snapshot.
func toReading(seq uint64, e entry, names []seriesKey) reading.Reading {
	s := names[e.sid]
	return reading.Reading{
		Seq:   seq,
		Name:  s.name,
		Unit:  s.unit,
		Time:  timeOf(e.ts),
		Value: math.Float64frombits(e.bits),
		Flags: e.flags,
	}
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}
