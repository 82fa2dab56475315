package packed

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// roundTrip encodes b, decodes the payload and fails unless every field of
// every reading comes back: seq, name, unit, flags, the instant, and the
// value's exact bits (NaN payloads, -0 included).
func roundTrip(t *testing.T, b *Batch) []byte {
	t.Helper()
	payload, err := Encode(b)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	got, err := Decode(payload)
	if err != nil {
		t.Fatalf("decode %d bytes: %v", len(payload), err)
	}
	sameBatch(t, got, b)
	return payload
}

func sameBatch(t *testing.T, got, want *Batch) {
	t.Helper()
	if got.Device != want.Device || got.Stream != want.Stream || got.FirstSeq != want.FirstSeq ||
		got.LastSeq != want.LastSeq || got.Dropped != want.Dropped || len(got.Readings) != len(want.Readings) {
		t.Fatalf("header: got %q %q %d..%d dropped %d, %d readings; want %q %q %d..%d dropped %d, %d readings",
			got.Device, got.Stream, got.FirstSeq, got.LastSeq, got.Dropped, len(got.Readings),
			want.Device, want.Stream, want.FirstSeq, want.LastSeq, want.Dropped, len(want.Readings))
	}
	sameTags(t, got.Tags, want.Tags)
	sameReadings(t, got.Readings, want.Readings)
}

func sameTags(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("tags: got %v, want %v", got, want)
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Fatalf("tags: got %v, want %v", got, want)
		}
	}
}

// sameReadings compares readings of equal number, which sameBatch checked.
func sameReadings(t *testing.T, got, want []reading.Reading) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Name != w.Name || g.Unit != w.Unit || g.Flags != w.Flags ||
			!g.Time.Equal(w.Time) || g.Time.IsZero() != w.Time.IsZero() ||
			math.Float64bits(g.Value) != math.Float64bits(w.Value) {
			t.Fatalf("reading %d:\n got %+v (value bits %#x)\nwant %+v (value bits %#x)",
				i, g, math.Float64bits(g.Value), w, math.Float64bits(w.Value))
		}
		if !g.Time.IsZero() && g.Time.Location() != time.UTC {
			t.Fatalf("reading %d: time in %v, want UTC", i, g.Time.Location())
		}
	}
}

var t0 = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)

// slots builds readings the way the sampler does: every series read on
// each 10 s slot, seqs consecutive in the order the reads land.
func slots(names []string, nslots int, value func(series, slot int) float64) []reading.Reading {
	var rs []reading.Reading
	seq := uint64(1000)
	for k := range nslots {
		for s, n := range names {
			rs = append(rs, reading.Reading{Seq: seq, Name: n, Time: t0.Add(time.Duration(k) * 10 * time.Second),
				Value: value(s, k), Unit: "V"})
			seq++
		}
	}
	return rs
}

