package i2cbus

import (
	"context"
	"slices"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

func TestScanFindsTheChipsThatAnswerWithReadsOnly(t *testing.T) {
	// 0x02 and 0x78 are reserved and must not be probed even though a
	// chip "answers" there; 0x50 is in the EEPROM range.
	bus := &i2cbustest.Chips{Addrs: map[uint16]bool{0x02: true, 0x03: true, 0x40: true, 0x50: true, 0x76: true, 0x77: true, 0x78: true}}
	got := Scan(bus)
	want := []uint16{0x03, 0x40, 0x50, 0x76, 0x77}
	if !slices.Equal(got, want) {
		t.Errorf("Scan = %#x, want %#x", got, want)
	}
	if len(bus.Seen) != 0x77-0x03+1 || bus.Seen[0] != 0x03 || bus.Seen[len(bus.Seen)-1] != 0x77 {
		t.Errorf("probed %d addresses from %#x to %#x; want each of 0x03..0x77 once", len(bus.Seen), bus.Seen[0], bus.Seen[len(bus.Seen)-1])
	}
	if bus.Writes != 0 || bus.Reads != len(bus.Seen) {
		t.Errorf("%d writes, %d reads: the probe must be a read at every address", bus.Writes, bus.Reads)
	}
}

func TestScanEmptyBus(t *testing.T) {
	dead := &i2cbustest.Dead{}
	if got := Scan(dead); len(got) != 0 {
		t.Errorf("Scan of a dead bus = %#x", got)
	}
}

type nopSensor struct{}

func (nopSensor) Read(context.Context) ([]sensors.Value, error) { return nil, nil }
func (nopSensor) Close() error                                  { return nil }

func TestLikelyChipsFromTheRegistry(t *testing.T) {
	newS := func(string, *struct{}) (sensors.Sensor, error) { return nopSensor{}, nil }
	for _, d := range []sensors.Driver{
		{Name: "i2cbus-test-zeta", I2CAddrs: []uint16{0x40, 0x41}},
		{Name: "i2cbus-test-alpha", I2CAddrs: Range(0x40, 0x4f)},
		{Name: "i2cbus-test-none"},
	} {
		if _, done := sensors.Lookup(d.Name); !done { // -count=N runs this again
			sensors.Register(d, nil, newS)
		}
	}

	if got := LikelyChips(0x41); !slices.Equal(got, []string{"i2cbus-test-alpha", "i2cbus-test-zeta"}) {
		t.Errorf("LikelyChips(0x41) = %v", got)
	}
	if got := LikelyChips(0x4f); !slices.Equal(got, []string{"i2cbus-test-alpha"}) {
		t.Errorf("LikelyChips(0x4f) = %v", got)
	}
	if got := LikelyChips(0x10); len(got) != 0 {
		t.Errorf("LikelyChips(0x10) = %v, want none", got)
	}
}
