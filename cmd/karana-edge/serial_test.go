package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Pi 4 with the serial console still on (Pi OS's default) and a USB
// adapter: board lists both, marks the console, and names the by-id link's
// device.
func TestBoardSerialPorts(t *testing.T) {
	root := fixture(t, pi4(map[string]string{
		"dev/ttyS0": "", "dev/ttyAMA0": "", "dev/ttyUSB0": "",
		"proc/cmdline": "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootwait\n",
	}))
	for link, target := range map[string]string{
		"dev/serial0": "ttyS0", "dev/serial1": "ttyAMA0",
		"dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0": "../../ttyUSB0",
	} {
		p := filepath.Join(root, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	withHWRoot(t, root)
	code, out, errs := runArgs("board")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "board", out,
		"\nserial ports\n",
		"  /dev/serial0 -> /dev/ttyS0 ", "LOGIN CONSOLE (console=serial0 in /proc/cmdline): not usable for a device until it is turned off; mini UART\n",
		"  /dev/serial1 -> /dev/ttyAMA0 ", " PL011 UART\n",
		"  /dev/ttyUSB0 ", "USB serial adapter\n",
		"  /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0 -> /dev/ttyUSB0  USB serial adapter\n",
		"group dialout",
		"dtoverlay=disable-bt",
		"enable_uart=1 creates /dev/serial0",
	)
	if strings.Contains(out, "  enable_uart=1\n") {
		t.Errorf("serial0 is present, yet enable_uart=1 is suggested:\n%s", out)
	}
	ttyS0 := strings.SplitAfter(out, "\n")
	for _, l := range ttyS0 {
		if strings.HasPrefix(l, "  /dev/ttyS0 ") && !strings.Contains(l, "LOGIN CONSOLE") {
			t.Errorf("ttyS0 is serial0, the console, by another name: %q", l)
		}
	}

	// A config using the header UART on a Pi without it: enable_uart=1.
	withHWRoot(t, fixture(t, pi4(nil)))
	path := writeConfig(t, "[[sensor]]\nname = \"mppt\"\ndriver = \"vedirect\"\nport = \"/dev/serial0\"\n")
	code, out, errs = runArgs("board", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "board -config", out,
		"  none (a USB adapter appears as /dev/ttyUSB0",
		"  /dev/serial0  absent: used by the config",
		"add to /boot/firmware/config.txt and reboot:\n  enable_uart=1\n")
}
