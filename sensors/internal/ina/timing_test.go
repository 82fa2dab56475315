package ina

import (
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func TestBitsAndValidate(t *testing.T) {
	// INA226 power-on default 0x4127 less bit 14 and MODE=7: AVG=1 (code
	// 0), 1.1 ms (code 4) for bus and shunt → 0x0120.
	if got := Bits(1, 1100); got != 0x0120 {
		t.Errorf("Bits(1, 1100) = %#04x, want 0x0120", got)
	}
	if got := Bits(1024, 8244); got != 7<<9|7<<6|7<<3 {
		t.Errorf("Bits(1024, 8244) = %#04x", got)
	}
	var errs config.FieldErrors
	Validate(&errs, 16, 1100)
	if len(errs) != 0 {
		t.Errorf("valid values rejected: %v", errs)
	}
	Validate(&errs, 3, 1000)
	if len(errs) != 2 || errs[0].Key != "averages" || errs[1].Key != "conversion_time" {
		t.Errorf("errors %v", errs)
	}
}

// The electrical characteristics (INA226 and INA3221 alike): CT = 100 is
// 1.1 ms typical, 1.21 ms maximum; CT = 111 8.244 ms, 9.068 ms.
func TestCycleUsesTheMaximumConversionTime(t *testing.T) {
	if got := Cycle(16, 1100, 2); got != 38720*time.Microsecond {
		t.Errorf("Cycle(16, 1100, 2) = %s, want 38.72ms", got)
	}
	if got := Cycle(1024, 8244, 6); got != 1024*6*9068*time.Microsecond {
		t.Errorf("Cycle(1024, 8244, 6) = %s", got)
	}
	if len(MaxConversionTimes) != len(ConversionTimes) {
		t.Error("a maximum for every code")
	}
}