func TestRoundTripShapes(t *testing.T) {
	one := reading.Reading{Seq: 7, Name: "battery.voltage", Time: t0.Add(123456789), Value: 12.625, Unit: "V"}
	for name, b := range map[string]*Batch{
		"empty":                  {Device: "site-042", Stream: "raw", FirstSeq: 5, LastSeq: 9},
		"empty with drops":       {Device: "site-042", Stream: "raw", FirstSeq: 5, LastSeq: 9, Dropped: 5},
		"no device":              {FirstSeq: 0, LastSeq: 0, Readings: []reading.Reading{one}},
		"single reading":         {Device: "d", Stream: "s", FirstSeq: 7, LastSeq: 7, Readings: []reading.Reading{one}},
		"single, seq far ahead":  {Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 7, Readings: []reading.Reading{one}},
		"seq 0 (not buffered)":   {Readings: []reading.Reading{{Name: "x", Time: t0}, {Name: "y", Time: t0}}},
		"max seq":                {FirstSeq: math.MaxUint64, LastSeq: math.MaxUint64, Readings: []reading.Reading{{Seq: math.MaxUint64, Name: "x", Time: t0}}},
		"zero time":              {Readings: []reading.Reading{{Seq: 1, Name: "x"}, {Seq: 2, Name: "x", Time: t0}, {Seq: 3, Name: "x"}}},
		"time limits":            {Readings: []reading.Reading{{Seq: 1, Name: "x", Time: minTime}, {Seq: 2, Name: "x", Time: maxTime}, {Seq: 3, Name: "x", Time: minTime}}},
		"series of one reading":  {Readings: append(slots([]string{"a", "b"}, 3, func(s, k int) float64 { return float64(k) }), reading.Reading{Seq: 2000, Name: "c", Time: t0, Value: 1.5})},
		"unsorted timestamps":    {Readings: []reading.Reading{{Seq: 1, Name: "x", Time: t0.Add(time.Hour)}, {Seq: 2, Name: "x", Time: t0}, {Seq: 3, Name: "x", Time: t0.Add(-time.Hour)}, {Seq: 4, Name: "x", Time: t0.Add(time.Nanosecond)}}},
		"unsorted and dup seqs":  {FirstSeq: 10, LastSeq: 20, Readings: []reading.Reading{{Seq: 20, Name: "x", Time: t0}, {Seq: 10, Name: "y", Time: t0}, {Seq: 10, Name: "x", Time: t0}, {Seq: 15, Name: "x", Time: t0}}},
		"same name, other units": {Readings: []reading.Reading{{Seq: 1, Name: "x", Unit: "V", Time: t0, Value: 1}, {Seq: 2, Name: "x", Unit: "mV", Time: t0, Value: 1000}, {Seq: 3, Name: "x", Unit: "V", Time: t0, Value: 2}}},
		"odd strings":            {Device: "dévice\x00\xff", Stream: strings.Repeat("s", 300), Readings: []reading.Reading{{Seq: 1, Name: "°C\n\"", Unit: "m³/h", Time: t0}}},
		"clock unsynced then synced": {Readings: func() []reading.Reading {
			rs := slots([]string{"a", "b", "c"}, 20, func(s, k int) float64 { return float64(s*k) / 10 })
			for i := range rs[:25] {
				rs[i].Flags = reading.ClockUnsynced
				rs[i].Time = time.Unix(0, 0).Add(time.Duration(i/3) * 10 * time.Second)
			}
			rs[40].Flags = 0xff // flags this version does not know yet travel too
			return rs
		}()},
		"tags":              {Device: "d", Tags: map[string]string{"site": "Kisumu 3", "customer": "acme", "": "empty key", "z": ""}, Readings: []reading.Reading{one}},
		"tags, empty batch": {Dropped: 3, Tags: map[string]string{"site": "x"}},
		"shuffled slots":    {FirstSeq: 1000, Readings: shuffled(slots(names(40), 30, func(s, k int) float64 { return float64(s + k) }), 40, 1)},
		"aligned slots": {FirstSeq: 1000, LastSeq: 1000 + 40*90 - 1, Readings: slots(names(40), 90, func(s, k int) float64 {
			return math.Round(100*(20+float64(s)+math.Sin(float64(k)/10))) / 100
		})},
	} {
		t.Run(name, func(t *testing.T) { roundTrip(t, b) })
	}
}

// shuffled permutes each run of per readings (a slot), renumbering the seqs
// so they stay consecutive: how the sampler's goroutines land in the buffer.
func shuffled(rs []reading.Reading, per int, seed uint64) []reading.Reading {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := append([]reading.Reading(nil), rs...)
	for i := 0; i < len(out); i += per {
		slot := out[i:min(i+per, len(out))]
		rng.Shuffle(len(slot), func(a, b int) { slot[a], slot[b] = slot[b], slot[a] })
	}
	for i := range out {
		out[i].Seq = rs[i].Seq
	}
	return out
}

func names(n int) []string {
	var ns []string
	for i := range n {
		ns = append(ns, fmt.Sprintf("sensor%d.value", i))
	}
	return ns
}

