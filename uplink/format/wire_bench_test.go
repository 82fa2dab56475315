package format

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/packed"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/sim"
)

// The bytes-on-the-wire figures of the uplink issue: the reference site of
// shared/reference-site.toml (40 sim series at 10 s, one day = 345,600
// readings, published by one stream "raw" every 15 min) in every format and
// compression, per reading and per day, without and with MQTT's own bytes.
//
//	go test ./uplink/format -run '^$' -bench WireBytes -benchtime 1x -v
//
// (-v shows the summary table; without it, the per-row metrics only.)
//
// refSite mirrors reference-site.toml's waveform and resolution for each
// sensor. The file leaves the sim's amplitude at 1; these are the ranges a
// real mini-grid box reads, and the noise a real sensor adds in its last
// digits, because a format's size depends on how much the values move.
var refSite = []struct {
	name, waveform string
	res            float64
	amp, offset    float64
	period         time.Duration // 0: the waveform's default
	noise          float64
	unit           string
}{
	{"pv1_power", sim.Solar, 0.1, 5000, 0, 0, 2, "W"},
	{"pv2_power", sim.Solar, 0.1, 4000, 0, 0, 2, "W"},
	{"pv1_voltage", sim.Solar, 0.01, 380, 0, 0, 0.2, "V"},
	{"pv2_voltage", sim.Solar, 0.01, 360, 0, 0, 0.2, "V"},
	{"pv1_current", sim.Solar, 0.001, 13, 0, 0, 0.01, "A"},
	{"pv2_current", sim.Solar, 0.001, 11, 0, 0, 0.01, "A"},
	{"irradiance", sim.Solar, 1, 1000, 0, 0, 2, "W/m2"},
	{"module_temp", sim.Sine, 0.01, 20, 35, 24 * time.Hour, 0.05, "°C"},
	{"battery_voltage", sim.Sine, 0.001, 4, 52, 24 * time.Hour, 0.01, "V"},
	{"battery_current", sim.RandomWalk, 0.001, 50, 0, 0, 0.02, "A"},
	{"battery_temp", sim.Sine, 0.01, 5, 25, 24 * time.Hour, 0.02, "°C"},
	{"battery_soc", sim.Ramp, 0.1, 70, 20, 24 * time.Hour, 0, "%"},
	{"load1_power", sim.RandomWalk, 0.1, 400, 500, 0, 1, "W"},
	{"load2_power", sim.RandomWalk, 0.1, 250, 300, 0, 1, "W"},
	{"load3_power", sim.RandomWalk, 0.1, 150, 200, 0, 1, "W"},
	{"load1_energy", sim.Counter, 1, 1.4, 0, 0, 0, "Wh"},
	{"load2_energy", sim.Counter, 1, 0.8, 0, 0, 0, "Wh"},
	{"load3_energy", sim.Counter, 1, 0.5, 0, 0, 0, "Wh"},
	{"inverter_temp", sim.Sine, 0.01, 10, 40, 24 * time.Hour, 0.05, "°C"},
	{"inverter_freq", sim.RandomWalk, 0.01, 0.2, 50, 0, 0.01, "Hz"},
	{"grid_voltage_l1", sim.RandomWalk, 0.1, 10, 230, 0, 0.3, "V"},
	{"grid_voltage_l2", sim.RandomWalk, 0.1, 10, 230, 0, 0.3, "V"},
	{"grid_voltage_l3", sim.RandomWalk, 0.1, 10, 230, 0, 0.3, "V"},
	{"grid_current_l1", sim.RandomWalk, 0.01, 8, 10, 0, 0.05, "A"},
	{"grid_current_l2", sim.RandomWalk, 0.01, 8, 10, 0, 0.05, "A"},
	{"grid_current_l3", sim.RandomWalk, 0.01, 8, 10, 0, 0.05, "A"},
	{"ambient_temp", sim.Sine, 0.01, 8, 28, 24 * time.Hour, 0.02, "°C"},
	{"ambient_humidity", sim.Sine, 0.1, 20, 60, 24 * time.Hour, 0.2, "%"},
	{"ambient_pressure", sim.Sine, 0.1, 3, 1010, 24 * time.Hour, 0.1, "hPa"},
	{"enclosure_temp", sim.Sine, 0.01, 10, 35, 24 * time.Hour, 0.02, "°C"},
	{"water_flow", sim.RandomWalk, 0.01, 2, 2, 0, 0.02, "L/min"},
	{"water_total", sim.Counter, 1, 0.5, 0, 0, 0, "L"},
	{"tank_level", sim.Ramp, 0.1, 80, 10, 24 * time.Hour, 0.1, "%"},
	{"pump_power", sim.RandomWalk, 0.1, 250, 750, 0, 2, "W"},
	{"fridge_temp", sim.Sine, 0.01, 1.5, 5, time.Hour, 0.02, "°C"}, // compressor cycle
	{"door_open", sim.Counter, 1, 1, 0, 10 * time.Minute, 0, ""},
	{"cpu_temp", sim.Sine, 0.1, 8, 55, 24 * time.Hour, 0.5, "°C"},
	{"rssi", sim.RandomWalk, 1, 10, -85, 0, 1, "dBm"},
	{"wind_speed", sim.RandomWalk, 0.1, 5, 5, 0, 0.3, "m/s"},
	{"rain_total", sim.Counter, 0.2, 0.2, 0, 30 * time.Minute, 0, "mm"},
}

