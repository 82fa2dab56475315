// Package mcp3xxx drives Microchip's MCP3008 (10-bit) and MCP3208 (12-bit)
// 8-channel SPI ADCs, registered as drivers "mcp3008" and "mcp3208". Values
// are in volts; turn them into physical units with per-field calibration
// ([sensor.fields.<name>] scale and offset).
//
//	[[sensor]]
//	name = "tank"
//	driver = "mcp3008"
//	bus = "SPI0.0"          # SPI bus 0, chip select CE0; "SPI0.1" for CE1
//	vref = 3.3              # volts on VREF (tie it to a clean reference)
//	speed_hz = 1000000
//	channels = [
//	  { channel = 0, name = "level" },
//	  { channel = 2, name = "pressure_diff", differential = true },
//	]
//	[sensor.fields.level]
//	scale = 100             # 0-3.3 V sensor output -> 0-330 cm
//
// channels defaults to all eight inputs single-ended, named ch0 … ch7.
//
// # The conversation (datasheets DS21295 §6.1, DS21298 §6.1)
//
// Each conversion is one 3-byte transfer with CS held low, in SPI mode 0:
//
//	MCP3008 out: 0000 0001 | S D2 D1 D0 xxxx | xxxx xxxx
//	        in:  xxxx xxxx | xxxx x0 B9 B8   | B7 … B0
//	MCP3208 out: 0000 01 S D2 | D1 D0 xx xxxx | xxxx xxxx
//	        in:  xxxx xxxx    | xxx0 B11 … B8 | B7 … B0
//
// S is 1 for a single-ended input (channel = D2 D1 D0) and 0 for a
// differential pair: channel 0 is CH0+/CH1-, 1 is CH0-/CH1+, 2 is CH2+/CH3-,
// … 7 is CH6-/CH7+. The result is code = 2^N·(IN+ − IN−)/VREF, so volts =
// code·vref/2^N; the ADC is unipolar: a negative difference reads 0. The
// "0" before the result is the null bit the chip drives low; a 1 there
// means nothing drove MISO (no chip, CS to the wrong pin, MISO pulled up)
// and is reported as an error. A missing chip with MISO floating low reads
// 0 V on every channel: a validity range (min) on a channel that never
// reads 0 catches that.
//
// # Clock
//
// speed_hz defaults to 1 MHz, at most 3.6 MHz for the MCP3008 (at VDD 5 V;
// 1.35 MHz at 2.7 V) and 2 MHz for the MCP3208 (1 MHz at 2.7 V). The
// sample capacitor charges through the source impedance during 1.5 clocks:
// with a high-impedance source (over ~1 kΩ) lower the clock, or buffer the
// input (datasheet figure 4-2).
package mcp3xxx