func TestRoundTripValues(t *testing.T) {
	negZero := math.Copysign(0, -1)
	nanPayload := math.Float64frombits(0x7ff8_dead_beef_0001)
	for name, vals := range map[string][]float64{
		"non-finite":                  {math.NaN(), math.Inf(1), math.Inf(-1), nanPayload, 1, math.NaN()},
		"negative zero":               {0, negZero, 0, negZero},
		"negative zero amid decimals": {20.15, negZero, 20.17},
		"huge":                        {math.MaxFloat64, -math.MaxFloat64, 1e300, 1e21, 1e22, 1e23},
		"tiny":                        {math.SmallestNonzeroFloat64, 5e-324, -2.5e-300, 1e-7, 1e-20, 1.5e-20},
		"2^53 edge":                   {1 << 53, 1<<53 + 2, -(1 << 53), 9007199254740993, 1<<53 - 1},
		"negative decimals":           {-0.1, -12.345, -1e-6, -48.001, 3.5},
		"counter":                     {12745123, 12745124, 12745124, 12745127, 12745130},
		"rain at 0.2":                 {1234.2, 1234.4, 1234.4, 1235.0, 1235.2},
		"int64 extremes":              {-9.223372036854775808e18, 9.223372036854775807e18, 0},
		"not decimal":                 {0.30000000000000004, 0.1 + 0.2, 1.0 / 3},
		"decimal then swing":          {1e15, -1e15, 1e15, -1e15},
		"alternating huge int":        {4503599627370496, -4503599627370496, 4503599627370496},
	} {
		t.Run(name, func(t *testing.T) {
			var rs []reading.Reading
			for i, v := range vals {
				rs = append(rs, reading.Reading{Seq: uint64(i + 1), Name: "x", Time: t0.Add(time.Duration(i) * time.Second), Value: v})
			}
			roundTrip(t, &Batch{Readings: rs})
		})
	}
}

// TestRoundTripRandom throws random batches at the codec: random series,
// seqs in and out of order, times of every precision, and values from
// random bits, random decimals at random resolutions, and smooth curves.
func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for iter := range 400 {
		n := rng.IntN(300)
		if iter%50 == 0 {
			n = rng.IntN(5000)
		}
		nser := 1 + rng.IntN(50)
		kinds := make([]int, nser)
		for s := range kinds {
			kinds[s] = rng.IntN(6)
		}
		seqMode, tsMode := rng.IntN(4), rng.IntN(5)
		b := &Batch{Device: fmt.Sprint("dev", iter), Stream: "s", FirstSeq: rng.Uint64(), Dropped: rng.Uint64N(3)}
		seq := b.FirstSeq
		var rs []reading.Reading
		for i := range n {
			s := i % nser
			if seqMode >= 2 {
				s = rng.IntN(nser)
			}
			seq = randomSeq(rng, seqMode, seq)
			ts := randomTime(rng, tsMode, time.Duration(i/nser)*10*time.Second)
			v := randomValue(rng, kinds[s], i)
			var f reading.Flags
			if tsMode == 3 && i < n/2 {
				f = reading.ClockUnsynced
			}
			rs = append(rs, reading.Reading{Seq: seq, Name: fmt.Sprintf("s%d.v", s), Unit: []string{"", "V", "°C"}[s%3], Time: ts, Value: v, Flags: f})
		}
		b.Readings = rs
		b.LastSeq = seq
		roundTrip(t, b)
	}
}

// randomSeq is the seq after seq: the next (modes 0, 2), a jump ahead (1),
// or anything (3).
func randomSeq(rng *rand.Rand, mode int, seq uint64) uint64 {
	switch mode {
	case 0, 2:
		seq++
	case 1:
		seq += 1 + rng.Uint64N(40)
	case 3:
		seq = rng.Uint64()
	}
	return seq
}