const (
	refInterval = 10 * time.Second
	refPeriod   = 15 * time.Minute // the raw stream's period
	refDevice   = "ref-site"
	refStream   = "raw"
)

// refDayStart: the json contract's example day; the sim's sun is up from
// 06:00 to 18:00 UTC.
var refDayStart = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// referenceDay reads the reference site's sensors for one day, slot by
// slot, as the sampler does. With shuffle, each slot's readings land in a
// random order, as they do on a box: the sampler reads every sensor in its
// own goroutine, and a 40-sensor run of the real sampler showed a different
// order in every slot. Seqs are consecutive from 1 either way.
func referenceDay(tb testing.TB, shuffle bool) []reading.Reading {
	var sensorsList []*sim.Sensor
	for _, s := range refSite {
		o := sim.DefaultOptions()
		o.Waveform, o.Resolution, o.Amplitude, o.Offset = s.waveform, s.res, s.amp, s.offset
		o.Period, o.Noise, o.Unit = config.D(s.period), s.noise, s.unit
		sn, err := sim.New(s.name, &o)
		if err != nil {
			tb.Fatalf("sim %s: %v", s.name, err)
		}
		sensorsList = append(sensorsList, sn)
	}
	slotsPerDay := int(24 * time.Hour / refInterval)
	rs := make([]reading.Reading, 0, slotsPerDay*len(refSite))
	rng := rand.New(rand.NewPCG(2026, 11))
	ctx := context.Background()
	for k := range slotsPerDay {
		at := refDayStart.Add(time.Duration(k) * refInterval)
		sctx := sensors.WithSlot(ctx, at)
		start := len(rs)
		for i, sn := range sensorsList {
			vals, err := sn.Read(sctx)
			if err != nil {
				tb.Fatal(err)
			}
			for _, v := range vals {
				rs = append(rs, reading.Reading{Name: sensors.SeriesName(refSite[i].name, v.Field), Time: at, Value: v.Value, Unit: v.Unit})
			}
		}
		if shuffle {
			slot := rs[start:]
			rng.Shuffle(len(slot), func(a, b int) { slot[a], slot[b] = slot[b], slot[a] })
		}
	}
	for i := range rs {
		rs[i].Seq = uint64(i + 1)
	}
	return rs
}

var refDays = struct {
	once     [2]sync.Once
	readings [2][]reading.Reading
}{}

