package format

import (
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/karana-energy/karana-edge/reading"
)

// JSON is the "json" format, the stable batch document of ARCHITECTURE.md:
//
//	{"device":"site-042","stream":"raw","first_seq":101,"last_seq":200,"count":100,"dropped":0,
//	 "readings":[{"seq":101,"name":"sim1.value","ts":"2026-11-21T22:00:00.100Z","value":101,"unit":""}]}
//
// Field notes for the backend:
//   - count is len(readings): the readings of first_seq..last_seq that the
//     stream's globs matched. The range also covers readings the stream did
//     not match, so last_seq-first_seq+1 >= count+dropped.
//   - ts is RFC 3339 UTC with milliseconds, truncated (not rounded).
//   - "flags" appears on a reading only when non-zero; it is the bit set of
//     reading.Flags: 1 = the clock was not synchronized when the reading was
//     sampled (no RTC, NTP not reached yet), so ts may be off by hours or days;
//     2 = taken unsynced and re-stamped from its boot time once the clock
//     synced (as good as a synced ts); 4 = ts is implausible (before the
//     build date, or over an hour ahead of a synced clock): the value is
//     sent, its date is not to be trusted; 8 = a per-minute aggregate the
//     buffer wrote in place of raw readings during a long outage (see
//     "thinned"). See reading.Flags.
//   - "thinned" appears only when non-zero: how many of the batch's readings
//     carry flag 8. The seqs of the raw readings they replaced are part of
//     the range but are neither readings nor "dropped".
//   - "severity" appears only on an alarm's reading (alarm.<rule>, 1
//     raised, 0 cleared): the rule's severity, info, warning or critical.
//   - "tags" appears only when the stream has tags: an object of the
//     stream's static tags (site, customer ...), keys sorted.
//   - value is a JSON number written like encoding/json writes a float64
//     (shortest form that round-trips; exponent form below 1e-6 and from 1e21).
//     NaN and ±Inf cannot be written as JSON numbers; the sampler rejects them,
//     and should one slip through it is written as null rather than produce
//     a document the backend cannot parse.
//
// The document is written by hand with strconv appends instead of
// encoding/json: reflection over a thousand readings dominated the drain of a
// backlog (see BenchmarkJSON and the uplink's BenchmarkDrain).
type JSON struct{}

func init() { Register("json", JSON{}) }

// ContentType implements Formatter.
func (JSON) ContentType() string { return "application/json" }

// scratch buffers for Format; AppendFormat callers bring their own.
var jsonPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Format implements Formatter. The returned slice is the caller's; the
// document is built in a pooled buffer and copied out at its exact size.
func (f JSON) Format(b *Batch) ([]byte, error) {
	bp := jsonPool.Get().(*[]byte)
	buf, err := f.AppendFormat((*bp)[:0], b)
	out := make([]byte, len(buf))
	copy(out, buf)
	if cap(buf) <= 4<<20 { // do not pin a huge buffer in the pool after an odd batch
		*bp = buf
		jsonPool.Put(bp)
	}
	return out, err
}

// AppendFormat appends the document for b to dst and returns the extended
// buffer. The uplink uses it to reuse payload buffers once the broker has
// acknowledged them.
func (JSON) AppendFormat(dst []byte, b *Batch) ([]byte, error) {
	if n := 160 + 112*len(b.Readings); cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, `{"device":`...)
	dst = appendJSONString(dst, b.Device)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, b.Stream)
	dst = append(dst, `,"first_seq":`...)
	dst = strconv.AppendUint(dst, b.FirstSeq, 10)
	dst = append(dst, `,"last_seq":`...)
	dst = strconv.AppendUint(dst, b.LastSeq, 10)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, int64(len(b.Readings)), 10)
	dst = append(dst, `,"dropped":`...)
	dst = strconv.AppendUint(dst, b.Dropped, 10)
	if b.Thinned > 0 {
		dst = append(dst, `,"thinned":`...)
		dst = strconv.AppendUint(dst, b.Thinned, 10)
	}
	if b.Aggregate != "" {
		dst = append(dst, `,"aggregate":`...)
		dst = appendJSONString(dst, b.Aggregate)
	}
	if len(b.Tags) > 0 {
		dst = append(dst, `,"tags":`...)
		dst = appendJSONTags(dst, b.Tags)
	}
	dst = append(dst, `,"readings":[`...)
	var tc timeCache
	for i := range b.Readings {
		r := &b.Readings[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendUint(dst, r.Seq, 10)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, r.Name)
		dst = append(dst, `,"ts":"`...)
		dst = tc.append(dst, r.Time)
		dst = append(dst, `","value":`...)
		dst = appendJSONFloat(dst, r.Value)
		dst = append(dst, `,"unit":`...)
		dst = appendJSONString(dst, r.Unit)
		if r.Flags != 0 {
			dst = append(dst, `,"flags":`...)
			dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
		}
		if b.Severity != nil {
			if sv := b.Severity(r.Name); sv != "" {
				dst = append(dst, `,"severity":`...)
				dst = appendJSONString(dst, sv)
			}
		}
		dst = append(dst, '}')
	}
	dst = append(dst, "]}"...)
	return dst, nil
}

// appendJSONTags writes tags as a JSON object with sorted keys, so the
// same tags always make the same bytes.
func appendJSONTags(dst []byte, tags map[string]string) []byte {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, tags[k])
	}
	return append(dst, '}')
}

// appendJSONFloat writes v as encoding/json does, and null for NaN/±Inf.
func appendJSONFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(v)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	dst = strconv.AppendFloat(dst, v, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// timeCache remembers the "2006-01-02T15:04:05." prefix of the last second
// written: readings of one batch share seconds, and calendar arithmetic was
// a quarter of the encoding time.
type timeCache struct {
	sec    int64
	ok     bool
	prefix [20]byte
}

func (c *timeCache) append(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if !c.ok || sec != c.sec {
		var full [32]byte
		p := appendTimeMilli(full[:0], t)
		if len(p) != len("2006-01-02T15:04:05.000Z") {
			return append(dst, p...) // outside years 0..9999: no cache
		}
		copy(c.prefix[:], p)
		c.sec, c.ok = sec, true
	}
	ms := t.Nanosecond() / 1e6
	dst = append(dst, c.prefix[:]...)
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendTimeMilli writes t in UTC as 2006-01-02T15:04:05.000Z without the
// generic layout interpreter; years outside 0..9999 fall back to it.
func appendTimeMilli(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeRFC3339Milli)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Series names are plain ASCII
// and take the fast path; units ("°C") and device ids are escaped as
// needed. Invalid UTF-8 becomes U+FFFD so the document stays valid, and
// U+2028/U+2029 are escaped like encoding/json does for JavaScript readers.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Make sure the flag documented above stays the one the reading package defines.
var _ = [1]struct{}{}[reading.ClockUnsynced-1]
