package main

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/karana-energy/karana-edge/boards"
)

// renderSerial lists the serial ports present, which of them is a login
// console or used by the config, the ports the config names that are not
// here, and the board's serial notes.
func renderSerial(w io.Writer, info boardInfo, pr boards.Present) {
	fmt.Fprintln(w, "\nserial ports")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	seen := map[string]bool{}
	for _, sp := range pr.Serial {
		seen[sp.Path] = true
		name := sp.Path
		if sp.Target != "" {
			name += " -> " + sp.Target
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, serialDetail(info, sp))
	}
	tw.Flush()
	if len(pr.Serial) == 0 {
		fmt.Fprintln(w, "  none (a USB adapter appears as /dev/ttyUSB0 or /dev/ttyACM0; the header UART needs enabling, see below)")
	}
	for _, p := range info.Ports {
		if !seen[path.Clean(p)] {
			fmt.Fprintf(w, "  %s  absent: used by the config; is the adapter plugged in (dmesg | grep tty), or the UART enabled?\n", p)
		}
	}
	fmt.Fprintln(w, "  the service user needs group dialout to open them (the packaged unit has SupplementaryGroups=dialout)")
	for _, n := range info.Profile.SerialNotes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

// serialDetail is what a port row says besides its name.
func serialDetail(info boardInfo, sp boards.SerialPort) string {
	var parts []string
	if c, ok := boards.ConsoleOf(hwRoot, sp.Path, info.Consoles); ok {
		parts = append(parts, fmt.Sprintf("LOGIN CONSOLE (console=%s in /proc/cmdline): not usable for a device until it is turned off", c))
	}
	for _, p := range info.Ports {
		if path.Clean(p) == sp.Path {
			parts = append(parts, "used by the config")
		}
	}
	dev := path.Base(sp.Device())
	switch {
	case strings.HasPrefix(dev, "ttyUSB"):
		parts = append(parts, "USB serial adapter")
	case strings.HasPrefix(dev, "ttyACM"):
		parts = append(parts, "USB CDC-ACM device")
	case strings.HasPrefix(dev, "ttyAMA"):
		parts = append(parts, "PL011 UART")
	case strings.HasPrefix(dev, "ttyS") && info.Profile.UARTEnable != "":
		parts = append(parts, "mini UART")
	}
	return strings.Join(parts, "; ")
}

// uartEnable is the config.txt line that creates the UART a configured
// port names when that port is absent: "enable_uart=1" for /dev/serial0.
func uartEnable(p boards.Profile, pr boards.Present, ports []string) string {
	if p.UARTEnable == "" {
		return ""
	}
	for _, port := range ports {
		port = path.Clean(port)
		here := slices.ContainsFunc(pr.Serial, func(sp boards.SerialPort) bool { return sp.Path == port })
		base := path.Base(port)
		uart := strings.HasPrefix(base, "serial") && !strings.Contains(port, "/by-") ||
			strings.HasPrefix(base, "ttyAMA") || strings.HasPrefix(base, "ttyS")
		if uart && !here {
			return p.UARTEnable
		}
	}
	return ""
}