// randomTime is a reading's time in a slot: aligned, jittered by up to a
// second, any instant, before NTP, or running backwards.
func randomTime(rng *rand.Rand, mode int, slot time.Duration) time.Time {
	switch mode {
	case 0:
		return t0.Add(slot)
	case 1:
		return t0.Add(slot + time.Duration(rng.IntN(1000))*time.Millisecond)
	case 2:
		return time.Unix(0, rng.Int64())
	case 3:
		return time.Unix(0, 0).Add(slot) // before NTP
	case 4:
		return t0.Add(-slot + time.Duration(rng.Int64N(1e9)))
	}
	return time.Time{}
}

// randomValue is reading i's value in a series of the given kind: random
// bits, a random decimal, a smooth curve, noise, a counter, or an integer
// beyond 2^53.
func randomValue(rng *rand.Rand, kind, i int) float64 {
	switch kind {
	case 0:
		return math.Float64frombits(rng.Uint64())
	case 1:
		dec := rng.IntN(7)
		return float64(rng.Int64N(2_000_000)-1_000_000) / pow10[dec]
	case 2:
		return math.Round(1000*(50+10*math.Sin(float64(i)/100))) / 1000
	case 3:
		return rng.NormFloat64() * 1e3
	case 4:
		return float64(i / 7)
	case 5:
		return float64(rng.Int64()) // beyond 2^53
	}
	return 0
}

func TestDecimalsFindsResolution(t *testing.T) {
	for _, tc := range []struct {
		vals []float64
		dec  int
		ok   bool
	}{
		{[]float64{20.15, 20.17, 19.9}, 2, true},
		{[]float64{0.1, 0.2, 0.3}, 1, true},
		{[]float64{48.001, 52}, 3, true},
		{[]float64{12745123, 0, -5}, 0, true},
		{[]float64{1e-6, 2.5e-6}, 7, true},
		{[]float64{1e21}, 0, false},
		{[]float64{0.30000000000000004}, 0, false},
		{[]float64{1, math.NaN()}, 0, false},
		{[]float64{1, math.Inf(1)}, 0, false},
		{[]float64{1, math.Copysign(0, -1)}, 0, false},
	} {
		dec, ok := decimals(tc.vals)
		if dec != tc.dec || ok != tc.ok {
			t.Errorf("decimals(%v) = %d, %v; want %d, %v", tc.vals, dec, ok, tc.dec, tc.ok)
		}
	}
}

