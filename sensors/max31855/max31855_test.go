package max31855

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
	"github.com/karana-energy/karana-edge/sensors/spibus"
)

func TestMain(m *testing.M) {
	hw.HostInit = func() error { return nil } // only the fake ports below exist
	os.Exit(m.Run())
}

// frame builds a 32-bit frame from the datasheet's bit strings (tables 2
// and 3: 14 thermocouple bits, 12 internal bits) and the fault bits D16,
// D2..D0.
func frame(t *testing.T, tc, internal string, fault bool, scv, scg, oc bool) []byte {
	t.Helper()
	bits := func(s string, n int) uint32 {
		s = strings.ReplaceAll(s, " ", "")
		if len(s) != n {
			t.Fatalf("%q: %d bits, want %d", s, len(s), n)
		}
		v, err := strconv.ParseUint(s, 2, 32)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(v)
	}
	v := bits(tc, 14)<<18 | bits(internal, 12)<<4
	for bit, set := range map[int]bool{16: fault, 2: scv, 1: scg, 0: oc} {
		if set {
			v |= 1 << bit
		}
	}
	return binary.BigEndian.AppendUint32(nil, v)
}

func fakeBus(t *testing.T, name string, frames ...[]byte) *spitest.Playback {
	t.Helper()
	var ops []conntest.IO
	for _, f := range frames {
		ops = append(ops, conntest.IO{W: make([]byte, 4), R: f})
	}
	p := &spitest.Playback{Playback: conntest.Playback{Ops: ops, DontPanic: true}}
	opened := false
	if err := spireg.Register(name, nil, -1, func() (spi.PortCloser, error) {
		if opened {
			return nil, errors.New("opened twice")
		}
		opened = true
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spireg.Unregister(name) })
	return p
}

func TestDatasheetFrames(t *testing.T) {
	cases := []struct {
		tc, in         string
		wantT, wantInt float64
	}{
		{"0110 0100 0000 00", "0111 1111 0000", 1600, 127},
		{"0011 1110 1000 00", "0110 0100 1001", 1000, 100.5625},
		{"0000 0110 0100 11", "0001 1001 0000", 100.75, 25},
		{"0000 0001 1001 00", "0000 0000 0000", 25, 0},
		{"1111 1111 1111 11", "1111 1111 1111", -0.25, -0.0625},
		{"1111 1111 1111 00", "1111 1111 0000", -1, -1},
		{"1111 0000 0110 00", "1100 1001 0000", -250, -55},
	}
	var frames [][]byte
	for _, c := range cases {
		frames = append(frames, frame(t, c.tc, c.in, false, false, false, false))
	}
	p := fakeBus(t, "SPIM.0", frames...)
	s, err := New("tc", &Options{spibus.Options{Bus: "SPIM.0", SpeedHz: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		vals, err := s.Read(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", c.tc, err)
		}
		if len(vals) != 2 || vals[0].Field != "temperature" || vals[0].Value != c.wantT || vals[0].Unit != "°C" ||
			vals[1].Field != "internal" || vals[1].Value != c.wantInt {
			t.Errorf("frame %s|%s: got %+v, want %v and %v °C", c.tc, c.in, vals, c.wantT, c.wantInt)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if p.Count != len(cases) {
		t.Errorf("%d transactions, want %d", p.Count, len(cases))
	}
}

func TestFaults(t *testing.T) {
	for i, c := range []struct {
		scv, scg, oc bool
		want         string
	}{
		{oc: true, want: "max31855 on SPIM.1: thermocouple open circuit (OC) (cold junction 25 °C)"},
		{scg: true, want: "thermocouple shorted to GND (SCG)"},
		{scv: true, want: "thermocouple shorted to VCC (SCV)"},
		{scg: true, oc: true, want: "thermocouple open circuit (OC), thermocouple shorted to GND (SCG)"},
	} {
		name := "SPIM.1"
		f := frame(t, "0000 0000 0000 00", "0001 1001 0000", true, c.scv, c.scg, c.oc)
		fakeBus(t, name, f)
		s, _ := New("tc", &Options{spibus.Options{Bus: name, SpeedHz: 1_000_000}})
		_, err := s.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: %v, want %q", i, err, c.want)
		}
		s.Close()
		spireg.Unregister(name)
	}
}

func TestNoChip(t *testing.T) {
	fakeBus(t, "SPIM.2", []byte{0xff, 0xff, 0xff, 0xff})
	s, _ := New("tc", &Options{spibus.Options{Bus: "SPIM.2", SpeedHz: 1_000_000}})
	defer s.Close()
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "no chip answering (read ff ff ff ff") {
		t.Errorf("all-ones frame: %v", err)
	}

	m, _ := New("tc", &Options{spibus.Options{Bus: "SPI7.7", SpeedHz: 1_000_000}})
	if _, err := m.Read(context.Background()); !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "max31855 on SPI7.7: no such SPI port on this box") {
		t.Errorf("missing bus: %v", err)
	}
}

func TestValidate(t *testing.T) {
	_, err := New("tc", &Options{spibus.Options{SpeedHz: 6_000_000}})
	if err == nil || !strings.Contains(err.Error(), "bus: must be set") || !strings.Contains(err.Error(), "speed_hz: must be between") {
		t.Errorf("New = %v", err)
	}
	o := DefaultOptions()
	if _, err := New("tc", &o); err != nil || o.BusName() != "SPI0.0" {
		t.Errorf("defaults: %v %q", err, o.BusName())
	}
}

// MISO held low (no chip, no power, a broken wire with a pull-down or a
// driver stuck low) clocks in 32 zero bits: thermocouple 0.00 °C, cold
// junction 0.0000 °C, no fault (datasheet tables 2 and 3 read that way).
// The chip itself sends it only when both junctions sit within one step
// of 0 °C at once; the driver takes it for a stuck line.
func TestAllZeroFrameIsAnError(t *testing.T) {
	real := frame(t, "0000 0000 0000 00", "0000 0000 0001", false, false, false, false) // 0 °C, 0.0625 °C
	fakeBus(t, "SPIM.3", []byte{0, 0, 0, 0}, real)
	s, _ := New("tc", &Options{spibus.Options{Bus: "SPIM.3", SpeedHz: 1_000_000}})
	defer s.Close()
	if vals, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "all-zero frame") {
		t.Errorf("all-zero frame: %+v, %v; want an error", vals, err)
	}
	if vals, err := s.Read(context.Background()); err != nil || len(vals) != 2 || vals[0].Value != 0 || vals[1].Value != 0.0625 {
		t.Errorf("0 °C with a cold junction at 0.0625 °C: %+v, %v", vals, err)
	}
}
