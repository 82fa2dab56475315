// Package max31855 reads Maxim's MAX31855 cold-junction-compensated
// thermocouple-to-digital converter over SPI. Registered as driver
// "max31855".
//
//	[[sensor]]
//	name = "inverter_heatsink"
//	driver = "max31855"
//	bus = "SPI0.1"        # SPI bus 0, chip select CE1
//	speed_hz = 1000000    # the chip allows up to 5 MHz
//
// Fields: temperature (the thermocouple's hot junction, °C, 0.25 °C steps)
// and internal (the chip's cold-junction temperature, °C, 0.0625 °C
// steps). There is one MAX31855 variant per thermocouple type (K, J, N, T,
// S, E, R: the suffix of the part number); the chip does the conversion.
//
// # The frame (datasheet 19-5793, "Memory Map")
//
// One read clocks out 32 bits, MSB first, CS low, SPI mode 0:
//
//	D31-D18  thermocouple temperature, 14-bit two's complement, 0.25 °C
//	D17      reserved, always 0
//	D16      fault: set when any of SCV, SCG, OC is set
//	D15-D4   internal temperature, 12-bit two's complement, 0.0625 °C
//	D3       reserved, always 0
//	D2       SCV: thermocouple shorted to VCC
//	D1       SCG: thermocouple shorted to GND
//	D0       OC: thermocouple open (no connection)
//
// A fault is returned as an error that names it ("thermocouple open
// circuit (OC)"): during a fault the temperature bits are not a
// measurement. A frame with a reserved bit set (0xFFFFFFFF when MISO is
// pulled up and no chip drives it) is reported as no chip answering. An
// all-zero frame (MISO held low: no chip, no power, a broken wire) would
// read 0 °C and 0 °C with no fault; it is an error too. The cost: a real
// frame with the thermocouple within 0.25 °C and the cold junction within
// 0.0625 °C of 0 °C at the same time is dropped as well, and the next
// reading in which either has moved by one step is kept.
//
// The chip converts continuously (about 100 ms per conversion); reading
// faster than 10 Hz returns the same value again.
package max31855
