package packed

import (
	"errors"
	"math"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// Version is the format version this package writes and reads.
const Version = 1

// Magic opens every payload, followed by the version byte.
const Magic = "KP"

// MaxReadings bounds the readings of one payload, so that a small garbage
// payload cannot make a decoder allocate more than a few tens of MB (a
// constant series on aligned timestamps costs no bits per reading at all,
// so thirty bytes can claim this many). A stream's max_batch is at most
// 100,000.
const MaxReadings = 1 << 18

// maxString bounds the device, stream, series name and unit.
const maxString = 1 << 16

// Batch is what a payload carries: the fields of uplink/format.Batch, which
// the "packed" formatter copies in (this package must not import
// uplink/format, which imports it).
type Batch struct {
	Device   string
	Stream   string
	FirstSeq uint64
	LastSeq  uint64
	Dropped  uint64
	Readings []reading.Reading
	// Tags are the stream's static tags (site, customer ...); written in
	// key order, only when there are any.
	Tags map[string]string
}

// Errors that Decode wraps, with the offset and what it was reading.
var (
	// ErrNotPacked: the payload does not start with Magic (it may be JSON,
	// or still compressed).
	ErrNotPacked = errors.New("not a packed payload")
	// ErrVersion: the payload is packed, but a version this decoder does not know.
	ErrVersion = errors.New("unsupported packed version")
	// ErrTruncated: the payload ends before its content does.
	ErrTruncated = errors.New("truncated packed payload")
	// ErrCorrupt: the payload is inconsistent (counts that do not add up,
	// values out of range, trailing bytes).
	ErrCorrupt = errors.New("corrupt packed payload")
)

// Header flag bits.
const (
	flagReadingFlags = 1 << 0 // a run-length table of reading flags follows the series table
	flagTags         = 1 << 1 // the stream's tags follow the header
	knownFlags       = flagReadingFlags | flagTags
)

// The head byte of a series in the table: its value kind in the low 6 bits
// (0 is XOR floats, 1+e is integers at resolution 10^-e), and whether its
// reading count and its timestamp descriptor are the previous series'.
const (
	valueXOR     = 0
	maxDecimals  = 20
	valueDecimal = 1
	valueKind    = 0x3f
	seriesSameN  = 0x40
	seriesSameTs = 0x80
)

// zeroTs stands for the zero time.Time, which has no UnixNano (the buffer
// uses the same sentinel).
const zeroTs = math.MinInt64

var (
	minTime = time.Unix(0, zeroTs+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// pow10[e] is 10^e, exact in float64 up to 10^22.
var pow10 = func() (p [maxDecimals + 1]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()
