package format

import (
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// SenMLCBOR is the "senml-cbor" format: the senml pack (same records, same
// base name, units and flags) in CBOR as RFC 8428 §6 defines it, with the
// integer labels bn -2, bt -3, n 0, u 1, v 2, t 6 (flags keeps its text
// label, as extensions do).
//
// Numbers take their shortest exact CBOR form (RFC 8949 preferred
// serialization): whole values and times as integers, others as the
// smallest float that holds them exactly (12.625 fits a 16-bit float,
// 12.63 needs 64 bits). Every CBOR decoder reads them all as numbers.
type SenMLCBOR struct{}

func init() {
	RegisterOptions("senml-cbor", SenMLCBOR{}, nil, senmlTagsChecked(SenMLCBOR{}))
}

// ContentType implements Formatter.
func (SenMLCBOR) ContentType() string { return "application/senml+cbor" }

// senmlCBORRecord is one record; nil fields are left out.
type senmlCBORRecord struct {
	BN    string `cbor:"-2,keyasint,omitempty"`
	BT    any    `cbor:"-3,keyasint,omitempty"`
	N     string `cbor:"0,keyasint,omitempty"`
	U     string `cbor:"1,keyasint,omitempty"`
	V     any    `cbor:"2,keyasint"`
	T     any    `cbor:"6,keyasint,omitempty"`
	Flags uint8  `cbor:"flags,omitempty"`
}

var senmlCBORMode = func() cbor.EncMode {
	m, err := cbor.PreferredUnsortedEncOptions().EncMode()
	if err != nil {
		panic("format: senml-cbor encoder options: " + err.Error())
	}
	return m
}()

// Format implements Formatter.
func (SenMLCBOR) Format(b *Batch) ([]byte, error) {
	bn, err := senmlBaseName(b)
	if err != nil {
		return nil, fmt.Errorf("senml-cbor: %w", err)
	}
	recs := make([]senmlCBORRecord, 0, len(b.Readings))
	var bt int64
	for i := range b.Readings {
		r := &b.Readings[i]
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		var rec senmlCBORRecord
		if len(recs) == 0 {
			bt = r.Time.Unix()
			rec.BN, rec.BT = bn, bt
		}
		var v float64
		rec.N = r.Name
		rec.U, v = senmlUnit(r.Unit, r.Value)
		rec.V = cborNumber(v)
		if sec, nsec := r.Time.Unix()-bt, r.Time.Nanosecond(); nsec != 0 {
			rec.T = float64(sec) + float64(nsec)/1e9
		} else if sec != 0 {
			rec.T = sec
		}
		rec.Flags = uint8(r.Flags)
		recs = append(recs, rec)
	}
	out, err := senmlCBORMode.Marshal(recs)
	if err != nil {
		return nil, fmt.Errorf("senml-cbor: %w", err)
	}
	return out, nil
}

// cborNumber returns v as an int64 when it is a whole number that an int64
// and a float64 both hold exactly (the integer form is never longer), and
// as a float64 otherwise. -0 stays a float: an integer would lose its sign.
func cborNumber(v float64) any {
	if v == math.Trunc(v) && math.Abs(v) <= 1<<53 && !(v == 0 && math.Signbit(v)) {
		return int64(v)
	}
	return v
}
