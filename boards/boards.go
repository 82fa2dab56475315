package boards

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Profile describes a board.
type Profile struct {
	Name  string // short id: "sim", "rpi4b", "generic-arm"
	Model string // as the firmware names it (Detect sets the machine's own)
	SoC   string // "BCM2711"; "" when unknown

	// Buses the board can have, each with the config.txt line enabling it.
	Buses []Bus
	// Header is the 40-pin header, pin 1 first; nil when the board has no
	// header we know.
	Header []HeaderPin
	// AnyBus accepts every well-formed bus name: on a generic board the
	// numbers come from its device tree.
	AnyBus bool
	// AnyPin accepts every pin name: gpiochip line names vary by board.
	AnyPin bool

	// ConfigFile is where the bus-enable lines go.
	ConfigFile string
	// Groups the service user must be in to open the buses and pins.
	Groups []string
	// Notes are caveats a technician should read before wiring.
	Notes []string
	// UARTEnable is the config.txt line that puts a UART on the header;
	// SerialNotes say which device it is and what else to turn off.
	UARTEnable  string
	SerialNotes []string

	// match lists lower-case substrings of /proc/device-tree/model.
	match []string
}

// BusKind tells I2C from SPI from 1-Wire.
type BusKind string

const (
	I2C     BusKind = "I2C"
	SPI     BusKind = "SPI"
	OneWire BusKind = "1-Wire"
)

// Bus is one bus a board can have.
type Bus struct {
	Kind BusKind
	// Name is the canonical name, as periph opens it: "1", "SPI0.1", "w1".
	Name string
	// Dev is its device node: "/dev/i2c-1", "/dev/spidev0.1".
	Dev string
	// Pins are the GPIOs the bus takes once enabled, so no sensor may use
	// them as plain GPIO. Empty when the pins are chosen in the overlay.
	Pins []BusPin
	// Enable is the config.txt line that creates it.
	Enable string
	// Reserved, when set, says why a sensor should not use this bus.
	Reserved string
}

// BusPin is one GPIO a bus takes, with its role on the bus.
type BusPin struct {
	GPIO string // "GPIO2"
	Role string // "SDA"
}

// HeaderPin is one pin of the 40-pin header.
type HeaderPin struct {
	Pin  int    // physical pin, 1–40
	Name string // "GPIO2", or "3V3", "5V", "GND"
	Func string // what else it is: "SDA1", "ID_SD", "SPI0 CE0"
}

// IsGPIO reports whether the pin is a GPIO rather than power or ground.
func (h HeaderPin) IsGPIO() bool { return strings.HasPrefix(h.Name, "GPIO") }

// Sim is the simulated board: no buses, sim sensors only.
var Sim = Profile{
	Name:  "sim",
	Model: "simulated board (no device tree)",
	Notes: []string{
		"no device tree on this machine (a laptop, CI or qemu): only drivers without a bus or pin (sim, system, exec) can read here",
		"hardware sensors in the config are warnings, not errors: set [device] board = \"rpi4b\" (or another board) to check them here against that board",
	},
}

// Lookup returns the profile named name.
func Lookup(name string) (Profile, bool) {
	for _, p := range profiles {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Profile{}, false
}

// Names lists the profiles' names, in the order Detect tries them, "sim" last.
func Names() []string {
	out := make([]string, len(profiles))
	for i, p := range profiles {
		out[i] = p.Name
	}
	return out
}

// clone copies the slices so that a caller's edits never reach the table.
func (p Profile) clone() Profile {
	p.Buses = slices.Clone(p.Buses)
	p.Header = slices.Clone(p.Header)
	p.Groups = slices.Clone(p.Groups)
	p.Notes = slices.Clone(p.Notes)
	p.SerialNotes = slices.Clone(p.SerialNotes)
	return p
}

// Device-tree files, tried in order: /proc/device-tree is a link to the
// firmware's tree, and is hidden by systemd's ProcSubset=pid.
var (
	modelFiles  = []string{"proc/device-tree/model", "sys/firmware/devicetree/base/model"}
	serialFiles = []string{"proc/device-tree/serial-number", "sys/firmware/devicetree/base/serial-number"}
)

// Detect reads the device-tree model under root ("/" on a box; a fixture
// tree in tests) and returns the matching profile, with Model set to the
// machine's own model string. Without a device tree it is Sim.
func Detect(root string) Profile {
	p, _ := Identify(root)
	return p
}

// Identify is Detect that also returns the board serial from the device
// tree ("" when there is none), e.g. "10000000c0ffee42" on a Pi.
func Identify(root string) (p Profile, serial string) {
	model, ok := readDT(root, modelFiles)
	if !ok || model == "" {
		return Sim.clone(), ""
	}
	serial, _ = readDT(root, serialFiles)
	p = forModel(model)
	p.Model = model
	return p, serial
}

// readDT reads the first of files that exists under root, without the
// device tree's NUL terminator.
func readDT(root string, files []string) (string, bool) {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		return strings.TrimSpace(string(bytes.TrimRight(b, "\x00"))), true
	}
	return "", false
}

// forModel picks the first profile whose match strings occur in model;
// any other board with a device tree is generic-arm.
func forModel(model string) Profile {
	m := strings.ToLower(model)
	for _, p := range profiles {
		for _, s := range p.match {
			if strings.Contains(m, s) {
				return p.clone()
			}
		}
	}
	p, _ := Lookup("generic-arm")
	return p
}

// Bus returns the board's bus of that name, in any accepted spelling.
func (p Profile) Bus(name string) (Bus, bool) {
	kind, canon, ok := ParseBus(name)
	if !ok {
		return Bus{}, false
	}
	for _, b := range p.Buses {
		if b.Kind == kind && b.Name == canon {
			return b, true
		}
	}
	return Bus{}, false
}

// HeaderGPIOs lists the header's GPIO names in GPIO order: GPIO0 … GPIO27.
func (p Profile) HeaderGPIOs() []string {
	var out []string
	for _, h := range p.Header {
		if h.IsGPIO() {
			out = append(out, h.Name)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return gpioNumber(a) - gpioNumber(b) })
	return out
}

// HeaderPinOf returns the header pin of a GPIO ("GPIO2" → pin 3).
func (p Profile) HeaderPinOf(gpio string) (HeaderPin, bool) {
	for _, h := range p.Header {
		if h.Name == gpio {
			return h, true
		}
	}
	return HeaderPin{}, false
}

// EnableLines returns the config.txt lines for the buses named, once each,
// in the order given; names the board does not have are skipped.
func (p Profile) EnableLines(buses ...string) []string {
	var out []string
	for _, n := range buses {
		if b, ok := p.Bus(n); ok && b.Enable != "" && !slices.Contains(out, b.Enable) {
			out = append(out, b.Enable)
		}
	}
	return out
}
