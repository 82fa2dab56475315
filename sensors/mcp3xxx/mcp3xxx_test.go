package mcp3xxx

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/internal/hw"
	"github.com/karana-energy/karana-edge/sensors/spibus"
)

func TestMain(m *testing.M) {
	hw.HostInit = func() error { return nil } // only the fake ports below exist
	os.Exit(m.Run())
}

// port is a playback port that records how it was connected.
type port struct {
	*spitest.Playback
	freq physic.Frequency
	mode spi.Mode
}

func (p *port) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	p.freq, p.mode = f, m
	return p.Playback.Connect(f, m, bits)
}

// fakeBus registers name; each open plays back one of opens, in turn.
func fakeBus(t *testing.T, name string, opens ...[]conntest.IO) *[]*port {
	t.Helper()
	var ports []*port
	err := spireg.Register(name, nil, -1, func() (spi.PortCloser, error) {
		if len(ports) == len(opens) {
			t.Errorf("bus %s opened %d times, want %d", name, len(ports)+1, len(opens))
			return nil, errors.New("too many opens")
		}
		p := &port{Playback: &spitest.Playback{Playback: conntest.Playback{Ops: opens[len(ports)], DontPanic: true}}}
		ports = append(ports, p)
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spireg.Unregister(name) })
	return &ports
}

func newSensor(t *testing.T, chip Chip, o Options) *Sensor {
	t.Helper()
	s, err := New(chip, "adc", &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(t *testing.T, s *Sensor) map[string]float64 {
	t.Helper()
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, v := range vals {
		if v.Unit != "V" {
			t.Errorf("%s unit %q, want V", v.Field, v.Unit)
		}
		out[v.Field] = v.Value
	}
	return out
}

func TestMCP3008(t *testing.T) {
	ports := fakeBus(t, "SPIT.0", []conntest.IO{
		// ch0 single-ended: start bit, SGL=1 D2..D0=000; result 10 0000 0000.
		{W: []byte{0x01, 0x80, 0x00}, R: []byte{0x00, 0x02, 0x00}},
		// ch7 single-ended; the bits before the null bit are undefined.
		{W: []byte{0x01, 0xf0, 0x00}, R: []byte{0xff, 0xf3, 0xff}},
		// pair 1 (CH0-, CH1+): SGL=0 D2..D0=001.
		{W: []byte{0x01, 0x10, 0x00}, R: []byte{0x00, 0x01, 0x00}},
	})
	o := DefaultOptions()
	o.Bus = "SPIT.0"
	o.Channels = []Channel{{Channel: 0, Name: "level"}, {Channel: 7}, {Channel: 1, Differential: true}}
	s := newSensor(t, MCP3008, o)
	got := read(t, s)
	want := map[string]float64{"level": 1.65, "ch7": 3.2968, "diff1": 0.825}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v V, want %v", k, got[k], w)
		}
	}
	if p := (*ports)[0]; p.freq != physic.MegaHertz || p.mode != spi.Mode0 {
		t.Errorf("connected at %s %s, want 1MHz mode 0", p.freq, p.mode)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close (every transaction played): %v", err)
	}
}

func TestMCP3208(t *testing.T) {
	fakeBus(t, "SPIT.1", []conntest.IO{
		// ch5 single-ended: 0000 0111 | 01xx xxxx; result 1000 0000 0000.
		{W: []byte{0x07, 0x40, 0x00}, R: []byte{0x00, 0x08, 0x00}},
		// pair 6 (CH6+, CH7-): 0000 0101 | 10xx xxxx; full scale.
		{W: []byte{0x05, 0x80, 0x00}, R: []byte{0x00, 0xef, 0xff}},
	})
	o := DefaultOptions()
	o.Bus, o.Vref, o.SpeedHz = "SPIT.1", 4.096, 2_000_000
	o.Channels = []Channel{{Channel: 5}, {Channel: 6, Differential: true, Name: "shunt"}}
	s := newSensor(t, MCP3208, o)
	got := read(t, s)
	if got["ch5"] != 2.048 || got["shunt"] != 4.095 {
		t.Errorf("got %v, want ch5 2.048 V and shunt 4.095 V (1 mV per code)", got)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestNoChipAndBusErrors(t *testing.T) {
	ports := fakeBus(t, "SPIT.2",
		// MISO pulled high: the null bit is 1.
		[]conntest.IO{{W: []byte{0x01, 0x80, 0x00}, R: []byte{0xff, 0xff, 0xff}}},
		// A transfer that fails (the playback has no such transaction).
		nil,
		// After the re-open, the chip answers.
		[]conntest.IO{{W: []byte{0x01, 0x80, 0x00}, R: []byte{0x00, 0x00, 0x10}}},
	)
	o := DefaultOptions()
	o.Bus = "SPIT.2"
	o.Channels = []Channel{{Channel: 0}}
	s := newSensor(t, MCP3008, o)
	_, err := s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "mcp3008 on SPIT.2: channel 0: no chip answering (null bit high") {
		t.Errorf("null bit: %v", err)
	}
	s.Close()
	_, err = s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "mcp3008 on SPIT.2: channel 0: ") {
		t.Errorf("failed transfer: %v", err)
	}
	s.Close()
	// The sampler closes a failing sensor; the next read re-opens the bus.
	if got := read(t, s); got["ch0"] != 0.0516 {
		t.Errorf("after re-open ch0 = %v", got["ch0"])
	}
	if len(*ports) != 3 {
		t.Errorf("bus opened %d times, want 3", len(*ports))
	}
	s.Close()
}

func TestNotFitted(t *testing.T) {
	o := DefaultOptions()
	o.Bus = "SPI9.9"
	s := newSensor(t, MCP3208, o)
	_, err := s.Read(context.Background())
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "mcp3208 on SPI9.9: no SPI port on this box") {
		t.Errorf("Read on a missing bus: %v", err)
	}
}

func TestValidate(t *testing.T) {
	o := Options{Options: spibus.Options{Bus: "", SpeedHz: 3_000_000}, Vref: 0, Channels: []Channel{
		{Channel: 8}, {Channel: 1, Name: "a"}, {Channel: 2, Name: "a"}, {Channel: 1, Name: "b b"},
	}}
	_, err := New(MCP3208, "adc", &o)
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("New = %v", err)
	}
	want := []string{
		"bus: must be set",
		"channels[0].channel: must be 0 to 7",
		`channels[2].name: field "a" is used by two channels`,
		`channels[3].name: invalid field name "b b"`,
		"channels[3].channel: channel 1 (differential false) is listed twice",
		"vref: must be above 0",
		"speed_hz: must be between 10000 and 2000000 (the mcp3208's maximum",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
	if _, err := New(MCP3008, "adc", &Options{Options: spibus.Options{Bus: "SPI0.0", SpeedHz: 1e6}, Vref: 3.3, Channels: []Channel{}}); err == nil {
		t.Error("an empty channel list was accepted")
	}

	d := DefaultOptions()
	if _, err := New(MCP3008, "adc", &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Channels) != 8 || d.Channels[7].Name != "ch7" || d.BusName() != "SPI0.0" {
		t.Errorf("defaults filled: %+v", d)
	}
}
