package modbus

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

func ptr[T any](v T) *T { return &v }

// tcpOpts returns options for a sensor on d's endpoint.
func tcpOpts(d *device, unit int, regs ...Register) *Options {
	o := DefaultOptions()
	o.URL = d.url
	o.UnitID = unit
	o.RequestTimeout = config.D(200 * time.Millisecond)
	o.Registers = regs
	return &o
}

func mustNew(t testing.TB, o *Options) *Sensor {
	t.Helper()
	s, err := New("meter", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func read(t testing.TB, s *Sensor) map[string]sensors.Value {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	vals, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return byField(vals)
}

func byField(vals []sensors.Value) map[string]sensors.Value {
	m := map[string]sensors.Value{}
	for _, v := range vals {
		m[v.Field] = v
	}
	return m
}

// want checks fields against values and units; a NaN want means the field
// must be missing.
func want(t *testing.T, got map[string]sensors.Value, field string, v float64, unit string) {
	t.Helper()
	g, ok := got[field]
	if math.IsNaN(v) {
		if ok {
			t.Errorf("%s = %v, want missing", field, g.Value)
		}
		return
	}
	if !ok {
		t.Errorf("%s missing, want %v %s", field, v, unit)
		return
	}
	if g.Value != v || g.Unit != unit {
		t.Errorf("%s = %v %q, want %v %q", field, g.Value, g.Unit, v, unit)
	}
}

var missing = math.NaN()

// Types, word and byte order, scale and offset, against values worked by
// hand from the IEEE 754 and two's-complement encodings.
func TestDecodeTypes(t *testing.T) {
	d := newDevice(t)
	d.set(1, holding, 0,
		0xFF38,         // 0: int16 -200
		0x00C3, 0x5000, // 1-2: uint32, low word first: 0x5000_00C3
		0x4366, 0x0000, // 3-4: float32 230.0
		0x3412,                         // 5: uint16 byte_order little → 0x1234 = 4660
		0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE, // 6-9: int64 -2
		0x3FF8, 0, 0, 0, // 10-13: float64 1.5
		0x7FC0, 0x0000, // 14-15: float32 NaN: missing
		0x00A5, // 16: bits
	)
	d.set(1, coil, 3, 1)
	s := mustNew(t, tcpOpts(d, 1,
		Register{Field: "i16", Address: 0, Type: "int16", Scale: ptr(0.5), Offset: 1},
		Register{Field: "u32", Address: 1, Type: "uint32", WordOrder: "little"},
		Register{Field: "f32", Address: 3, Type: "float32", Unit: "V"},
		Register{Field: "bo", Address: 5, ByteOrder: "little"},
		Register{Field: "i64", Address: 6, Type: "int64"},
		Register{Field: "f64", Address: 10, Type: "float64"},
		Register{Field: "nan", Address: 14, Type: "float32"},
		Register{Field: "status", Address: 16, Type: "bits"},
		Register{Field: "relay", Table: "coil", Address: 3},
	))
	got := read(t, s)
	want(t, got, "i16", -99, "") // -200 × 0.5 + 1
	want(t, got, "u32", 0x5000<<16|0xC3, "")
	want(t, got, "f32", 230, "V")
	want(t, got, "bo", 0x1234, "")
	want(t, got, "i64", -2, "")
	want(t, got, "f64", 1.5, "")
	want(t, got, "nan", missing, "")
	want(t, got, "status", 0xA5, "")
	want(t, got, "relay", 1, "")
}

// Decimal scales divide: the result is the decimal the device meant.
func TestScaleIsExactDecimal(t *testing.T) {
	for _, c := range []struct {
		raw   float64
		scale float64
		want  float64
	}{
		{2200, 0.1, 220},
		{12345, 0.001, 12.345},
		{-150, 0.01, -1.5},
		{3, 10, 30},
		{7, 2.5, 17.5},
	} {
		if got := scaled(c.raw, 0, c.scale, 0); got != c.want {
			t.Errorf("%v × %v = %v, want %v", c.raw, c.scale, got, c.want)
		}
	}
	if got := scaled(1234, -2, 1, 0); got != 12.34 {
		t.Errorf("1234 × 10^-2 = %v", got)
	}
}

// Two sensors on one endpoint share one connection, and their requests
// never overlap.
func TestSharedBus(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0, 10, 11)
	d.set(2, input, 0, 20, 21)
	a := mustNew(t, tcpOpts(d, 1, Register{Field: "x", Table: "input", Address: 0}, Register{Field: "y", Table: "input", Address: 1}))
	b := mustNew(t, tcpOpts(d, 2, Register{Field: "x", Table: "input", Address: 0}, Register{Field: "y", Table: "input", Address: 1}))
	var wg sync.WaitGroup
	for _, s := range []*Sensor{a, b, a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := s.Read(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if a.bus != b.bus {
		t.Error("two sensors on one endpoint got two buses")
	}
	if n := d.connections(); n != 1 {
		t.Errorf("%d TCP connections, want 1 shared", n)
	}
	if d.overlap.Load() {
		t.Error("two requests were in flight at once")
	}
	want(t, read(t, a), "y", 11, "")
	want(t, read(t, b), "y", 21, "")
	// One request per read: x and y are coalesced.
	before := d.reqs.Load()
	read(t, a)
	if n := d.reqs.Load() - before; n != 1 {
		t.Errorf("%d requests for two adjacent registers, want 1", n)
	}
}

// The last sensor to close a bus closes it; the next read opens it again.
func TestBusRefcount(t *testing.T) {
	d := newDevice(t)
	d.set(1, holding, 0, 5)
	a := mustNew(t, tcpOpts(d, 1, Register{Field: "x", Address: 0}))
	b := mustNew(t, tcpOpts(d, 1, Register{Field: "x", Address: 0}))
	read(t, a)
	read(t, b)
	bus := a.bus
	a.Close()
	if bus.client == nil {
		t.Fatal("closing one of two sensors closed the shared bus")
	}
	b.Close()
	if bus.client != nil {
		t.Fatal("the last sensor's Close left the bus open")
	}
	busesMu.Lock()
	n := len(buses)
	busesMu.Unlock()
	if n != 0 {
		t.Fatalf("%d buses left registered", n)
	}
	want(t, read(t, a), "x", 5, "")
}

// A device that refuses a merged read across an unmapped register is read
// register by register, at once and from then on.
func TestMergedReadRefusedIsSplit(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0x3100, 1234)
	d.set(1, input, 0x3104, 2468) // 0x3101-0x3103 unmapped: a merged read is refused
	s := mustNew(t, tcpOpts(d, 1,
		Register{Field: "pv", Table: "input", Address: 0x3100, Scale: ptr(0.01)},
		Register{Field: "bat", Table: "input", Address: 0x3104, Scale: ptr(0.01)},
	))
	before := d.reqs.Load()
	got := read(t, s)
	want(t, got, "pv", 12.34, "")
	want(t, got, "bat", 24.68, "")
	if n := d.reqs.Load() - before; n != 3 {
		t.Errorf("first read took %d requests, want 3 (merged, refused; then one each)", n)
	}
	before = d.reqs.Load()
	read(t, s)
	if n := d.reqs.Load() - before; n != 2 {
		t.Errorf("second read took %d requests, want 2 (the split remembered)", n)
	}
}

// An exception to a single register names the exception, table, address,
// unit and bus.
func TestExceptionNamed(t *testing.T) {
	d := newDevice(t)
	d.set(2, input, 0x3100, 1)
	s := mustNew(t, tcpOpts(d, 2, Register{Field: "t", Table: "input", Address: 0x3110, Type: "int16"}))
	_, err := s.Read(context.Background())
	if err == nil {
		t.Fatal("read of an unmapped register succeeded")
	}
	wantMsg := "illegal data address at input register 0x3110 of unit 2 on " + d.url
	if err.Error() != wantMsg {
		t.Errorf("error %q, want %q", err, wantMsg)
	}
	var me *Error
	if !errors.As(err, &me) || !isException(err) {
		t.Errorf("error %T is not a *modbus.Error with the exception", err)
	}
}

// A unit that does not answer costs its own timeout; the unit beside it
// reads at once after.
func TestSilentUnitBesideLiveOne(t *testing.T) {
	d := newDevice(t)
	d.set(1, holding, 0, 42)
	d.set(9, holding, 0, 1, 2, 3)
	d.silent[9] = true
	live := mustNew(t, tcpOpts(d, 1, Register{Field: "x", Address: 0}))
	dead := mustNew(t, tcpOpts(d, 9, Register{Field: "a", Address: 0}, Register{Field: "b", Address: 100}, Register{Field: "c", Address: 200}))
	before := d.reqs.Load()
	_, err := dead.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no answer from unit 9 on "+d.url) {
		t.Fatalf("silent unit: err %v", err)
	}
	// Three requests planned; the read stops at the first timeout, so the
	// bus gives the silent unit one request timeout a read.
	if n := d.reqs.Load() - before; n != 1 {
		t.Errorf("silent unit's read sent %d requests, want 1", n)
	}
	want(t, read(t, live), "x", 42, "")
}

func TestCoalesce(t *testing.T) {
	ns := []need{
		{input, 0, 2}, {input, 2, 2}, {input, 10, 2}, // gap 6 from 4
		{input, 200, 1},
		{holding, 0, 1}, // other table: never merged
		{coil, 0, 1}, {coil, 1500, 1},
	}
	sortNeeds(ns)
	got := coalesce(ns, 125, 6)
	wantSpans := []span{{holding, 0, 1}, {input, 0, 12}, {input, 200, 1}, {coil, 0, 1}, {coil, 1500, 1}}
	if len(got) != len(wantSpans) {
		t.Fatalf("spans %v, want %v", got, wantSpans)
	}
	for i := range got {
		if got[i] != wantSpans[i] {
			t.Errorf("span %d = %v, want %v", i, got[i], wantSpans[i])
		}
	}
	// max_registers caps a request.
	got = coalesce([]need{{input, 0, 2}, {input, 2, 2}, {input, 4, 2}}, 4, 0)
	if len(got) != 2 || got[0] != (span{input, 0, 4}) || got[1] != (span{input, 4, 2}) {
		t.Errorf("max_registers 4: %v", got)
	}
}

// One adapter under two names (/dev/ttyUSB0 and its /dev/serial/by-id
// link) is one bus: two would interleave frames on the wire.
func TestSamePortTwoNames(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "ttyUSB0")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(dir, "usb-FTDI_FT232R-if00-port0")
	if err := os.Symlink(dev, byID); err != nil {
		t.Fatal(err)
	}
	a, b := DefaultOptions(), DefaultOptions()
	a.Port, b.Port = dev, byID
	ba, err := acquire(a.link())
	if err != nil {
		t.Fatal(err)
	}
	defer ba.release()
	bb, err := acquire(b.link())
	if err != nil {
		t.Fatal(err)
	}
	defer bb.release()
	if ba != bb {
		t.Error("one port under two names got two buses")
	}
}
