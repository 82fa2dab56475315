// Package ina is what TI's INA219, INA226 and INA3221 drivers share: the
// averaging and conversion-time settings of the INA226 and INA3221 (the
// same codes in the same bits of their configuration registers: AVG at
// bits 11–9, bus and shunt conversion time at 8–6 and 5–3), their id
// registers, and the guard register that all three read before and after
// the data (Guard).
package ina

import (
	"slices"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// The datasheets' code tables: index = register code.
var (
	Averages        = []int{1, 4, 16, 64, 128, 256, 512, 1024}
	ConversionTimes = []int{140, 204, 332, 588, 1100, 2116, 4156, 8244} // µs, typical
	// MaxConversionTimes are the electrical characteristics' maximum for
	// each code (typical + 10 %), the same in both datasheets.
	MaxConversionTimes = []int{154, 224, 365, 646, 1210, 2328, 4572, 9068} // µs
)

// Cycle returns the longest one averaged result can take: averages ×
// conversions, each at the maximum time of the typical conversionUS
// chosen. The values must have passed Validate.
func Cycle(averages, conversionUS, conversions int) time.Duration {
	maxUS := MaxConversionTimes[slices.Index(ConversionTimes, conversionUS)]
	return time.Duration(averages*conversions*maxUS) * time.Microsecond
}

// Validate adds errors for values the chips cannot be set to, keyed by the
// option names "averages" and "conversion_time".
func Validate(errs *config.FieldErrors, averages, conversionUS int) {
	if !slices.Contains(Averages, averages) {
		errs.Add("averages", "invalid averages %d: use 1, 4, 16, 64, 128, 256, 512 or 1024", averages)
	}
	if !slices.Contains(ConversionTimes, conversionUS) {
		errs.Add("conversion_time", "invalid conversion time %d µs: use 140, 204, 332, 588, 1100, 2116, 4156 or 8244", conversionUS)
	}
}

// Bits returns the configuration register's AVG and conversion-time bits,
// bus and shunt converted alike. The values must have passed Validate.
func Bits(averages, conversionUS int) uint16 {
	avg := slices.Index(Averages, averages)
	ct := slices.Index(ConversionTimes, conversionUS)
	return uint16(avg<<9 | ct<<6 | ct<<3)
}
