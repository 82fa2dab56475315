package spibus

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
)

// noRead is a driver's read that must not run: the open failed.
func noRead(t *testing.T) func(context.Context, spi.Conn) ([]sensors.Value, error) {
	return func(context.Context, spi.Conn) ([]sensors.Value, error) {
		t.Error("read ran though the port did not open")
		return nil, nil
	}
}

func TestMain(m *testing.M) {
	hw.HostInit = func() error { return nil } // only the fake ports below exist
	os.Exit(m.Run())
}

// register makes open() the port behind name and counts the opens.
func register(t *testing.T, name string, open func() (spi.PortCloser, error)) *int {
	t.Helper()
	n := new(int)
	if err := spireg.Register(name, nil, -1, func() (spi.PortCloser, error) { *n++; return open() }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spireg.Unregister(name) })
	return n
}

func TestNoSPIAtAll(t *testing.T) {
	d := Device{Driver: "chip", Port: "SPI0.0", SpeedHz: 1e6}
	_, err := d.Read(context.Background(), noRead(t))
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.HasPrefix(err.Error(), "chip on SPI0.0: no SPI port on this box (enable SPI: dtparam=spi=on") {
		t.Errorf("Open = %v", err)
	}
}

func TestNoSuchPort(t *testing.T) {
	register(t, "SPIX.0", func() (spi.PortCloser, error) { return &spitest.Playback{}, nil })
	d := Device{Driver: "chip", Port: "SPIX.1", SpeedHz: 1e6}
	_, err := d.Read(context.Background(), noRead(t))
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.HasPrefix(err.Error(), "chip on SPIX.1: no such SPI port on this box (ports: SPIX.0;") {
		t.Errorf("Open = %v", err)
	}
}

// The port is opened once and reused; Close releases it (reporting what
// the playback left unplayed), and the next Read opens it afresh.
func TestReadCloseReopen(t *testing.T) {
	var ports []*spitest.Playback
	opens := register(t, "SPIX.2", func() (spi.PortCloser, error) {
		p := &spitest.Playback{Playback: conntest.Playback{Ops: []conntest.IO{{W: []byte{1}, R: []byte{2}}, {W: []byte{3}, R: []byte{4}}}, DontPanic: true}}
		ports = append(ports, p)
		return p, nil
	})
	d := Device{Driver: "chip", Port: "SPIX.2", SpeedHz: 2_000_000}
	tx := func(w byte) ([]sensors.Value, error) {
		return d.Read(context.Background(), func(_ context.Context, c spi.Conn) ([]sensors.Value, error) {
			r := make([]byte, 1)
			err := c.Tx([]byte{w}, r)
			return []sensors.Value{{Value: float64(r[0])}}, err
		})
	}
	for range 2 {
		for _, w := range []byte{1, 3} {
			if vs, err := tx(w); err != nil || vs[0].Value != float64(w+1) {
				t.Fatalf("Tx %d = %v, %v", w, vs, err)
			}
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close after every transaction played: %v", err)
		}
	}
	if *opens != 2 {
		t.Errorf("port opened %d times, want 2 (once, then again after Close)", *opens)
	}
	if got := ports[0].Playback.Count; got != 2 {
		t.Errorf("first port played %d transactions, want 2", got)
	}

	// Closing with a transaction left unplayed is an error naming the device.
	if _, err := tx(1); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err == nil || !strings.HasPrefix(err.Error(), "chip on SPIX.2: close: ") {
		t.Errorf("Close with a transaction left = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close of a closed device = %v", err)
	}
}

type refusingPort struct {
	spitest.Playback
	closed bool
}

func (p *refusingPort) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	return nil, errors.New("invalid speed")
}

func (p *refusingPort) Close() error { p.closed = true; return nil }

func TestConnectFails(t *testing.T) {
	p := &refusingPort{}
	register(t, "SPIX.3", func() (spi.PortCloser, error) { return p, nil })
	d := Device{Driver: "chip", Port: "SPIX.3", SpeedHz: 123_000}
	_, err := d.Read(context.Background(), noRead(t))
	if err == nil || err.Error() != "chip on SPIX.3: connect at 123000 Hz, mode 0: invalid speed" {
		t.Errorf("Open = %v", err)
	}
	if !p.closed {
		t.Error("the port was left open after Connect failed")
	}
}

func TestValidate(t *testing.T) {
	var errs config.FieldErrors
	Options{Bus: "", SpeedHz: 9_999}.Validate(&errs, "MCP3008", 3_600_000, "at VDD 5 V")
	Options{Bus: "SPI0.1", SpeedHz: 5_000_001}.Validate(&errs, "MAX31855", 5_000_000, "")
	Options{Bus: "SPI0.1", SpeedHz: 5_000_000}.Validate(&errs, "MAX31855", 5_000_000, "")
	want := []string{
		`bus: must be set, e.g. "SPI0.0"`,
		"speed_hz: must be between 10000 and 3600000 (the MCP3008's maximum at VDD 5 V), got 9999",
		"speed_hz: must be between 10000 and 5000000 (the MAX31855's maximum), got 5000001",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	for i, w := range want {
		if got := errs[i].Key + ": " + errs[i].Msg; got != w {
			t.Errorf("error %d = %q, want %q", i, got, w)
		}
	}
}
