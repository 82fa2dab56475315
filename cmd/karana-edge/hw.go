package main

// The technician's verbs: board, scan and read. Each works out what to print
// with pure functions (renderBoard, renderScan, hardwareHint) that the tests
// feed fixtures, and touches hardware only where the verb must.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"

	// Every driver, so that scan names the chips in the registry and read
	// and check know every driver a site's config uses.
	_ "github.com/karana-energy/karana-edge/sensors/all"
)

// hwRoot is where the board and its device nodes are looked up ("/" on a
// box); tests point it at a fixture tree.
var hwRoot = "/"

// openI2C opens a bus for scan; tests hand out a fake bus.
var openI2C = func(name string) (i2c.BusCloser, error) { return i2cbus.Open(name) }

// cmdBoard prints the detected (or, with -config, the configured) board,
// the buses this machine has, the header map and what to enable.
func cmdBoard(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge board", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "use the config's [device] board and list what its sensors need")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "karana-edge board: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	detected, serial := boards.Identify(hwRoot)
	info := boardInfo{Profile: detected, Serial: serial, Source: "detected from /proc/device-tree/model"}
	if detected.Name == boards.Sim.Name {
		info.Source = "" // its model says it all
	}
	if *cfgPath != "" {
		cfg, ok := load(*cfgPath, stderr)
		if !ok {
			return exitConfig
		}
		if cfg.Device.Board != agent.DefaultBoard {
			info.Profile = cfg.Board
			info.Source = fmt.Sprintf("[device] board in %s", cfg.File)
			if detected.Name != cfg.Board.Name {
				info.Source += fmt.Sprintf("; this machine is %s", detected.Name)
			}
		}
		for _, s := range cfg.Sensors {
			if bu, ok := s.Options.(sensors.BusUser); ok && !s.Disabled && bu.BusName() != "" {
				info.Used = append(info.Used, bu.BusName())
			}
			if sp, ok := s.Options.(sensors.SerialPortUser); ok && !s.Disabled && sp.SerialPort() != "" && !slices.Contains(info.Ports, sp.SerialPort()) {
				info.Ports = append(info.Ports, sp.SerialPort())
			}
		}
		if len(info.Used) == 0 {
			info.Used = []string{} // the config needs no bus: enable nothing
		}
	}
	info.Consoles = boards.Consoles(hwRoot)
	renderBoard(stdout, info, boards.Devices(hwRoot))
	return exitOK
}

// boardLine is check's note of the board the sensors were checked against.
func boardLine(cfg *agent.Config) string {
	how := "set in [device] board"
	if cfg.Device.Board == agent.DefaultBoard {
		how = "detected"
	}
	if cfg.Board.Name == boards.Sim.Name {
		return fmt.Sprintf("# board sim (%s: no device tree): sensors that need a bus or pin are only warned about", how)
	}
	return fmt.Sprintf("# board %s (%s, %s): sensors' buses and pins are checked against it", cfg.Board.Name, cfg.Board.Model, how)
}

// boardInfo is what renderBoard shows besides the machine's devices.
type boardInfo struct {
	Profile boards.Profile
	Serial  string
	Source  string // how the profile was chosen
	// Used are the buses the configured sensors use; nil when no config
	// was given (then the usual buses' enable lines are suggested).
	Used []string
	// Ports are the serial ports the configured sensors open.
	Ports []string
	// Consoles are the kernel's consoles (boards.Consoles).
	Consoles []string
}

