package boards

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Use is what one configured sensor takes, as its driver options say
// (sensors.BusUser, sensors.PinUser, sensors.SerialPortUser).
type Use struct {
	Sensor   string   // the sensor's name
	Driver   string   // its driver
	Bus      string   // "" when it uses none
	Pins     []string // GPIO names
	Port     string   // serial device ("/dev/ttyUSB0"); "" when it uses none
	Disabled bool     // problems are then warnings: it is never read
}

// Finding is one problem Check found with one sensor's bus or pin.
type Finding struct {
	Use  int    // index of the Use in Check's argument
	Key  string // "bus" or "pin"
	Item int    // for "pin": which of the sensor's pins (0 for the first)
	Msg  string
	// Warning marks what loads but is probably not meant, or cannot be
	// checked here; anything else is an error.
	Warning bool
}

// Check validates the sensors' buses and pins against the board without
// touching hardware. See the package doc for the rules.
func (p Profile) Check(uses []Use) []Finding {
	if p.Name == Sim.Name {
		return p.checkSim(uses)
	}
	c := &checker{p: p, uses: uses, taken: map[string]claim{}}
	c.buses()
	c.pins()
	return c.out
}

// claim says who holds a GPIO: a bus's pins are taken from plain GPIO use
// once a sensor uses the bus.
type claim struct {
	use  int
	what string // `SDA of I2C bus "1"`, or "" for a plain pin
}

// checker holds one Check's findings and the pins claimed so far, so that
// a pin is reported against the first sensor that took it.
type checker struct {
	p     Profile
	uses  []Use
	taken map[string]claim
	out   []Finding
}

// add records a finding; on a disabled sensor an error becomes a warning,
// since it does not stop the box.
func (c *checker) add(u int, key string, item int, warn bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.uses[u].Disabled && !warn {
		msg += " (the sensor is disabled, so it is a warning)"
		warn = true
	}
	c.out = append(c.out, Finding{Use: u, Key: key, Item: item, Msg: msg, Warning: warn})
}

// buses checks each sensor's bus name against the board and claims the
// pins of the buses in use.
func (c *checker) buses() {
	p := c.p
	for i, u := range c.uses {
		if u.Bus == "" {
			continue
		}
		kind, canon, ok := ParseBus(u.Bus)
		if !ok {
			c.add(i, "bus", 0, false, "%q is not a bus name: use an I2C bus number (\"1\"), an SPI port (\"SPI0.0\", \"SPI0.1\") or \"w1\" for 1-Wire", u.Bus)
			continue
		}
		if p.AnyBus {
			continue
		}
		b, ok := p.Bus(canon)
		if !ok {
			c.add(i, "bus", 0, false, "board %s has no %s %q (%s)", p.Name, busNoun(kind), canon, p.busList(kind))
			continue
		}
		if b.Reserved != "" {
			c.add(i, "bus", 0, true, "%s %q is reserved: %s", busNoun(kind), canon, b.Reserved)
		}
		if u.Disabled {
			continue
		}
		for _, bp := range b.Pins {
			if _, dup := c.taken[bp.GPIO]; !dup {
				c.taken[bp.GPIO] = claim{i, fmt.Sprintf("%s of %s %q", bp.Role, busNoun(kind), canon)}
			}
		}
	}
}

// firstW1 is the first enabled sensor on 1-Wire, which takes whichever
// GPIO its overlay names (GPIO4 by default), or -1.
func (c *checker) firstW1() int {
	for i, u := range c.uses {
		if kind, _, _ := ParseBus(u.Bus); kind == OneWire && !u.Disabled && !c.p.AnyPin {
			return i
		}
	}
	return -1
}

// pins checks each sensor's pins against the header and against the pins
// already claimed by buses and by earlier sensors.
func (c *checker) pins() {
	w1 := c.firstW1()
	for i, u := range c.uses {
		for j, pin := range u.Pins {
			name, ok := c.p.checkPin(pin, func(warn bool, format string, args ...any) {
				c.add(i, "pin", j, warn, format, args...)
			})
			if !ok || u.Disabled {
				continue
			}
			if cl, dup := c.taken[name]; dup {
				c.conflict(i, j, name, cl)
				continue
			}
			if name == w1DefaultGPIO && w1 >= 0 {
				c.add(i, "pin", j, true, "%s is the 1-Wire data pin by default, and sensor %q uses 1-Wire: fine only if dtoverlay=w1-gpio,gpiopin= names another GPIO", name, c.uses[w1].Sensor)
			}
			c.taken[name] = claim{use: i}
		}
	}
}

func (c *checker) conflict(i, j int, name string, cl claim) {
	who := fmt.Sprintf("sensor %q", c.uses[cl.use].Sensor)
	if cl.use == i {
		who = "this sensor"
	}
	if cl.what != "" {
		c.add(i, "pin", j, false, "%s is %s, which %s uses: pick another GPIO", name, cl.what, who)
	} else {
		c.add(i, "pin", j, false, "%s is also used by %s: one pin, one sensor", name, who)
	}
}

