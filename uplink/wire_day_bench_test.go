package uplink

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/sim"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// BenchmarkWireDay: what the reference site (shared/reference-site.toml:
// 40 sim series at 10 s, one stream "raw", packed + zstd, period 15 min,
// max_batch 1000) costs on the socket in a day, over TLS to a real
// Mosquitto through a counting relay, with the link dropped once an hour
// (the relay cuts it; the box reconnects and resumes its TLS session),
// remote config on (config/set and cmd/+ subscribed at each connect).
//
//	go test ./uplink -run '^$' -bench WireDay -benchtime 1x -v
//
// Time is compressed, not sampled: the day's 345,600 readings (the
// sampler's values and order, as uplink/format's wire benchmark makes
// them) are fed in 96 quarter-hours; after each one the stream is flushed
// and drains it as its 15 min period would (3,600 readings: batches of
// 1000, 1000, 1000, 600), and every fourth the relay cuts the link. The
// relay's count over each phase gives the kinds: data (batches and their
// PUBACKs), connect/TLS (TCP accept to settled: TLS handshake, CONNECT,
// SUBSCRIBEs, tickets, less the status document), status (the online
// document and its PUBACK at each connect). The keepalive cannot be
// compressed, so it is measured (an idle link at keepalive 1 s, PINGREQ
// and PINGRESP in their TLS records) and multiplied by the pings paho
// sends in a real day: one per keepalive of silence between the 15 min
// publishes. IP and TCP headers are outside any socket's count.
//
// The self-telemetry stream the agent adds by default (every 5 min, ~54
// karana.* series a minute for this site's 40 sensors, in the first
// stream's format: packed + zstd here) is measured apart, on a connection
// of its own, and counted in the total.
func BenchmarkWireDay(b *testing.B) {
	for b.Loop() {
		f := wireDay(b)
		f.telemetry = telemetryDay(b)
		b.ReportMetric(float64(f.telemetry), "telemetry_B/day")
		b.ReportMetric(float64(f.total()), "B/day")
		b.ReportMetric(float64(f.data), "data_B/day")
		b.ReportMetric(float64(f.status), "status_B/day")
		b.ReportMetric(float64(f.keepalive), "keepalive_B/day")
		b.ReportMetric(float64(f.connect), "connect_B/day")
		b.ReportMetric(0, "ns/op")
		b.Log(f)
	}
}

// dayFigure is one day on the socket, by kind.
type dayFigure struct {
	data, status, keepalive, connect int64
	connects                         int
	fullHandshake, resumed           int64 // connect/TLS bytes of the first connect, mean of the others
	pingBytes                        float64
	pings                            int
	keepaliveSetting                 time.Duration
	relay, statusDoc                 int64 // relay's count of the day's sessions; the box's wire_bytes_today
	telemetry                        int64 // the default telemetry stream's batches and PUBACKs
}

func (f dayFigure) total() int64 {
	return f.data + f.telemetry + f.status + f.keepalive + f.connect
}

func (f dayFigure) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nreference site, one day on the socket (TLS 1.3 to Mosquitto, %d connects):\n", f.connects)
	row := func(kind string, n int64, note string) {
		fmt.Fprintf(&sb, "  %-12s %9d B  %5.1f%%  %s\n", kind, n, 100*float64(n)/float64(f.total()), note)
	}
	row("data", f.data, "packed+zstd batches and PUBACKs")
	row("telemetry", f.telemetry, "the agent's default karana.* stream, packed+zstd like the data, every 5 min")
	row("status", f.status, "online document at each connect")
	row("keepalive", f.keepalive, fmt.Sprintf("%d pings at %s, %.0f B each", f.pings, f.keepaliveSetting, f.pingBytes))
	row("connect/TLS", f.connect, fmt.Sprintf("first (full handshake) %d B, resumed %d B each", f.fullHandshake, f.resumed))
	fmt.Fprintf(&sb, "  %-12s %9d B = %.3f MB/day (goal < 1 MB); Telegraf influx over MQTT: ~33.5 MB/day of payload alone\n", "total", f.total(), float64(f.total())/1e6)
	fmt.Fprintf(&sb, "  relay count of the sessions %d B, the box's own wire_bytes_today %d B\n", f.relay, f.statusDoc)
	fmt.Fprintf(&sb, "  keepalive alternatives (pings/day, socket B/day; IP/TCP adds ~3 segments of ~52 B per ping):")
	for _, k := range []time.Duration{20 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 10 * time.Minute} {
		n := pingsPerDay(15*time.Minute, k)
		fmt.Fprintf(&sb, " %s: %d, %.0f;", k, n, f.pingBytes*float64(n))
	}
	sb.WriteString("\n")
	return sb.String()
}

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