// refDay caches referenceDay: the sim's random walks make it a second's work.
func refDay(tb testing.TB, shuffle bool) []reading.Reading {
	i := 0
	if shuffle {
		i = 1
	}
	refDays.once[i].Do(func() { refDays.readings[i] = referenceDay(tb, shuffle) })
	if refDays.readings[i] == nil {
		tb.Fatal("reference day failed in an earlier test")
	}
	return refDays.readings[i]
}

// refBatches cuts a day into the stream's batches: every period, or every
// maxBatch readings when that is smaller (the stream's max_batch).
func refBatches(rs []reading.Reading, maxBatch int) []*Batch {
	per := int(refPeriod/refInterval) * len(refSite)
	per = min(per, maxBatch)
	var bs []*Batch
	for i := 0; i < len(rs); i += per {
		part := rs[i:min(i+per, len(rs))]
		bs = append(bs, &Batch{Device: refDevice, Stream: refStream,
			FirstSeq: part[0].Seq, LastSeq: part[len(part)-1].Seq, Readings: part})
	}
	return bs
}

// mqttOverhead is what MQTT 3.1.1 adds to one QoS 1 batch: the PUBLISH fixed
// header (1 byte + the remaining length's 1-4 bytes), the topic with its
// 2-byte length, the 2-byte packet id, and the broker's 4-byte PUBACK, which
// the metered link carries too. TCP/IP and TLS framing are not counted.
func mqttOverhead(topic string, payload int) int {
	rem := 2 + len(topic) + 2 + payload
	lenBytes := 1
	for rem >= 128 {
		rem >>= 7
		lenBytes++
	}
	return 1 + lenBytes + 2 + len(topic) + 2 + 4
}

func refTopic(compress string) string {
	t := "karana/" + refDevice + "/data/" + refStream
	if level := CompressTopicLevel(compress); level != "" {
		t += "/" + level
	}
	return t
}

// wireFigure is one row of the table.
type wireFigure struct {
	format, compress string
	readings         int
	batches          int
	payload, mqtt    int // bytes for the day
}

func (w wireFigure) perReading() float64     { return float64(w.payload) / float64(w.readings) }
func (w wireFigure) perReadingMQTT() float64 { return float64(w.payload+w.mqtt) / float64(w.readings) }

// measureWire formats and compresses every batch and counts the bytes.
func measureWire(tb testing.TB, f Formatter, name, compress string, bs []*Batch) wireFigure {
	fig := wireFigure{format: name, compress: compress, batches: len(bs)}
	topic := refTopic(compress)
	var buf []byte
	for _, b := range bs {
		p, err := f.Format(b)
		if err != nil {
			tb.Fatalf("%s: batch %d..%d: %v", name, b.FirstSeq, b.LastSeq, err)
		}
		buf, err = AppendCompressed(compress, buf[:0], p)
		if err != nil {
			tb.Fatal(err)
		}
		fig.readings += len(b.Readings)
		fig.payload += len(buf)
		fig.mqtt += mqttOverhead(topic, len(buf))
	}
	return fig
}

// wireFormats lists the registered formats that need no per-stream options
// (template and exec need a template or a command: their size is whatever
// the operator writes).
func wireFormats() []string {
	var names []string
	for _, n := range Names() {
		if strings.HasPrefix(n, "test-") {
			continue // registered by a test
		}
		if _, err := Configure(n, nil, nil); err == nil {
			names = append(names, n)
		}
	}
	return names
}

func wireTable(figs []wireFigure) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-24s %-9s %10s %14s %12s %16s\n", "format", "compress", "B/reading", "B/reading+MQTT", "B/day", "B/day+MQTT")
	for _, f := range figs {
		fmt.Fprintf(&sb, "%-24s %-9s %10.3f %14.3f %12d %16d\n", f.format, f.compress, f.perReading(), f.perReadingMQTT(), f.payload, f.payload+f.mqtt)
	}
	return sb.String()
}

