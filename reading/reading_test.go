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
