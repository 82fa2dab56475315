package sensors

import (
	"fmt"
	"sort"
	"sync"
)

// Driver is a registered driver as the config loader, `check`, `read` and
// `scan` see it: they do not know its options type, so options pass
// through here as the pointer Options returned. The driver itself never
// sees that: Register gives it its own options type.
type Driver struct {
	Name string
	// Doc is one line shown by `check` and in errors listing drivers.
	Doc string
	// I2CAddrs lists the 7-bit addresses the chip can answer at, so that
	// `karana-edge scan` can name the likely chips at each address.
	I2CAddrs []uint16

	options func() any
	build   func(name string, opts any) (Sensor, error)
}

// Register adds a driver whose sensors take options of type O; called from
// the driver package's init:
//
//	sensors.Register(sensors.Driver{Name: "gpio", Doc: "…"}, DefaultOptions, New)
//
// defaults returns O with the driver's documented defaults (nil: the zero
// O). The loader decodes the sensor table's inline keys over them (toml
// tags; a key that neither Config nor O knows is an error).
//
// newSensor validates the decoded options and returns the sensor; it gets
// the loader's own *O, never nil, and may fill in values it derives (a
// default channel list) so that the effective config shows them, keeping
// its own copy of the rest. Validation errors should be
// config.FieldError(s) keyed by the option's TOML key, so the loader can
// point at the line. It must not open hardware: `karana-edge check` runs
// on a laptop.
func Register[O any, S Sensor](d Driver, defaults func() O, newSensor func(name string, o *O) (S, error)) {
	if d.Name == "" || newSensor == nil {
		panic("sensors: driver without name or constructor")
	}
	fresh := func() *O {
		o := new(O)
		if defaults != nil {
			*o = defaults()
		}
		return o
	}
	d.options = func() any { return fresh() }
	d.build = func(name string, opts any) (Sensor, error) {
		o, ok := opts.(*O)
		switch {
		case opts == nil || ok && o == nil:
			o = fresh()
		case !ok:
			// The caller names the sensor and driver ("sensor[0] \"t\" (sim): …").
			return nil, fmt.Errorf("options are %T, want %T", opts, o)
		}
		s, err := newSensor(name, o)
		if err != nil {
			// Not s: a nil *T in a Sensor is not a nil Sensor, and the
			// caller closes any Sensor it gets.
			return nil, err
		}
		return s, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[d.Name]; dup {
		panic(fmt.Sprintf("sensors: driver %q registered twice", d.Name))
	}
	drivers[d.Name] = d
}

// Options returns a pointer to a fresh options struct with the driver's
// defaults, for the loader to decode a [[sensor]] table into. It also
// carries the optional interfaces below (BusUser, PinUser, LocalOnly).
// Nil for a Driver that did not come from Lookup.
func (d Driver) Options() any {
	if d.options == nil {
		return nil
	}
	return d.options()
}

// New validates opts (a pointer Options returned, decoded; nil for the
// defaults) and returns the sensor. It does not open hardware. On error the
// Sensor is nil.
func (d Driver) New(name string, opts any) (Sensor, error) {
	if d.build == nil {
		return nil, fmt.Errorf("driver %q is not registered", d.Name)
	}
	return d.build(name, opts)
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// Lookup returns the driver registered under name.
func Lookup(name string) (Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}

// DriverNames lists the registered drivers, sorted.
func DriverNames() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
