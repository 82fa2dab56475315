package i2cbus

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"periph.io/x/conn/v3/driver"
	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

// fakeRegistry replaces periph's host init and registry for one test, so
// that no test initialises the host drivers or opens a real /dev/i2c-N.
func fakeRegistry(t *testing.T, st *driverreg.State, open func(string) (i2c.BusCloser, error), all []*i2creg.Ref) *int {
	t.Helper()
	inits := new(int)
	oldInit, oldOpen, oldAll := hostInit, registryOpen, registryAll
	initMu.Lock()
	initDone, initErr = false, nil
	initMu.Unlock()
	hostInit = func() (*driverreg.State, error) { *inits++; return st, nil }
	registryOpen = open
	registryAll = func() []*i2creg.Ref { return all }
	t.Cleanup(func() {
		hostInit, registryOpen, registryAll = oldInit, oldOpen, oldAll
		initMu.Lock()
		initDone, initErr = false, nil
		initMu.Unlock()
	})
	return inits
}

type fakeDriver string

func (d fakeDriver) String() string          { return string(d) }
func (d fakeDriver) Prerequisites() []string { return nil }
func (d fakeDriver) After() []string         { return nil }
func (d fakeDriver) Init() (bool, error)     { return false, nil }

var _ driver.Impl = fakeDriver("")

func TestInitLogsFailedAndSkippedDriversOnce(t *testing.T) {
	st := &driverreg.State{
		Failed:  []driverreg.DriverFailure{{D: fakeDriver("bcm283x-gpio"), Err: errors.New("need more access")}},
		Skipped: []driverreg.DriverFailure{{D: fakeDriver("allwinner-gpio"), Err: errors.New("not an Allwinner")}},
	}
	inits := fakeRegistry(t, st, nil, nil)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := Init(log); err != nil {
		t.Fatal(err)
	}
	if err := Init(log); err != nil {
		t.Fatal(err)
	}
	if *inits != 1 {
		t.Errorf("host init ran %d times, want once", *inits)
	}
	out := buf.String()
	for _, want := range []string{"level=DEBUG", "periph driver failed", "bcm283x-gpio", "need more access", "periph driver skipped", "allwinner-gpio"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestOpenNoBusIsNotFittedWithHint(t *testing.T) {
	fakeRegistry(t, &driverreg.State{}, func(string) (i2c.BusCloser, error) { return nil, i2cbustest.ErrNoBus }, nil)
	b, err := Open("1")
	if b != nil || err == nil {
		t.Fatalf("Open = %v, %v; want an error", b, err)
	}
	want := `i2c bus "1": not found (is I2C enabled? dtparam=i2c_arm=on in /boot/firmware/config.txt)`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a missing bus must match sensors.ErrNotFitted")
	}
	if !errors.Is(err, i2cbustest.ErrNoBus) {
		t.Error("the registry's error must stay in the chain")
	}
}

func TestOpenUnknownBusListsThePresentOnes(t *testing.T) {
	all := []*i2creg.Ref{{Name: "I2C1", Number: 1}, {Name: "I2C20", Number: 20}, {Name: "FT232H", Number: -1}}
	fakeRegistry(t, &driverreg.State{}, func(name string) (i2c.BusCloser, error) {
		return nil, errors.New(`i2creg: can't open unknown bus: "3"`)
	}, all)
	_, err := Open("3")
	want := `i2c bus "3": not found (buses present: 1, 20, FT232H; is I2C enabled? dtparam=i2c_arm=on in /boot/firmware/config.txt)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) {
		t.Error("an unknown bus must match sensors.ErrNotFitted")
	}
}

func TestOpenPermissionDeniedIsAFailureWithHint(t *testing.T) {
	cause := errors.New("sysfs-i2c: are you member of group 'plugdev'? open /dev/i2c-1: permission denied")
	fakeRegistry(t, &driverreg.State{}, func(string) (i2c.BusCloser, error) { return nil, cause }, nil)
	_, err := Open("1")
	if err == nil {
		t.Fatal("no error")
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a bus we may not open is there: not 'not fitted'")
	}
	for _, want := range []string{`i2c bus "1": permission denied`, "group i2c", "open /dev/i2c-1: permission denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("cause lost")
	}
}

func TestOpenReturnsTheRegistryBus(t *testing.T) {
	pb := &i2ctest.Playback{DontPanic: true}
	var asked string
	fakeRegistry(t, &driverreg.State{}, func(name string) (i2c.BusCloser, error) { asked = name; return pb, nil }, nil)
	b, err := Open("1")
	if err != nil {
		t.Fatal(err)
	}
	if b != pb || asked != "1" {
		t.Errorf("Open returned %v for %q; want the registry's bus for \"1\"", b, asked)
	}
}

func TestOpenHostInitFailure(t *testing.T) {
	fakeRegistry(t, nil, nil, nil)
	hostInit = func() (*driverreg.State, error) { return nil, errors.New("driverreg: cycle") }
	_, err := Open("1")
	if err == nil || !strings.Contains(err.Error(), "periph host init: driverreg: cycle") {
		t.Errorf("error = %v", err)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a registry failure is a bug, not a missing bus")
	}
}