// w1DefaultGPIO is the w1-gpio overlay's default data pin.
const w1DefaultGPIO = "GPIO4"

// checkPin reports what is wrong with one pin name and returns its GPIO
// name; ok is false when there is no such GPIO to claim.
func (p Profile) checkPin(pin string, report func(warn bool, format string, args ...any)) (name string, ok bool) {
	if strings.TrimSpace(pin) == "" {
		return "", false // "must be set" is the driver's to say
	}
	if p.AnyPin {
		return strings.TrimSpace(pin), true
	}
	name, h, physical := p.ParsePin(pin)
	switch {
	case physical && name == "":
		report(false, "board %s has no physical pin %q (the header has pins 1–%d)", p.Name, pin, len(p.Header))
		return "", false
	case name == "":
		report(false, "%q is not a pin name: use a GPIO name such as \"GPIO17\" (or a header pin, \"P1_11\")", pin)
		return "", false
	case h.Pin != 0 && !h.IsGPIO():
		report(false, "%q is header pin %d, %s: not a GPIO", pin, h.Pin, h.Name)
		return "", false
	case h.Pin == 0:
		report(false, "board %s has no pin %q (header GPIOs: %s)", p.Name, pin, gpioRange(p.usableGPIOs()))
		return "", false
	}
	if why, reserved := reservedGPIOs[name]; reserved {
		report(true, "%s is %s: use another GPIO", name, why)
	}
	return name, true
}

// checkSim warns once per sensor that needs hardware: the sim board has
// none, and the config is probably a real site's checked on a laptop.
func (p Profile) checkSim(uses []Use) []Finding {
	var out []Finding
	for i, u := range uses {
		var what []string
		key := "pin"
		if u.Bus != "" {
			key = "bus"
			if kind, canon, ok := ParseBus(u.Bus); ok {
				what = append(what, fmt.Sprintf("%s %q", busNoun(kind), canon))
			} else {
				what = append(what, fmt.Sprintf("bus %q", u.Bus))
			}
		}
		switch len(u.Pins) {
		case 0:
		case 1:
			what = append(what, "pin "+strconv.Quote(u.Pins[0]))
		default:
			what = append(what, "pins "+strings.Join(quoteAll(u.Pins), ", "))
		}
		if len(what) == 0 {
			continue
		}
		out = append(out, Finding{Use: i, Key: key, Warning: true, Msg: fmt.Sprintf(
			"board sim has no buses or pins: sensor %q (%s) uses %s and cannot be read here; its wiring is checked on the box, or here with [device] board = \"rpi4b\" (or %s)",
			u.Sensor, u.Driver, strings.Join(what, " and "), strings.Join(slices.DeleteFunc(realBoards(), func(n string) bool { return n == "rpi4b" }), ", "))})
	}
	return out
}

func busNoun(k BusKind) string {
	switch k {
	case SPI:
		return "SPI port"
	case OneWire:
		return "1-Wire bus"
	}
	return "I2C bus"
}

// busList names the board's buses of a kind for an error message.
func (p Profile) busList(kind BusKind) string {
	var names, reserved []string
	for _, b := range p.Buses {
		if b.Kind != kind {
			continue
		}
		if b.Reserved != "" {
			reserved = append(reserved, strconv.Quote(b.Name))
		} else {
			names = append(names, strconv.Quote(b.Name))
		}
	}
	plural := busNoun(kind) + "es"
	if kind == SPI {
		plural = "SPI ports"
	}
	if len(names) == 0 {
		return "it has no " + plural
	}
	s := plural + ": " + strings.Join(names, ", ")
	if len(reserved) > 0 {
		s += "; reserved: " + strings.Join(reserved, ", ")
	}
	return s
}

// usableGPIOs are the header GPIOs a sensor may take.
func (p Profile) usableGPIOs() []string {
	var out []string
	for _, g := range p.HeaderGPIOs() {
		if _, r := reservedGPIOs[g]; !r {
			out = append(out, g)
		}
	}
	return out
}

// gpioRange writes consecutive GPIOs as "GPIO2…GPIO27", others listed.
func gpioRange(gpios []string) string {
	if len(gpios) == 0 {
		return "none"
	}
	for i := 1; i < len(gpios); i++ {
		if gpioNumber(gpios[i]) != gpioNumber(gpios[i-1])+1 {
			return strings.Join(gpios, ", ")
		}
	}
	if len(gpios) == 1 {
		return gpios[0]
	}
	return gpios[0] + "…" + gpios[len(gpios)-1]
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// realBoards are the profiles a technician can force to check a config.
func realBoards() []string {
	return slices.DeleteFunc(Names(), func(n string) bool { return n == Sim.Name || n == "generic-arm" })
}
