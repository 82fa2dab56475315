package ads1x15

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Gain is the programmable amplifier's gain: 2/3, 1, 2, 4, 8 or 16. In TOML
// it is written as a number or as the string "2/3".
type Gain float64

// Gains the chips have.
const (
	GainTwoThirds Gain = 2.0 / 3
	Gain1         Gain = 1
	Gain2         Gain = 2
	Gain4         Gain = 4
	Gain8         Gain = 8
	Gain16        Gain = 16
)

// fullScale is each gain's full-scale range in mV (datasheet table "PGA").
var fullScale = []struct {
	g  Gain
	mV int
}{
	{GainTwoThirds, 6144}, {Gain1, 4096}, {Gain2, 2048}, {Gain4, 1024}, {Gain8, 512}, {Gain16, 256},
}

const gainUse = `use "2/3", 1, 2, 4, 8 or 16 (full scale ±6.144, ±4.096, ±2.048, ±1.024, ±0.512 or ±0.256 V)`

// FullScaleMV returns the gain's full-scale range in mV, or 0 for a gain
// the chips do not have.
func (g Gain) FullScaleMV() int {
	for _, f := range fullScale {
		if math.Abs(float64(g-f.g)) < 1e-9 {
			return f.mV
		}
	}
	return 0
}

func (g Gain) String() string {
	if g.FullScaleMV() == 6144 {
		return "2/3"
	}
	return strconv.FormatFloat(float64(g), 'g', -1, 64)
}

// UnmarshalTOML accepts 1, 2, 4, 8, 16, "2/3" (or any of them as a
// string) and 0.667 (2/3 to three decimals).
func (g *Gain) UnmarshalTOML(v any) error {
	var x Gain
	switch t := v.(type) {
	case int64:
		x = Gain(t)
	case float64:
		x = Gain(t)
		if math.Abs(t-2.0/3) < 0.001 {
			x = GainTwoThirds
		}
	case string:
		s := strings.TrimSpace(t)
		if s == "2/3" {
			x = GainTwoThirds
			break
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("invalid gain %q: %s", t, gainUse)
		}
		x = Gain(f)
	default:
		return fmt.Errorf("invalid gain %v: %s", v, gainUse)
	}
	if x.FullScaleMV() == 0 {
		return fmt.Errorf("invalid gain %v: %s", v, gainUse)
	}
	*g = x
	return nil
}

// MarshalTOML writes 2/3 as the string "2/3" and the others as integers,
// so the effective config reads as it was written.
func (g Gain) MarshalTOML() ([]byte, error) {
	if g.FullScaleMV() == 6144 {
		return []byte(`"2/3"`), nil
	}
	return []byte(strconv.FormatFloat(float64(g), 'g', -1, 64)), nil
}