// refReadings makes the reference site's day as the sampler reads it:
// slot by slot, each slot's readings shuffled (the sampler's goroutines
// land in any order), seqs from 1.
func refReadings(tb testing.TB) []reading.Reading {
	var list []*sim.Sensor
	for _, s := range refSite {
		o := sim.DefaultOptions()
		o.Waveform, o.Resolution, o.Amplitude, o.Offset = s.waveform, s.res, s.amp, s.offset
		o.Period, o.Noise, o.Unit = config.D(s.period), s.noise, s.unit
		sn, err := sim.New(s.name, &o)
		if err != nil {
			tb.Fatalf("sim %s: %v", s.name, err)
		}
		list = append(list, sn)
	}
	day0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	var rs []reading.Reading
	rng := rand.New(rand.NewPCG(2026, 11))
	for k := range int(24 * time.Hour / (10 * time.Second)) {
		at := day0.Add(time.Duration(k) * 10 * time.Second)
		ctx := sensors.WithSlot(context.Background(), at)
		start := len(rs)
		for i, sn := range list {
			vals, err := sn.Read(ctx)
			if err != nil {
				tb.Fatal(err)
			}
			for _, v := range vals {
				rs = append(rs, reading.Reading{Name: sensors.SeriesName(refSite[i].name, v.Field), Time: at, Value: v.Value, Unit: v.Unit})
			}
		}
		slot := rs[start:]
		rng.Shuffle(len(slot), func(a, b int) { slot[a], slot[b] = slot[b], slot[a] })
	}
	for i := range rs {
		rs[i].Seq = uint64(i + 1)
	}
	return rs
}

