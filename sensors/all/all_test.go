package all_test

import (
	"reflect"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
	_ "github.com/karana-energy/karana-edge/sensors/all"
)

// A driver that rejects its options returns no sensor at all. A nil
// *Sensor inside a non-nil sensors.Sensor made the config loader, which
// closes what New returned, panic on any invalid option (`karana-edge
// check` of a gpio sensor without a pin, or a remote config with a typo).
func TestRejectedOptionsGiveNoSensor(t *testing.T) {
	names := sensors.DriverNames()
	if len(names) < 20 {
		t.Fatalf("%d drivers registered, want the 20 of this build: %v", len(names), names)
	}
	for _, name := range names {
		d, _ := sensors.Lookup(name)
		typ := reflect.TypeOf(d.Options()).Elem()
		if typ.NumField() == 0 {
			continue
		}
		// Every driver of this build needs at least one option set (a bus,
		// a pin, a path, a program): all-zero options are invalid.
		s, err := d.New("x", reflect.New(typ).Interface())
		if err == nil {
			t.Errorf("%s: all-zero options accepted", name)
			_ = s.Close()
			continue
		}
		if s != nil {
			t.Errorf("%s: New failed (%v) but returned a non-nil Sensor %#v", name, err, s)
		}
	}
}
