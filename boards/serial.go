package boards

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// SerialPort is one serial device this machine has: a UART on the header,
// a USB adapter, or a link udev or the firmware made to one.
type SerialPort struct {
	// Path is the name as found: "/dev/ttyUSB0", "/dev/serial0",
	// "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0".
	Path string
	// Target is the device node a link resolves to ("/dev/ttyS0"); "" when
	// Path is the node itself.
	Target string
}

// Device is the node the port opens: Target, or Path when it is no link.
func (s SerialPort) Device() string {
	if s.Target != "" {
		return s.Target
	}
	return s.Path
}

// serialGlobs are where serial ports appear, in the order shown: the Pi's
// stable aliases first, then the UARTs, then USB adapters, then udev's
// by-id names (stable across replugging, unlike ttyUSB numbers).
var serialGlobs = []string{
	"dev/serial[0-9]", "dev/ttyAMA*", "dev/ttyS*", "dev/ttyUSB*", "dev/ttyACM*", "dev/serial/by-id/*",
}

// serialPorts lists the serial ports under root ("/" on a box), resolving
// links within root. It never opens them.
func serialPorts(root string) []SerialPort {
	var out []SerialPort
	for _, g := range serialGlobs {
		ms, _ := filepath.Glob(filepath.Join(root, g)) // only ErrBadPattern, and the patterns are ours
		if !strings.Contains(g, "by-id") {
			slices.SortFunc(ms, byNumber) // ttyUSB2 before ttyUSB10; by-id names stay alphabetical
		}
		for _, m := range ms {
			p := "/" + filepath.ToSlash(strings.TrimPrefix(m, filepath.Clean(root)))
			p = path.Clean(p)
			sp := SerialPort{Path: p}
			if t := resolve(root, p); t != p {
				sp.Target = t
			}
			out = append(out, sp)
		}
	}
	return out
}

// resolve follows the links of p (a path on the box) inside root and
// returns the path on the box it ends at; p itself when it is no link or
// cannot be followed.
func resolve(root, p string) string {
	cur := p
	for range 8 {
		target, err := os.Readlink(filepath.Join(root, cur))
		if err != nil {
			return cur
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(cur), target)
		}
		cur = path.Clean(target)
	}
	return cur
}

// Consoles returns the devices the kernel command line under root
// (proc/cmdline) makes consoles, as written: "serial0", "ttyAMA0", "tty1".
// Pi OS ships console=serial0,115200 until the serial console is turned
// off; getty then runs a login prompt on it too.
func Consoles(root string) []string {
	b, err := os.ReadFile(filepath.Join(root, "proc/cmdline"))
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range strings.Fields(string(b)) {
		v, ok := strings.CutPrefix(f, "console=")
		if !ok {
			continue
		}
		dev, _, _ := strings.Cut(v, ",") // "serial0,115200"
		if dev != "" && !slices.Contains(out, dev) {
			out = append(out, dev)
		}
	}
	return out
}

// ConsoleOf reports which console of consoles (as Consoles returns them)
// port is, following links under root: "/dev/ttyS0" is console=serial0
// when /dev/serial0 links to ttyS0.
func ConsoleOf(root, port string, consoles []string) (string, bool) {
	if port == "" {
		return "", false
	}
	dev := resolve(root, path.Clean(port))
	for _, c := range consoles {
		cdev := "/dev/" + c
		if cdev == path.Clean(port) || resolve(root, cdev) == dev {
			return c, true
		}
	}
	return "", false
}

// CheckSerial warns about every sensor whose serial port is a console of
// the kernel command line under root: the kernel's messages and getty's
// login prompt share the line with the device, which then reads garbage
// and answers it. Findings are warnings keyed "port": a box may boot with
// the console on purpose while its sensor is being commissioned.
func (p Profile) CheckSerial(root string, uses []Use) []Finding {
	if p.Name == Sim.Name {
		return nil // not the box: its command line is not this machine's
	}
	consoles := Consoles(root)
	if len(consoles) == 0 {
		return nil
	}
	var out []Finding
	for i, u := range uses {
		c, ok := ConsoleOf(root, u.Port, consoles)
		if !ok || u.Disabled {
			continue
		}
		where := "cmdline.txt"
		if p.ConfigFile != "" {
			where = path.Join(path.Dir(p.ConfigFile), "cmdline.txt")
		}
		out = append(out, Finding{Use: i, Key: "port", Warning: true, Msg: fmt.Sprintf(
			"%s is the login console (console=%s in /proc/cmdline): the kernel and getty write to it too, so the device reads their text and its answers get mixed with it; remove console=%s… from %s (raspi-config: Interface Options, Serial Port: login shell No, hardware Yes) and reboot",
			u.Port, c, c, where)})
	}
	return out
}
