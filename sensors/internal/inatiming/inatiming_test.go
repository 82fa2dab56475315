package inatiming

import (
	"testing"

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
