package provision

import (
	"fmt"
	"strings"
)

// sensorSection is the [[sensor]] part of the config for the board. The
// sim board (a laptop, CI, qemu: no device tree) gets simulated sensors, so
// the file runs as is. A hardware board gets the box's own health sensor
// when the "system" driver is available (or a simulated stand-in, since a
// config needs one sensor) and commented-out examples to start the wiring
// from: init cannot know what is wired.
func sensorSection(p ConfigParams) []string {
	out := []string{
		"# One [[sensor]] table per sensor: name (the series prefix: a sensor",
		"# \"battery\" with fields voltage and current yields \"battery.voltage\" and",
		"# \"battery.current\"), driver, interval (reads aligned to wall-clock",
		"# multiples), then the driver's own options inline in the same table.",
		"# `karana-edge check` lists the drivers and their options; `karana-edge read",
		"# NAME` reads one sensor once to try it, without buffering anything.",
		"#",
	}
	if p.Board.Name == "sim" {
		out = append(out,
			"# This is the simulated board (no device tree: a laptop, CI, a VM), so the",
			"# sensors are simulated (driver \"sim\"): a solar PV curve and a counter.",
			"[[sensor]]",
			`name = "pv1_power"`,
			`driver = "sim"`,
			`interval = "10s"`,
			`waveform = "solar"`,
			`amplitude = 5000.0`,
			`noise = 20.0`,
			`resolution = 0.1`,
			`unit = "W"`,
			"",
			"[[sensor]]",
			`name = "counter"`,
			`driver = "sim"`,
			`waveform = "counter"`,
			`interval = "1s"`,
			"",
		)
		return append(out, systemSensor(false)...)
	}

	out = append(out,
		fmt.Sprintf("# Board %q (%s). Find what is wired with", p.Board.Name, oneLine(p.Board.Model)),
		"#",
		"#     karana-edge board     # the buses and the header pins",
		"#     karana-edge scan      # the I2C addresses that answer",
		"#",
		"# then add one [[sensor]] per device; `karana-edge check` validates every",
		"# bus and pin against the board without touching the hardware.",
		"",
	)
	out = append(out, systemSensor(p.SystemSensor)...)
	if !p.SystemSensor {
		out = append(out,
			"",
			"# A simulated stand-in, so the box runs and reports while its sensors are",
			"# commissioned (a config needs at least one sensor): remove it then.",
			"[[sensor]]",
			`name = "commissioning"`,
			`driver = "sim"`,
			`waveform = "counter"`,
			`interval = "1m"`,
		)
	}
	bus := `"1"`
	busNote := "the 40-pin header's I2C bus (pins 3 and 5; dtparam=i2c_arm=on)"
	if !strings.HasPrefix(p.Board.Name, "rpi") && !strings.HasPrefix(p.Board.Name, "cm") {
		busNote = "see `karana-edge board` for this board's bus names"
	}
	return append(out,
		"",
		"# Example: a battery monitor (INA219 at I2C address 0x40) on bus "+bus+",",
		"# "+busNote+".",
		"# [[sensor]]",
		`# name = "battery"`,
		`# driver = "ina219"`,
		"# bus = "+bus,
		"# address = 0x40",
		`# interval = "10s"`,
	)
}

// systemSensor is the box's own health, enabled or commented out.
func systemSensor(enabled bool) []string {
	lines := []string{
		"[[sensor]]",
		`name = "box"`,
		`driver = "system"`,
		`interval = "1m"`,
	}
	out := []string{
		"# The box itself: CPU temperature, load, memory, free space, uptime and the",
		"# Pi's under-voltage flags (driver \"system\").",
	}
	if enabled {
		return append(out, lines...)
	}
	for _, l := range lines {
		out = append(out, "# "+l)
	}
	return out
}