// renderBoard writes the board report: the board itself, its buses, the
// header map, and what to enable.
func renderBoard(w io.Writer, info boardInfo, pr boards.Present) {
	p := info.Profile
	renderBoardSummary(w, info, pr)
	fmt.Fprintln(w, "\nbuses")
	renderBuses(w, p, pr)
	renderSerial(w, info, pr)
	renderHeaderSection(w, p)
	lines := missingEnables(p, pr, info.Used)
	if l := uartEnable(p, pr, info.Ports); l != "" {
		lines = append(lines, l)
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nto enable what is missing, add to %s and reboot:\n", p.ConfigFile)
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes")
		for _, n := range p.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

// renderBoardSummary writes the board, SoC, serial, boot config file,
// groups and GPIO chips as one aligned block.
func renderBoardSummary(w io.Writer, info boardInfo, pr boards.Present) {
	p := info.Profile
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	if info.Source != "" {
		fmt.Fprintf(tw, "board\t%s: %s (%s)\n", p.Name, p.Model, info.Source)
	} else {
		fmt.Fprintf(tw, "board\t%s: %s\n", p.Name, p.Model)
	}
	if p.SoC != "" {
		fmt.Fprintf(tw, "soc\t%s\n", p.SoC)
	}
	if info.Serial != "" {
		fmt.Fprintf(tw, "serial\t%s\n", info.Serial)
	}
	if p.ConfigFile != "" {
		fmt.Fprintf(tw, "config\t%s\n", p.ConfigFile)
	}
	if len(p.Groups) > 0 {
		fmt.Fprintf(tw, "groups\t%s (the service user needs them: SupplementaryGroups=%s)\n", strings.Join(p.Groups, ", "), strings.Join(p.Groups, " "))
	}
	chips := "none"
	if len(pr.GPIOChips) > 0 {
		chips = strings.Join(pr.GPIOChips, ", ")
	}
	fmt.Fprintf(tw, "gpio\t%s\n", chips)
}

// renderBuses lists the profile's buses with their state and wiring, then
// the buses present that the profile does not know, then the buses whose
// pins an overlay chooses (summarised on one line, since they have no
// fixed pins to show).
func renderBuses(w io.Writer, p boards.Profile, pr boards.Present) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	known := map[string]bool{}
	overlay := map[boards.BusKind][]string{}
	for _, b := range p.Buses {
		known[string(b.Kind)+" "+b.Name] = true
		here := pr.Has(b.Name)
		if !here && len(b.Pins) == 0 && b.Kind != boards.OneWire {
			overlay[b.Kind] = append(overlay[b.Kind], b.Name)
			continue
		}
		state := "absent"
		if here {
			state = "present"
		}
		fmt.Fprintf(tw, "  %s\t%q\t%s\t%s\t%s\n", b.Kind, b.Name, b.Dev, state, busDetail(p, b, here))
	}
	for _, n := range pr.I2C {
		if !known["I2C "+n] {
			fmt.Fprintf(tw, "  I2C\t%q\t/dev/i2c-%s\tpresent\t%s\n", n, n, otherBus(p))
		}
	}
	for _, n := range pr.SPI {
		if !known["SPI "+n] {
			fmt.Fprintf(tw, "  SPI\t%q\t%s\tpresent\t%s\n", n, "/dev/spidev"+strings.TrimPrefix(n, "SPI"), otherBus(p))
		}
	}
	if pr.OneWire && !known["1-Wire w1"] {
		fmt.Fprintf(tw, "  1-Wire\t%q\t/sys/bus/w1/devices\tpresent\t\n", "w1")
	}
	tw.Flush()
	if len(p.Buses) == 0 && len(pr.I2C)+len(pr.SPI) == 0 && !pr.OneWire {
		fmt.Fprintln(w, "  none")
	}
	var parts []string
	if l := overlay[boards.I2C]; len(l) > 0 {
		parts = append(parts, "I2C "+strings.Join(l, ", "))
	}
	if l := overlay[boards.SPI]; len(l) > 0 {
		parts = append(parts, strings.Join(l, ", "))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  also by overlay (absent): %s\n", strings.Join(parts, "; "))
	}
}

// busDetail is the last column of a bus row: its pins, or why it cannot be
// used, or how to enable it.
func busDetail(p boards.Profile, b boards.Bus, here bool) string {
	detail := pinList(p, wiringPins(b))
	if b.Kind == boards.OneWire {
		detail = "data on GPIO4 (pin 7) unless the overlay's gpiopin= says otherwise; 4.7kΩ pull-up to 3V3"
	}
	switch {
	case b.Reserved != "":
		detail = "reserved: " + b.Reserved
	case !here:
		detail += "; enable: " + b.Enable
	}
	return strings.TrimPrefix(detail, "; ")
}

// renderHeaderSection writes the header map, or says why there is none.
func renderHeaderSection(w io.Writer, p boards.Profile) {
	fmt.Fprintln(w)
	switch {
	case len(p.Header) > 0:
		fmt.Fprintln(w, "header (pin 1 is the square pad; odd pins on the inner row, even pins on the board edge)")
		renderHeader(w, p.Header)
	case p.Name == boards.Sim.Name:
		fmt.Fprintln(w, "header: none (simulated board)")
	default:
		fmt.Fprintln(w, "header: not known for this board: see its pinout; gpioinfo lists the gpiochip lines")
	}
}

// otherBus describes a bus the profile does not list.
func otherBus(p boards.Profile) string {
	if p.AnyBus || p.Name == boards.Sim.Name {
		return ""
	}
	return "not on the header (HDMI, camera or an overlay the profile does not know)"
}

// pinList writes a bus's pins with their header pins: "SDA GPIO2 (pin 3)".
func pinList(p boards.Profile, pins []boards.BusPin) string { return p.PinList(pins) }

// wiringPins are the pins a sensor on the bus is wired to: an SPI port's
// own chip select, not the others its overlay also claims.
func wiringPins(b boards.Bus) []boards.BusPin {
	if b.Kind != boards.SPI {
		return b.Pins
	}
	_, cs, _ := strings.Cut(b.Name, ".")
	return slices.DeleteFunc(slices.Clone(b.Pins), func(bp boards.BusPin) bool {
		return strings.HasPrefix(bp.Role, "CE") && bp.Role != "CE"+cs
	})
}

// missingEnables are the config.txt lines for buses that are absent: those
// the config's sensors use, or without a config the usual ones (I2C 1 and
// SPI0, enabled by dtparam).
func missingEnables(p boards.Profile, pr boards.Present, used []string) []string {
	if p.ConfigFile == "" {
		return nil
	}
	var want []string
	if used == nil {
		for _, b := range p.Buses {
			if b.Reserved == "" && strings.HasPrefix(b.Enable, "dtparam=") {
				want = append(want, b.Name)
			}
		}
	} else {
		want = used
	}
	var missing []string
	for _, n := range want {
		if !pr.Has(n) {
			missing = append(missing, n)
		}
	}
	return p.EnableLines(missing...)
}

// renderHeader writes the header in two columns, as it sits on the board:
//
//	        3V3  1 | 2  5V
//	SDA1  GPIO2  3 | 4  5V
func renderHeader(w io.Writer, header []boards.HeaderPin) {
	funcW, nameW := 0, 0
	for i, h := range header {
		nameW = max(nameW, len(h.Name))
		if i%2 == 0 {
			funcW = max(funcW, len(h.Func))
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		l, r := header[i], header[i+1]
		line := fmt.Sprintf("  %*s  %*s %2d | %-2d %-*s  %s", funcW, l.Func, nameW, l.Name, l.Pin, r.Pin, nameW, r.Name, r.Func)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// cmdScan scans an I2C bus and names the chips likely at each address.
func cmdScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	busFlag := fs.String("bus", "", "I2C bus to scan (default \"1\", the Raspberry Pi header bus)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "karana-edge scan: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	bus := *busFlag
	if bus == "" {
		bus = i2cbus.DefaultBus
	}
	kind, canon, ok := boards.ParseBus(bus)
	if !ok || kind != boards.I2C {
		fmt.Fprintf(stderr, "karana-edge scan: %q is not an I2C bus: give its number (-bus 1)\n", bus)
		return exitConfig
	}
	board := boards.Detect(hwRoot)
	pr := boards.Devices(hwRoot)
	if !pr.Has(canon) {
		fmt.Fprintln(stderr, noBusMessage(board, pr, canon))
		return exitFailure
	}
	if board.Name == boards.Sim.Name && *busFlag == "" {
		fmt.Fprintf(stderr, "no board detected (no device tree): /dev/i2c-%s is probably this computer's own SMBus or a display's DDC bus, where a scan can upset some chips; run karana-edge scan -bus %s to scan it anyway\n", canon, canon)
		return exitFailure
	}
	b, err := openI2C(canon)
	if err != nil {
		fmt.Fprintf(stderr, "karana-edge scan: %v\n", err)
		return exitFailure
	}
	found := i2cbus.Scan(b)
	if err := b.Close(); err != nil {
		fmt.Fprintf(stderr, "karana-edge scan: close bus %s: %v\n", canon, err)
	}
	wiring := ""
	if pb, ok := board.Bus(canon); ok && len(pb.Pins) > 0 {
		wiring = pinList(board, pb.Pins) + ", 3V3 and GND"
	}
	renderScan(stdout, canon, found, i2cbus.LikelyChips, wiring)
	return exitOK
}

// noBusMessage says a bus is missing and how to enable it on this board.
func noBusMessage(board boards.Profile, pr boards.Present, canon string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "no I2C bus %q on this machine: ", canon)
	pb, known := board.Bus(canon)
	switch {
	case known && pb.Reserved != "":
		fmt.Fprintf(&b, "bus %q is reserved: %s", canon, pb.Reserved)
	case known && board.ConfigFile != "":
		fmt.Fprintf(&b, "is I2C enabled? add %s to %s and reboot", pb.Enable, board.ConfigFile)
	case board.Name == boards.Sim.Name && canon == i2cbus.DefaultBus:
		// Most likely a laptop, or a Pi without a device tree in reach:
		// say what the box needs.
		b.WriteString("is I2C enabled? add dtparam=i2c_arm=on to /boot/firmware/config.txt and reboot (on a Raspberry Pi)")
	case board.AnyBus:
		b.WriteString("is I2C enabled? enable the bus in the board's device tree (its overlays) and reboot")
	default:
		fmt.Fprintf(&b, "board %s has no such bus", board.Name)
	}
	if len(pr.I2C) > 0 {
		fmt.Fprintf(&b, " (buses present: %s)", strings.Join(pr.I2C, ", "))
	}
	return b.String()
}

// renderScan writes an i2cdetect-style grid of the answering addresses,
// then each one with the registered drivers whose chips can sit there.
// wiring, when known, names the bus pins for the nothing-answered hint.
func renderScan(w io.Writer, bus string, found []uint16, likely func(uint16) []string, wiring string) {
	chips := "chips"
	if len(found) == 1 {
		chips = "chip"
	}
	fmt.Fprintf(w, "I2C bus %s: %d %s answered (0x%02x–0x%02x probed with a one-byte read, like i2cdetect -r)\n",
		bus, len(found), chips, i2cbus.FirstAddr, i2cbus.LastAddr)
	fmt.Fprint(w, "    ")
	for c := 0; c < 16; c++ {
		fmt.Fprintf(w, "  %x", c)
	}
	fmt.Fprintln(w)
	for row := uint16(0); row < 0x80; row += 0x10 {
		fmt.Fprintf(w, "%02x:", row)
		for a := row; a < row+0x10; a++ {
			switch {
			case a < i2cbus.FirstAddr || a > i2cbus.LastAddr:
				if a > i2cbus.LastAddr {
					continue
				}
				fmt.Fprint(w, "   ")
			case slices.Contains(found, a):
				fmt.Fprintf(w, " %02x", a)
			default:
				fmt.Fprint(w, " --")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if len(found) == 0 {
		fmt.Fprint(w, "no chip answered: check the wiring")
		if wiring != "" {
			fmt.Fprintf(w, " (%s)", wiring)
		}
		fmt.Fprintln(w, ", the pull-ups and the chip's power; a chip that answers only while it measures (SHT3x) may not show")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range found {
		names := likely(a)
		what := strings.Join(names, ", ")
		if len(names) == 0 {
			what = "no driver knows this address (driver i2c-register reads any chip's registers)"
		}
		fmt.Fprintf(tw, "0x%02x\t%s\n", a, what)
	}
	tw.Flush()
}

// cmdRead reads configured sensors once and prints their values, units and
// how long each read took. Named sensors are read even when disabled, so a
// sensor can be commissioned before it is enabled.
func cmdRead(args []string, stdout, stderr io.Writer) int {
	fs, cfgPath := flags("read", stderr)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	cfg, ok := load(*cfgPath, stderr)
	if !ok {
		return exitConfig
	}
	list, unknown := pickSensors(cfg.Sensors, fs.Args())
	if len(unknown) > 0 {
		var names []string
		for _, s := range cfg.Sensors {
			names = append(names, s.Name)
		}
		for _, n := range unknown {
			fmt.Fprintf(stderr, "karana-edge read: no sensor %q in %s (sensors: %s)\n", n, cfg.File, strings.Join(names, ", "))
		}
		return exitConfig
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "karana-edge read: no enabled sensors in %s\n", cfg.File)
		return exitOK
	}
	pr := boards.Devices(hwRoot)
	status := exitOK
	for _, sc := range list {
		if !readOne(stdout, stderr, sc, cfg.Board, pr) {
			status = exitFailure
		}
	}
	return status
}

// pickSensors returns the sensors named, in the order named, or every
// enabled sensor when none is; unknown lists names not in the config.
func pickSensors(all []sensors.Config, names []string) (list []sensors.Config, unknown []string) {
	if len(names) == 0 {
		for _, s := range all {
			if !s.Disabled {
				list = append(list, s)
			}
		}
		return list, nil
	}
	for _, n := range names {
		i := slices.IndexFunc(all, func(s sensors.Config) bool { return s.Name == n })
		if i < 0 {
			unknown = append(unknown, n)
			continue
		}
		list = append(list, all[i])
	}
	return list, unknown
}

// readOne reads one sensor and prints it; false when it failed.
func readOne(stdout, stderr io.Writer, sc sensors.Config, board boards.Profile, pr boards.Present) bool {
	title := fmt.Sprintf("%s (%s", sc.Name, sc.Driver)
	if bu, ok := sc.Options.(sensors.BusUser); ok && bu.BusName() != "" {
		if kind, canon, ok := boards.ParseBus(bu.BusName()); ok {
			title += fmt.Sprintf(", %s %s", kind, canon)
		}
	}
	if pu, ok := sc.Options.(sensors.SerialPortUser); ok && pu.SerialPort() != "" {
		title += ", " + pu.SerialPort()
	}
	title += ")"
	if sc.Disabled {
		title += " [disabled in the config: read anyway]"
	}
	d, ok := sensors.Lookup(sc.Driver)
	if !ok {
		fmt.Fprintf(stderr, "%s: driver %q is not in this build\n", title, sc.Driver)
		return false
	}
	s, err := d.New(sc.Name, sc.Options)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", title, err)
		return false
	}
	start := time.Now()
	rs, err := sensors.ReadOnce(context.Background(), sensors.Configured{Config: sc, Sensor: s})
	took := time.Since(start)
	fmt.Fprintf(stdout, "%s: read in %s\n", title, formatTook(took))
	writeValues(stdout, rs)
	if id, ok := s.(sensors.Identifier); ok && id.Identity() != "" {
		fmt.Fprintf(stdout, "  device: %s\n", id.Identity())
	}
	if err == nil {
		return true
	}
	fmt.Fprintf(stderr, "%s: %v\n", sc.Name, err)
	for _, h := range hardwareHint(sc, err, board, pr) {
		fmt.Fprintf(stderr, "  check: %s\n", h)
	}
	return false
}

// writeValues writes one reading a line: series, value aligned on the
// right, unit.
func writeValues(w io.Writer, rs []reading.Reading) {
	nameW, valW := 0, 0
	vals := make([]string, len(rs))
	for i, r := range rs {
		vals[i] = formatValue(r.Value)
		nameW, valW = max(nameW, len(r.Name)), max(valW, len(vals[i]))
	}
	for i, r := range rs {
		fmt.Fprintf(w, "  %-*s  %*s %s\n", nameW, r.Name, valW, vals[i], r.Unit)
	}
}

// formatValue prints a value in plain decimals, as short as round-trips
// ("9123904.4", "0.001"), with an exponent only when it is far from 1.
func formatValue(v float64) string {
	if a := math.Abs(v); a != 0 && (a < 1e-4 || a >= 1e15) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatTook rounds a read's duration for people: "85µs", "12.4ms", "1.2s".
func formatTook(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// hardwareHint is what `read` prints after a failed read; the page's
// sensor tiles show the same (sensors.Hint).
var hardwareHint = sensors.Hint
