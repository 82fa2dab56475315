// Package pulse is the edge counter for S0 energy meters, rain gauges and
// flow meters: it counts debounced pulses on a GPIO input and reports a
// running total and a rate. Registered as driver "pulse".
//
//	[[sensor]]
//	name = "grid_meter"
//	driver = "pulse"
//	interval = "1m"
//	pin = "GPIO17"        # required
//	pull = "up"           # up | down | none; S0 outputs are open collector: up
//	edge = "falling"      # falling | rising | both: which transition is a pulse
//	debounce = "10ms"     # the level must settle this long; keep it under the
//	                      # pulse width (S0: >= 30 ms) and the gap
//	per_unit = 1000       # pulses per unit: 1000 imp/kWh on the meter's plate
//	unit = "kWh"          # unit of total
//	rate_scale = 1000     # rate is units per hour times this: kWh/h x 1000 = W
//	rate_unit = "W"       # default: unit + "/h" (only when rate_scale is 1)
//
// Fields: total (pulses / per_unit, in unit) and rate (units per hour over
// the interval since the previous read, times rate_scale, in rate_unit).
// The first read after start (or after the pin was re-opened) has no
// interval to measure over and reports total only. A rain gauge of
// 0.2794 mm per tip: per_unit = 3.579, unit = "mm", rate_unit = "mm/h".
// A flow meter of 450 pulses per litre: per_unit = 450, unit = "L",
// rate_scale = 0.01667 (per minute), rate_unit = "L/min".
//
// # The total survives restarts and power cuts
//
// The sensor implements sensors.Stateful: the agent hands it the persisted
// pulse count before the first read, and every read stores the count again
// (as an 8-byte big-endian number under the key "pulses"). It is written by
// the buffer's next group commit, together with the readings: on a power
// cut, the pulses of at most one commit_interval (plus those since the last
// read) are lost, never the total. Pulses that arrive while the box is off
// are not counted: the meter's own register stays the reference. To start
// from the meter's reading, calibrate the field:
// [sensor.fields.total] offset = 12345.6.
//
// Counting starts when the agent restores the state, at daemon start (not at
// the first read, an interval later), and runs on its own goroutine between
// reads (see package
// sensors/internal/edges for why WaitForEdge is never given -1, and why
// periph's gpioutil.Debounce is not used).
package pulse
