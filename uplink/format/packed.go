package format

import (
	"strconv"

	"github.com/karana-energy/karana-edge/packed"
	"github.com/karana-energy/karana-edge/reading"
)

// Packed is the "packed" format: the compact binary batch of package packed
// (github.com/karana-energy/karana-edge/packed, which documents the layout
// and holds the decoder any backend can import), for metered 2G/3G links.
// Per series it stores timestamps as delta-of-delta and values as integers
// at the resolution they were delivered in (found by the encoder, losslessly)
// or as XOR-ed floats; on the reference site it costs about 1.2 bytes a
// reading, compressed or not, against 8.6 for gzipped json
// (BenchmarkWireBytes). Compressing it gains little: the table of series
// names is the only redundant part. Every reading round-trips exactly: seq,
// name, unit, flags, nanosecond time, float64 bits. The stream's tags travel
// in the header.
//
// `karana-edge decode` turns a payload (compressed or not) back into JSON
// lines with the json format's reading fields.
type Packed struct{}

func init() { Register("packed", Packed{}) }

// PackedContentType names the payload; the version follows packed.Version.
const PackedContentType = "application/x-karana-packed; v=1"

// Make sure the content type keeps naming the version packed writes.
var _ = [1]struct{}{}[packed.Version-1]

// ContentType implements Formatter.
func (Packed) ContentType() string { return PackedContentType }

// Format implements Formatter.
func (p Packed) Format(b *Batch) ([]byte, error) { return p.AppendFormat(nil, b) }

// AppendFormat appends the payload for b to dst.
func (Packed) AppendFormat(dst []byte, b *Batch) ([]byte, error) {
	return packed.AppendEncode(dst, &packed.Batch{
		Device: b.Device, Stream: b.Stream,
		FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Dropped: b.Dropped,
		Readings: b.Readings, Tags: b.Tags,
	})
}

// AppendJSONReading appends r as the json format writes a reading inside
// "readings" — {"seq":…,"name":…,"ts":…,"value":…,"unit":…} and "flags"
// when non-zero — with the same number, time and string formatting, so a
// decoded packed payload prints exactly like the json batch of the same
// readings. `karana-edge decode` writes one per line.
func AppendJSONReading(dst []byte, r *reading.Reading) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, r.Name)
	dst = append(dst, `,"ts":"`...)
	dst = appendTimeMilli(dst, r.Time)
	dst = append(dst, `","value":`...)
	dst = appendJSONFloat(dst, r.Value)
	dst = append(dst, `,"unit":`...)
	dst = appendJSONString(dst, r.Unit)
	if r.Flags != 0 {
		dst = append(dst, `,"flags":`...)
		dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
	}
	return append(dst, '}')
}
