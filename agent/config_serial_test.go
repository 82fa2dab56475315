package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
)

// A fake serial driver: its options name a port, as vedirect's and
// modbus RTU's do.
type boardSerialOptions struct {
	Port string `toml:"port"`
}

func (o *boardSerialOptions) SerialPort() string { return o.Port }

func init() {
	sensors.Register(sensors.Driver{Name: "boardtest-serial", Doc: "board test serial device"},
		nil, func(string, *boardSerialOptions) (sensors.Sensor, error) { return cfgFakeSensor{}, nil })
}

// A port that is the kernel's console (Pi OS's default
// console=serial0,115200, serial0 → ttyS0 on a Pi 4) is a warning at the
// sensor's port key, under any of its names; other ports are not.
func TestConfigWarnsAboutConsolePort(t *testing.T) {
	withSystemRoot(t, map[string]string{
		"proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.5\x00",
		"proc/cmdline":           "coherent_pool=1M 8250.nr_uarts=1 console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n",
		"dev/ttyS0":              "", "dev/ttyAMA0": "", "dev/ttyUSB0": "",
	})
	if err := os.Symlink("ttyS0", filepath.Join(systemRoot, "dev/serial0")); err != nil {
		t.Fatal(err)
	}
	src := `[device]
id = "x"
[[sensor]]
name = "mppt"
driver = "boardtest-serial"
port = "/dev/ttyS0"
[[sensor]]
name = "alias"
driver = "boardtest-serial"
port = "/dev/serial0"
[[sensor]]
name = "usb"
driver = "boardtest-serial"
port = "/dev/ttyUSB0"
[[sensor]]
name = "pl011"
driver = "boardtest-serial"
port = "/dev/ttyAMA0"
`
	c, err := ParseConfig("s.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 ||
		!strings.HasPrefix(c.Warnings[0], "s.toml:6:1: sensor[0].port: /dev/ttyS0 is the login console (console=serial0 in /proc/cmdline)") ||
		!strings.Contains(c.Warnings[0], "remove console=serial0… from /boot/firmware/cmdline.txt") ||
		!strings.HasPrefix(c.Warnings[1], "s.toml:10:1: sensor[1].port: /dev/serial0 is the login console (console=serial0 in /proc/cmdline)") {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}

	// The console turned off: no warning.
	if err := os.WriteFile(filepath.Join(systemRoot, "proc/cmdline"), []byte("console=tty1 root=PARTUUID=4e639091-02\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = ParseConfig("s.toml", []byte(src))
	if err != nil || len(c.Warnings) != 0 {
		t.Errorf("console=tty1 only: %v %q", err, c.Warnings)
	}
}