// TestCompactness pins down the costs the format is built around, in bytes,
// so that a change that loses them shows up here and not only in the
// benchmark: aligned slots and a stable read order cost nothing per reading,
// a constant series costs nothing per reading, and a 0.01 °C curve costs a
// few bits.
func TestCompactness(t *testing.T) {
	ns := names(40)
	constant := slots(ns, 90, func(s, k int) float64 { return float64(s) })
	p := roundTrip(t, &Batch{Device: "ref-site", Stream: "raw", FirstSeq: 1000, LastSeq: 1000 + 3599, Readings: constant})
	if len(p) > 40*24 {
		t.Errorf("3600 constant readings on aligned slots in stable order: %d bytes, want at most %d (the series table alone)", len(p), 40*24)
	}

	// one reading late by a millisecond, one out of order: the rest stay free
	late := append([]reading.Reading(nil), constant...)
	late[1234].Time = late[1234].Time.Add(time.Millisecond)
	late[2000], late[2001] = late[2001], late[2000]
	q := roundTrip(t, &Batch{Device: "ref-site", Stream: "raw", FirstSeq: 1000, LastSeq: 1000 + 3599, Readings: late})
	if len(q) > len(p)+40 {
		t.Errorf("a late and a swapped reading grew the payload from %d to %d bytes", len(p), len(q))
	}

	// the sampler's real order: each slot's 40 readings in a random order.
	// log2(41!)/40 = 4.15 bits a reading is what the order costs
	sh := roundTrip(t, &Batch{Device: "ref-site", Stream: "raw", FirstSeq: 1000, LastSeq: 1000 + 3599, Readings: shuffled(constant, 40, 3)})
	if bitsPer := float64(8*(len(sh)-len(p))) / 3600; bitsPer > 4.4 {
		t.Errorf("random order within slots costs %.2f bits per reading, want at most 4.4", bitsPer)
	} else {
		t.Logf("random order within slots: %.2f bits per reading", bitsPer)
	}

	curve := slots(ns[:1], 3600, func(s, k int) float64 {
		return math.Round(100*(30+15*math.Sin(2*math.Pi*float64(k)/8640))) / 100
	})
	c := roundTrip(t, &Batch{Readings: curve})
	if bitsPer := float64(8*len(c)) / 3600; bitsPer > 3 {
		t.Errorf("a daily 0.01 °C sine costs %.2f bits per reading, want at most 3", bitsPer)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(&Batch{Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 200,
		Readings: slots([]string{"a", "b.c"}, 100, func(s, k int) float64 { return float64(k*s) / 7 })})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		payload []byte
		is      error
		msg     string
	}{
		"json":          {[]byte(`{"device":"d"}`), ErrNotPacked, `magic "{\"de", want "KP"`},
		"gzip":          {[]byte{0x1f, 0x8b, 8, 0}, ErrNotPacked, "magic"},
		"empty":         {nil, ErrNotPacked, `magic ""`},
		"version 2":     {append([]byte("KP\x02"), good[3:]...), ErrVersion, "version 2 (this decoder reads version 1"},
		"version 0":     {[]byte("KP\x00"), ErrVersion, "version 0"},
		"no version":    {[]byte("KP"), ErrTruncated, "version expected at byte 2 of a 2-byte payload"},
		"trailing byte": {append(append([]byte(nil), good...), 0), ErrCorrupt, "trailing"},
		"header flags":  {append([]byte("KP\x01\x80"), good[4:]...), ErrCorrupt, "unknown header flags"},
		"huge count":    {[]byte("KP\x01\x00\x00\x00\x01\x01\x00\xff\xff\xff\xff\x0f"), ErrCorrupt, "count 4294967295 exceeds"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.payload)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v containing %q", err, tc.is, tc.msg)
			}
		})
	}
	// every proper prefix is an error, never a panic nor a shorter batch
	for n := range len(good) {
		if _, err := Decode(good[:n]); err == nil {
			t.Fatalf("prefix of %d of %d bytes decoded without error", n, len(good))
		} else if n >= 3 && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d bytes: %v, want truncated or corrupt", n, err)
		}
	}
	// every single-bit flip decodes or fails cleanly
	for i := range len(good) * 8 {
		bad := bytes.Clone(good)
		bad[i/8] ^= 1 << (i % 8)
		Decode(bad)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		b   *Batch
		msg string
	}{
		"year 1500": {&Batch{Readings: []reading.Reading{{Seq: 3, Name: "x", Time: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}}},
			"packed: reading 0 (seq 3, x): time 1500-01-01T00:00:00Z is outside the years 1678..2262"},
		"year 3000":   {&Batch{Readings: []reading.Reading{{Name: "x", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}, "outside"},
		"long name":   {&Batch{Readings: []reading.Reading{{Name: strings.Repeat("x", maxString+1), Time: t0}}}, "longer than"},
		"long device": {&Batch{Device: strings.Repeat("x", maxString+1)}, "device name of 65537 bytes"},
		"too many":    {&Batch{Readings: make([]reading.Reading, MaxReadings+1)}, "more than the 262144"},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendEncode(dst, tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tc.msg)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed to %q on error", out)
			}
		})
	}
}

func TestAppendEncodeKeepsPrefix(t *testing.T) {
	b := &Batch{Device: "d", Readings: slots([]string{"a"}, 3, func(s, k int) float64 { return 1 })}
	plain, _ := Encode(b)
	got, err := AppendEncode([]byte("prefix:"), b)
	if err != nil || string(got) != "prefix:"+string(plain) {
		t.Fatalf("got %q, %v", got, err)
	}
}
