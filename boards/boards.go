// Package boards knows which board karana-edge runs on. The full profiles
// (buses, 40-pin header maps, config.txt notes) arrive with the hardware
// drivers; this is the detection every part already needs: on a laptop, in
// CI and under qemu there is no device tree, and the board is "sim".
package boards

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// Profile describes a board.
type Profile struct {
	Name  string // short id: "sim", "rpi4b", "generic-arm"
	Model string // as the firmware names it
}

// Sim is the simulated board: no buses, sim sensors only.
var Sim = Profile{Name: "sim", Model: "simulated board (no device tree)"}

// Detect reads the device-tree model under root ("/" on a box; a fixture
// tree in tests).
func Detect(root string) Profile {
	b, err := os.ReadFile(filepath.Join(root, "proc/device-tree/model"))
	if err != nil {
		return Sim
	}
	model := string(bytes.TrimRight(b, "\x00\n"))
	return Profile{Name: nameFor(model), Model: model}
}

func nameFor(model string) string {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "raspberry pi 5"):
		return "rpi5"
	case strings.Contains(m, "compute module 4"):
		return "cm4"
	case strings.Contains(m, "raspberry pi 4"):
		return "rpi4b"
	case strings.Contains(m, "raspberry pi 3"):
		return "rpi3b"
	case strings.Contains(m, "raspberry pi zero 2"):
		return "rpizero2w"
	case strings.Contains(m, "raspberry pi zero"):
		return "rpizerow"
	}
	return "generic-arm"
}
