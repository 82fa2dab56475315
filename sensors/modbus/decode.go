package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// table is one of Modbus's four data tables.
type table uint8

const (
	holding table = iota
	input
	coil
	discrete
)

var tableNames = map[string]table{"": holding, "holding": holding, "input": input, "coil": coil, "discrete": discrete}

func (t table) String() string {
	return [...]string{"holding register", "input register", "coil", "discrete input"}[t]
}

// bits reports whether the table holds single bits rather than registers.
func (t table) bits() bool { return t == coil || t == discrete }

// typ is how a point's registers decode.
type typ uint8

const (
	tInvalid typ = iota
	tInt16
	tUint16
	tInt32
	tUint32
	tInt64
	tUint64
	tFloat32
	tFloat64
	tBits
	tBool
)

var typeNames = map[string]typ{
	"int16": tInt16, "uint16": tUint16, "int32": tInt32, "uint32": tUint32,
	"int64": tInt64, "uint64": tUint64, "float32": tFloat32, "float64": tFloat64,
	"bits": tBits,
}

func (t typ) String() string {
	for n, v := range typeNames {
		if v == t {
			return n
		}
	}
	if t == tBool {
		return "bool"
	}
	return "invalid"
}

// words is how many registers (or bits) the type takes.
func (t typ) words() int {
	switch t {
	case tInt32, tUint32, tFloat32:
		return 2
	case tInt64, tUint64, tFloat64:
		return 4
	}
	return 1
}

// point is one value to read, checked.
type point struct {
	key        string // where it was configured: "register[2]", "profile x register[3]"
	field      string
	unit       string
	table      table
	addr       uint16
	typ        typ
	wordLittle bool
	byteLittle bool
	scale      float64
	offset     float64
	sf         int // address of the scale-factor register, -1 for none

	// sunspec: the type's "not implemented" value means missing (0x8000
	// int16, 0xFFFF uint16, …); acc: a SunSpec accumulator, where 0 does.
	sunspec bool
	acc     bool
}

// inline reports a point from the sensor's own [[sensor.register]] table.
func (p *point) inline() bool { return strings.HasPrefix(p.key, "register[") }

func (p *point) width() uint16 { return uint16(p.typ.words()) }

func (p *point) rangeString() string {
	if p.width() == 1 {
		return fmt.Sprintf("0x%04X", p.addr)
	}
	return fmt.Sprintf("0x%04X-0x%04X", p.addr, p.addr+p.width()-1)
}

// image holds what one read got: table and address → register (or bit as
// 0/1).
type image map[uint32]uint16

func key(t table, addr uint16) uint32 { return uint32(t)<<16 | uint32(addr) }

func (im image) words(t table, addr uint16, n int) ([]uint16, bool) {
	out := make([]uint16, n)
	for i := range out {
		v, ok := im[key(t, addr+uint16(i))]
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// value decodes p from the image. ok is false when p's registers were
// not read or the device marks the value as not implemented (SunSpec).
func (p *point) value(im image) (float64, bool) {
	regs, ok := im.words(p.table, p.addr, p.typ.words())
	if !ok {
		return 0, false
	}
	raw, ok := p.raw(regs)
	if !ok {
		return 0, false
	}
	exp := 0
	if p.sf >= 0 {
		w, ok := im[key(p.table, uint16(p.sf))]
		if !ok || w == 0x8000 { // sunssf not implemented
			return 0, false
		}
		exp = int(int16(w))
		if exp < -10 || exp > 10 { // SunSpec allows -10..10
			return 0, false
		}
	}
	return scaled(raw, exp, p.scale, p.offset), true
}

// raw assembles the registers into a number; ok is false for a value the
// device marks as absent.
func (p *point) raw(regs []uint16) (v float64, ok bool) {
	var b [8]byte
	n := len(regs)
	for i, r := range regs {
		w := i
		if p.wordLittle {
			w = n - 1 - i
		}
		if p.byteLittle {
			r = r>>8 | r<<8
		}
		binary.BigEndian.PutUint16(b[2*w:], r)
	}
	switch p.typ {
	case tBool:
		return float64(regs[0] & 1), true
	case tFloat32:
		f := math.Float32frombits(binary.BigEndian.Uint32(b[:]))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return 0, false // a meter's "no value": never stored as a number
		}
		// The shortest decimal that is this float32 ("229.8"), not its
		// binary expansion (229.8000030517578).
		d, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
		return d, true
	case tFloat64:
		f := math.Float64frombits(binary.BigEndian.Uint64(b[:]))
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return p.integer(b)
}

// integer decodes the integer types from b, left-aligned big-endian.
func (p *point) integer(b [8]byte) (float64, bool) {
	var u uint64
	bits := 16 * p.typ.words()
	switch bits {
	case 16:
		u = uint64(binary.BigEndian.Uint16(b[:]))
	case 32:
		u = uint64(binary.BigEndian.Uint32(b[:]))
	default:
		u = binary.BigEndian.Uint64(b[:])
	}
	signed := p.typ == tInt16 || p.typ == tInt32 || p.typ == tInt64
	if p.sunspec {
		// SunSpec's "not implemented": the most negative signed value, the
		// largest unsigned one, and 0 for an accumulator.
		top := uint64(1) << (bits - 1)
		all := top | (top - 1)
		if signed && u == top || !signed && u == all || p.acc && u == 0 {
			return 0, false
		}
	}
	if !signed {
		return float64(u), true
	}
	// Sign-extend from the type's width.
	shift := 64 - bits
	return float64(int64(u<<shift) >> shift), true
}

// scaled returns raw × 10^exp × scale + offset. A scale that is a power of
// ten joins exp, and a negative exponent divides, so that 2200 × 0.1 is
// 220 exactly, not 220.00000000000003.
func scaled(raw float64, exp int, scale, offset float64) float64 {
	if e, ok := powerOfTen(scale); ok {
		exp += e
		scale = 1
	}
	v := raw
	switch {
	case exp < 0:
		v /= math.Pow10(-exp)
	case exp > 0:
		v *= math.Pow10(exp)
	}
	return v*scale + offset
}

// powerOfTen reports whether s is 10^e for an integer e in -12..12.
func powerOfTen(s float64) (int, bool) {
	for e := -12; e <= 12; e++ {
		if s == math.Pow10(e) {
			return e, true
		}
		// 0.1 as written in TOML is the float nearest 1/10, which is what
		// 1/math.Pow10(1) gives too; both spellings land here.
		if e < 0 && s == 1/math.Pow10(-e) {
			return e, true
		}
	}
	return 0, false
}
