package outputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/karana-energy/karana-edge/config"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		mod  func(c *Config)
		want string // substring of the error; "" for none
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Pin = "" }, "pin: must be set"},
		{func(c *Config) { c.Active = "up" }, "active: must be high or low"},
		{func(c *Config) { c.Safe = "maybe" }, "safe: must be on or off"},
		{func(c *Config) { c.MinSwitch = config.D(-time.Second) }, "min_switch"},
		{func(c *Config) { c.Driver = "modbus" }, "pin: is for driver \"gpio\""},
		{func(c *Config) { c.Table = "coil" }, "table: is for driver \"modbus\", not gpio"},
		{func(c *Config) { c.Address = ptr(3) }, "address: is for driver \"modbus\""},
		{func(c *Config) { c.Driver, c.Pin, c.Command, c.URL = "exec", "", []string{"/bin/true"}, "tcp://h:502" }, "url: is for driver \"modbus\", not exec"},
		{func(c *Config) { c.Driver = "relay" }, "unknown output driver"},
		{func(c *Config) { c.Driver, c.Pin = "exec", "" }, "command: must be set"},
		{func(c *Config) { c.Name = "a b" }, "invalid output name"},
	}
	for i, tc := range cases {
		c := DefaultConfig()
		c.Name, c.Driver, c.Pin, c.On = "relay", "gpio", "GPIO23", "true"
		tc.mod(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("case %d: %v", i, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("case %d: err = %v, want %q", i, err, tc.want)
		}
	}
}

// Active low: on is a low line; the safe level is driven at once.
func TestGPIOActiveLow(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO23", L: gpio.Low}
	c := DefaultConfig()
	c.Name, c.Driver, c.Pin, c.Active = "relay", "gpio", "GPIO23", "low"
	d, err := GPIO(pin, c)
	if err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Fatalf("safe off on an active-low line drove %s, want high", pin.Read())
	}
	if err := d.Set(true); err != nil || pin.Read() != gpio.Low {
		t.Fatalf("on: %v, level %s, want low", err, pin.Read())
	}
}

type fakeDriver struct{ sets []bool }

func (f *fakeDriver) Set(on bool) error { f.sets = append(f.sets, on); return nil }
func (f *fakeDriver) Close() error      { return nil }

func TestMinSwitchHoldsEveryState(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.MinSwitch = "r", config.D(time.Minute)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeDriver{}
	o, _, err := New(c, f, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, did, _ := o.Drive(true, t0.Add(59*time.Second), "x"); did {
		t.Fatal("switched 59 s after start with min_switch 1m")
	}
	if _, did, _ := o.Drive(true, t0.Add(time.Minute), "x"); !did {
		t.Fatal("not switched at min_switch")
	}
	if _, did, _ := o.Safe(t0.Add(90*time.Second), "missing"); did {
		t.Fatal("went safe within min_switch of the last switch")
	}
	if sw, did, _ := o.Shutdown(t0.Add(91 * time.Second)); !did || sw.On {
		t.Fatal("shutdown did not force the safe state")
	}
	if want := []bool{false, true, false}; len(f.sets) != 3 || f.sets[0] != want[0] || f.sets[1] != want[1] || f.sets[2] != want[2] {
		t.Fatalf("driver saw %v, want %v", f.sets, want)
	}
}

func TestExecAppendsState(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log")
	c := DefaultConfig()
	c.Name, c.Driver = "pump", "exec"
	// sh -c SCRIPT $0 $1 …: the appended state is $2
	c.Command = []string{"/bin/sh", "-c", `echo "$2" >> "$1"`, "sh", out}
	d, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(true); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if string(b) != "on\noff\n" {
		t.Fatalf("command saw %q, want on then off", b)
	}
	c.Command = []string{"/bin/false"}
	d, _ = Open(c)
	if err := d.Set(true); err == nil || !strings.Contains(err.Error(), "output pump") {
		t.Fatalf("failing command: %v, want an error naming the output", err)
	}
}
