package boards

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func symlink(t *testing.T, root, target, link string) {
	t.Helper()
	p := filepath.Join(root, link)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// A Pi 4 with the mini UART on the header, the PL011 on Bluetooth, and an
// FTDI adapter, as udev and the firmware name them.
func TestSerialPorts(t *testing.T) {
	root := writeTree(t, map[string]string{
		"dev/ttyS0": "", "dev/ttyAMA0": "", "dev/ttyUSB0": "", "dev/ttyUSB1": "", "dev/ttyUSB10": "", "dev/ttyACM0": "",
		"dev/ttyprintk": "", "dev/tty1": "",
	})
	symlink(t, root, "ttyS0", "dev/serial0")
	symlink(t, root, "ttyAMA0", "dev/serial1")
	symlink(t, root, "../../ttyUSB1", "dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")
	symlink(t, root, "/dev/ttyACM0", "dev/serial/by-id/usb-Victron_VE.Direct-if00") // absolute: rebased under root
	got := Devices(root).Serial
	want := []SerialPort{
		{Path: "/dev/serial0", Target: "/dev/ttyS0"},
		{Path: "/dev/serial1", Target: "/dev/ttyAMA0"},
		{Path: "/dev/ttyAMA0"},
		{Path: "/dev/ttyS0"},
		{Path: "/dev/ttyUSB0"}, {Path: "/dev/ttyUSB1"}, {Path: "/dev/ttyUSB10"},
		{Path: "/dev/ttyACM0"},
		{Path: "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", Target: "/dev/ttyUSB1"},
		{Path: "/dev/serial/by-id/usb-Victron_VE.Direct-if00", Target: "/dev/ttyACM0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serial ports\n got %+v\nwant %+v", got, want)
	}
}

func TestConsoles(t *testing.T) {
	root := writeTree(t, map[string]string{
		// Pi OS Bookworm's cmdline.txt as the firmware hands it on.
		"proc/cmdline": "coherent_pool=1M 8250.nr_uarts=1 snd_bcm2835.enable_headphones=0 bcm2708_fb.fbwidth=656 console=ttyS0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n",
		"dev/ttyS0":    "", "dev/ttyAMA0": "", "dev/ttyUSB0": "",
	})
	symlink(t, root, "ttyS0", "dev/serial0")
	cons := Consoles(root)
	if !reflect.DeepEqual(cons, []string{"ttyS0", "tty1"}) {
		t.Fatalf("consoles %q", cons)
	}
	for port, want := range map[string]string{"/dev/ttyS0": "ttyS0", "/dev/serial0": "ttyS0", "/dev/ttyAMA0": "", "/dev/ttyUSB0": "", "": ""} {
		if c, _ := ConsoleOf(root, port, cons); c != want {
			t.Errorf("ConsoleOf(%q) = %q, want %q", port, c, want)
		}
	}
	// Written as serial0 and checked on a laptop without the box's links:
	// the name alone still matches.
	if c, ok := ConsoleOf(t.TempDir(), "/dev/serial0", []string{"serial0"}); !ok || c != "serial0" {
		t.Errorf("by name: %q %v", c, ok)
	}
	if Consoles(t.TempDir()) != nil {
		t.Error("consoles without a /proc/cmdline")
	}
	p, _ := Lookup("rpi4b")
	f := p.CheckSerial(root, []Use{{Sensor: "a", Port: "/dev/ttyUSB0"}, {Sensor: "b", Port: "/dev/serial0"}, {Sensor: "c", Port: "/dev/ttyS0", Disabled: true}})
	if len(f) != 1 || f[0].Use != 1 || f[0].Key != "port" || !f[0].Warning {
		t.Errorf("CheckSerial: %+v", f)
	}
	if f := Sim.CheckSerial(root, []Use{{Sensor: "b", Port: "/dev/serial0"}}); f != nil {
		t.Errorf("sim board: %+v", f)
	}
}
