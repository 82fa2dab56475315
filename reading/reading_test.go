package reading

import "testing"

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"battery":         true,
		"battery.voltage": true,
		"pv1_power.value": true,
		"a-b.c_d.9":       true,
		"":                false,
		".battery":        false,
		"battery.":        false,
		"a..b":            false,
		"bat tery":        false,
		"temp/1":          false,
		"tëmp":            false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFlagValuesAreTheWireContract(t *testing.T) {
	// Every format sends the flags as this number: the values never change.
	for _, c := range []struct {
		f    Flags
		want uint8
	}{{ClockUnsynced, 1}, {ClockCorrected, 2}, {TimeImplausible, 4}} {
		if uint8(c.f) != c.want {
			t.Errorf("flag %d, want %d", c.f, c.want)
		}
	}
}