// appendReadings commits rs to the source as one group commit.
func (m *memSource) appendReadings(rs []reading.Reading) {
	m.mu.Lock()
	m.rs = append(m.rs, rs...)
	m.next = rs[len(rs)-1].Seq + 1
	subs := m.subs
	m.mu.Unlock()
	for _, c := range subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// settle waits until the relay has been quiet for a moment: the phase's
// last reply is in.
func (r *relay) settle() int64 {
	last, since := r.total(), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		if n := r.total(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

func wireDay(tb testing.TB) dayFigure {
	day := refReadings(tb)
	if len(day) != 345_600 {
		tb.Fatalf("%d readings in the reference day, want 345,600", len(day))
	}
	dir := tb.TempDir()
	m, cfg := tlsMosquitto(tb, dir)
	w := watchStatus(tb, m, dir, "ref-site")
	r := startRelay(tb, m.Addr())
	cfg.Broker = "tls://" + r.addr()
	sc := DefaultStreamConfig()
	// period 1h: the stream sends when flushed, one quarter at a time
	sc.Name, sc.Format, sc.Compress, sc.Period = "raw", "packed", format.CompressZstd, config.D(time.Hour)
	src := newMemSource(1)
	u, err := New(cfg, []StreamConfig{sc}, src, Options{DeviceID: "ref-site", Version: "bench",
		Inbound: func(string, []byte) {}})
	if err != nil {
		tb.Fatal(err)
	}
	runUplink(tb, u)

	f := dayFigure{keepaliveSetting: cfg.Keepalive.Duration}
	const quarter = 3600 // 40 series, 90 slots
	for q := range 96 {
		if q%4 == 0 {
			before := r.total()
			n := u.Stats().Connects
			if q > 0 {
				r.cut()
			}
			waitFor(tb, "a connection", func() bool { return u.Stats().Connects > n && u.Connected() })
			waitFor(tb, "its online status", func() bool { return w.online() == f.connects+1 })
			c := r.settle() - before
			if q == 0 {
				f.fullHandshake = c
			} else {
				f.resumed += c
			}
			f.connect += c
			f.connects++
		}
		before := r.total()
		want := day[(q+1)*quarter-1].Seq
		src.appendReadings(day[q*quarter : (q+1)*quarter])
		u.Flush()
		waitFor(tb, "a quarter drained", func() bool { return src.Cursor("raw") == want })
		f.data += r.settle() - before
	}
	f.resumed /= int64(f.connects - 1)
	// status: each online document's PUBLISH and PUBACK, each in a TLS
	// 1.3 record (5 B header, 1 B content type, 16 B tag), taken out of
	// the connect phase it went out in
	for _, n := range w.onlineSizes() {
		f.status += wireBytes("karana/ref-site/status", n) + 2*(5+1+16)
	}
	f.connect -= f.status
	f.relay = r.total()
	f.statusDoc = u.meter.stats().WireToday
	if err := u.Shutdown(5 * time.Second); err != nil {
		tb.Fatal(err)
	}

	f.pingBytes = measurePing(tb, m, cfg)
	f.pings = pingsPerDay(15*time.Minute, f.keepaliveSetting)
	f.keepalive = int64(f.pingBytes * float64(f.pings))
	return f
}

// measurePing returns the bytes one keepalive exchange costs on the
// socket: an idle TLS link at keepalive 1 s, its bytes over the pings
// the relay saw go up (each PINGREQ is a write of its own).
func measurePing(tb testing.TB, m interface{ Addr() string }, cfg MQTTConfig) float64 {
	r := startRelay(tb, m.Addr())
	cfg.Broker = "tls://" + r.addr()
	cfg.Keepalive = config.D(time.Second)
	u, err := New(cfg, nil, newMemSource(1), Options{DeviceID: "ping-probe"})
	if err != nil {
		tb.Fatal(err)
	}
	runUplink(tb, u)
	waitFor(tb, "the probe's connection", u.Connected)
	r.settle()
	b0, w0, u0 := r.total(), r.upReads.Load(), r.up.Load()
	time.Sleep(5 * time.Second)
	r.settle()
	pings, idle, up := r.upReads.Load()-w0, r.total()-b0, r.up.Load()-u0
	u.Shutdown(2 * time.Second)
	if pings < 3 || up != pings*(2+5+1+16) {
		tb.Fatalf("ping probe: %d B up in %d writes, want %d PINGREQs of 2 B in a TLS 1.3 record each", up, pings, pings)
	}
	return float64(idle) / float64(pings)
}

// pingsPerDay is how many PINGREQs paho sends in a day when the only
// traffic is a publish (and its PUBACK) every period: one each keepalive
// of silence (paho pings once keepalive has passed since the last packet
// sent or received).
func pingsPerDay(period, keepalive time.Duration) int {
	perPeriod := int((period - 1) / keepalive)
	return perPeriod * int(24*time.Hour/period)
}

// telemetryDay is the socket cost of a day of the self-telemetry stream as
// the agent adds it by default (agent/telemetry.go: the first stream's
// format, here the reference site's packed + zstd, period 5 min,
// match karana.*, a sample a minute) for the reference site: the buffer,
// uplink, clock and process fields and one error counter per sensor, with
// plausible values. 288 batches through the relay on one connection.
func telemetryDay(tb testing.TB) int64 {
	dir := tb.TempDir()
	m, cfg := tlsMosquitto(tb, dir)
	r := startRelay(tb, m.Addr())
	cfg.Broker = "tls://" + r.addr()
	sc := DefaultStreamConfig()
	sc.Name, sc.Match, sc.Period = "telemetry", []string{"karana.*"}, config.D(time.Hour)
	sc.Format, sc.Compress = "packed", "zstd"
	src := newMemSource(1)
	u, err := New(cfg, []StreamConfig{sc}, src, Options{DeviceID: "ref-site", Version: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	runUplink(tb, u)
	waitFor(tb, "a connection", u.Connected)
	r.settle()
	day0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	var seq uint64
	before := r.total() // the link carries nothing else for the next seconds: no ping is due
	for p := range 288 {
		var rs []reading.Reading
		for k := range 5 {
			at := day0.Add(time.Duration(p*5+k) * time.Minute)
			i := float64(p*5 + k)
			add := func(field string, v float64, unit string) {
				seq++
				rs = append(rs, reading.Reading{Seq: seq, Name: "karana." + field, Time: at, Value: v, Unit: unit})
			}
			add("buffer.depth", 2400+i*6, "")
			add("buffer.file_bytes", 1<<20+i*512, "B")
			add("buffer.pending", float64(int(i)%7), "")
			add("buffer.dropped_total", 0, "")
			add("buffer.commit_errors", 0, "")
			add("buffer.commit_seconds", 0.0031+float64(int(i)%13)*0.0001, "s")
			add("buffer.commit_max_seconds", 0.0412, "s")
			add("buffer.failing", 0, "")
			add("uplink.connected", 1, "")
			add("uplink.bytes_sent", 600*i, "B")
			add("uplink.wire_bytes", 520*i, "B")
			for _, s := range refSite {
				add("sensor."+s.name+".errors", 0, "")
			}
			add("clock.synced", 1, "")
			add("process.rss_bytes", 21e6+float64(int(i)%50)*4096, "B")
			add("cpu.temp", 48+float64(int(i)%20)*0.1, "°C")
		}
		src.appendReadings(rs)
		u.Flush()
		waitFor(tb, "a telemetry batch", func() bool { return src.Cursor("telemetry") == seq })
	}
	total := r.settle() - before
	u.Shutdown(2 * time.Second)
	return total
}