// BenchmarkWireBytes reports, per format and compression, the bytes of one
// reference-site day (readings in the sampler's real, shuffled order, 15 min
// batches of 3,600 readings): B/reading and B/day of payload, and the same
// with MQTT's overhead. The parent logs the whole table. The packed rows
// marked "stable order" and "max_batch=1000" show what the slot order and
// the stream's default max_batch (1000: a 15 min period then goes out as
// four batches) cost.
func BenchmarkWireBytes(b *testing.B) {
	day := refDay(b, true)
	bs := refBatches(day, 1<<30)
	var figs []wireFigure
	for _, name := range wireFormats() {
		f, _ := Configure(name, nil, nil)
		for _, c := range Compressions() {
			b.Run("format="+name+"/compress="+c, func(b *testing.B) {
				var fig wireFigure
				for b.Loop() {
					fig = measureWire(b, f, name, c, bs)
				}
				report(b, fig)
				figs = append(figs, fig)
			})
		}
	}
	p, _ := Lookup("packed")
	for _, v := range []struct {
		label   string
		shuffle bool
		max     int
	}{{"stable order", false, 1 << 30}, {"max_batch=1000", true, 1000}} {
		for _, c := range Compressions() {
			b.Run("format=packed/"+strings.ReplaceAll(v.label, " ", "_")+"/compress="+c, func(b *testing.B) {
				vbs := refBatches(refDay(b, v.shuffle), v.max)
				var fig wireFigure
				for b.Loop() {
					fig = measureWire(b, p, "packed", c, vbs)
				}
				report(b, fig)
				fig.format = "packed (" + v.label + ")"
				figs = append(figs, fig)
			})
		}
	}
	b.Log(wireTable(figs))
}

func report(b *testing.B, fig wireFigure) {
	b.ReportMetric(fig.perReading(), "B/reading")
	b.ReportMetric(fig.perReadingMQTT(), "B/reading+mqtt")
	b.ReportMetric(float64(fig.payload), "B/day")
	b.ReportMetric(float64(fig.payload+fig.mqtt), "B/day+mqtt")
	b.ReportMetric(0, "ns/op") // the figure is bytes, not time
}

// TestWirePackedUnderTwoBytes holds the target: packed + zstd under
// 2 bytes a reading on the wire, MQTT included, for the reference day in the
// sampler's real order. It logs the packed rows of the table.
func TestWirePackedUnderTwoBytes(t *testing.T) {
	bs := refBatches(refDay(t, true), 1<<30)
	if len(bs) != 96 || len(refSite) != 40 {
		t.Fatalf("reference day: %d batches of %d series, want 96 of 40", len(bs), len(refSite))
	}
	p, _ := Lookup("packed")
	var figs []wireFigure
	for _, c := range Compressions() {
		figs = append(figs, measureWire(t, p, "packed", c, bs))
	}
	t.Log(wireTable(figs))
	if figs[0].readings != 345_600 {
		t.Fatalf("%d readings in the day, want 345,600", figs[0].readings)
	}
	for _, f := range figs {
		if f.compress == CompressZstd && f.perReadingMQTT() >= 2 {
			t.Errorf("packed+zstd: %.3f B/reading with MQTT, want under 2", f.perReadingMQTT())
		}
	}
}

// BenchmarkPackedSpeed encodes and decodes one 15 min reference batch
// (3,600 readings in the sampler's order), reporting readings/s: the Pi
// pays the encode once per batch, a backend the decode.
//
//	go test ./uplink/format -run '^$' -bench PackedSpeed
func BenchmarkPackedSpeed(b *testing.B) {
	batch := refBatches(refDay(b, true), 1<<30)[48] // noon: the sun and clouds move
	p, err := Packed{}.Format(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = Packed{}.AppendFormat(buf[:0], batch)
		}
		b.ReportMetric(float64(len(batch.Readings))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := packed.Decode(p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(batch.Readings))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("json-encode", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = JSON{}.AppendFormat(buf[:0], batch)
		}
		b.ReportMetric(float64(len(batch.Readings))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	})
}
