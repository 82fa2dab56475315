// Package frequency measures the frequency of pulses on a GPIO input, for
// cup anemometers (a reed switch closing once or twice per turn) and other
// sensors that report a rate as a frequency. Registered as driver
// "frequency".
//
//	[[sensor]]
//	name = "wind"
//	driver = "frequency"
//	interval = "10s"
//	pin = "GPIO27"       # required
//	pull = "up"          # up | down | none
//	edge = "falling"     # falling | rising: one count per cycle
//	                     # (both counts two per cycle and is halved)
//	debounce = "1ms"     # the level must settle this long; the highest
//	                     # frequency seen is about 1/(2*debounce): 500 Hz
//	scale = 0.667        # units per Hz: 0.667 m/s per Hz for a common cup
//	                     # anemometer (see its datasheet)
//	field = "speed"      # default "frequency"
//	unit = "m/s"         # default "Hz"; required when scale is not 1
//
// The value is the mean over the interval since the previous read: the
// number of counted transitions divided by the time between the two reads,
// so a 10 s interval gives the 10 s mean wind speed that weather stations
// report, and no gust between reads is missed or counted twice. The first
// read after the pin is opened has no previous read; it measures over a
// gate of one second (or half of the read's remaining timeout, if shorter)
// before it returns.
//
// Counting runs on a goroutine between reads and is shared with the pulse
// driver (sensors/internal/edges).
package frequency
