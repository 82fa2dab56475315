// Package packed is the "packed" payload of karana-edge: a compact,
// versioned binary batch of readings for metered 2G/3G links, and its
// decoder, for any backend written in Go (others can run
// `karana-edge decode`, which prints JSON lines). On the reference site (40
// series at 10 s, 15 min batches) it takes about 1.2 bytes a reading, zstd
// or not, against 9 for gzipped JSON; see uplink/format's BenchmarkWireBytes.
//
// # What it keeps
//
// Everything, exactly: seq, series name, unit, flags, the time to the
// nanosecond, and the value's float64 bits (NaN payloads, ±Inf and -0
// included), in batch order, plus the batch's device, stream, first_seq,
// last_seq, dropped and tags. Decode(Encode(b)) equals b, with times in UTC.
// Times must lie within int64 nanoseconds (years 1678..2262; the zero time
// is kept as such), which the buffer already guarantees.
//
// # Where the bytes go, and why
//
//   - Readings are grouped per series (name and unit), because a series is
//     predictable and a slot of forty different series is not.
//   - Timestamps: per series, the first, then deltas divided by their GCD,
//     then delta-of-delta; the sampler stamps slot times, so on aligned 10 s
//     slots every residual is 0 and a whole series' timestamps take a few
//     bytes of table and no bits at all.
//   - Values: a sensor delivers a resolution (0.01 °C, 1 mV) and its driver
//     rounds to it, so values are decimals. The encoder finds, per series,
//     the fewest decimal places dec at which every value v is exactly
//     float64(k)/10^dec for an integer k — a correctly rounded division, so
//     the decoder gets the very same bits back — and codes the k as
//     integers: deltas (noisy series, random walks) or delta-of-deltas
//     (smooth curves), whichever is shorter, divided by their GCD (a rain
//     gauge's 0.2 mm steps), Rice-coded with the best parameter, or as runs
//     of zeros (counters that tick now and then). Nothing on the reading
//     says its resolution; inferring it is lossless by construction, and a
//     series where it fails (full-precision floats, NaN, -0) falls back to
//     Gorilla XOR floats.
//   - Order: seqs are an integer sequence (consecutive: free). Which series
//     each reading belongs to is coded against a prediction, see order.go.
//     The sampler's goroutines append each slot's readings in a random
//     order, and that order is information: about 4.2 bits a reading for 40
//     series, two fifths of the payload. Were the readings of a slot committed
//     in a stable order, it would cost nothing.
//   - The series table is sorted by name, names share prefixes and suffixes
//     with the previous one, units are a dictionary, and a series whose
//     reading count or timestamp descriptor equals the previous one's says
//     so in one bit.
//
// # Layout, version 1
//
// Integers are unsigned LEB128 (uvarint) or zigzag (varint) as in
// encoding/binary; strings are a uvarint length and the bytes.
//
//	"KP" 0x01                 magic and version
//	flags byte                bit 0: reading flags table; bit 1: tags; others 0
//	device, stream            strings
//	first_seq, last_seq, dropped, count    uvarints (count <= MaxReadings)
//	[tags]                    uvarint n, then n × (key, value), keys sorted
//	-- the rest only when count > 0 --
//	series count              uvarint
//	order mode                byte: 0 successor, 1 by time (order.go)
//	seqs                      sequence descriptor, x0 relative to first_seq
//	series table              per series, sorted by (name, unit):
//	    head byte             bits 0-5 value kind (0 XOR floats, 1+dec
//	                          decimal integers), bit 6 same count as the
//	                          previous series, bit 7 same timestamp descriptor
//	    name                  uvarint shared prefix, uvarint shared suffix
//	                          (with the previous name), string middle
//	    unit                  uvarint: i > 0 is the i-th unit seen, 0 a new
//	                          unit string follows
//	    [count]               uvarint, unless bit 6
//	    [timestamps]          sequence descriptor of ns since 1970, x0
//	                          relative to the previous series' first, unless bit 7
//	    values                XOR: 8 bytes big-endian float64 bits of the
//	                          first; decimal: sequence descriptor of the k
//	[flag runs]               (uvarint run >= 1, flags byte) until count
//	bit stream, MSB first, zero-padded to a byte:
//	    per series in table order: timestamp residuals, value residuals
//	    (or XOR bits); then seq residuals; then the order bits
//
// A sequence descriptor (intseq.go) of n integers: varint x0; for n >= 2 a
// header byte (bits 0-1 order: 1 delta, 2 delta-of-delta; bits 2-6 e;
// bit 7 all residuals zero), uvarint m with the step g = m·10^e, for order 2
// the varint first delta/g, and unless bit 7 a byte k: Rice parameter in
// bits 0-5, bit 6 for zero-run coding. Arithmetic wraps at 64 bits on both
// sides. The bit codes are in bits.go.
//
// # Versions
//
// A decoder reads exactly its version and says so otherwise (ErrVersion):
// any change to the layout above is a new version byte, and the content
// type ("application/x-karana-packed; v=1") follows it. Decode never
// panics, on any input (FuzzDecode), and bounds what it allocates by
// MaxReadings.
package packed
