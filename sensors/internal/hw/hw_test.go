package hw

import "testing"

// Names that are not of the chip/line form never reach the character
// device; on this machine there may be no chip at all, so a well-formed
// name for a chip that does not exist must give nil, not panic.
func TestLineByNumberForms(t *testing.T) {
	for _, name := range []string{"GPIO17", "17", "gpiochip0", "gpiochip0/", "gpiochip0/x", "gpiochip0/-1", "chip0/3", "gpiochip99/3"} {
		if p := lineByNumber(name); p != nil {
			t.Errorf("lineByNumber(%q) = %v, want nil", name, p)
		}
	}
}
