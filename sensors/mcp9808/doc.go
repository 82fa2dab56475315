// Package mcp9808 reads a Microchip MCP9808 digital temperature sensor
// (±0.25 °C typical, −40…+125 °C) over I2C through periph's mcp9808 driver.
// Registered as driver "mcp9808".
//
//	[[sensor]]
//	name = "cabinet"
//	driver = "mcp9808"
//	bus = "1"            # default "1"
//	address = 0x18       # 0x18-0x1F, set by A0-A2; default 0x18
//	resolution = 0.0625  # °C: 0.5, 0.25, 0.125 or 0.0625; default 0.0625
//
// Field: temperature (°C).
//
// Datasheet: https://ww1.microchip.com/downloads/en/DeviceDoc/25095A.pdf
//
// # Registers (16-bit big-endian unless noted)
//
//	0x01 config        bit 8 SHDN (shutdown); 0x0000 = continuous conversion
//	0x05 temperature   bits 15-13 alert flags (Tcrit, Tupper, Tlower),
//	                   bit 12 sign, bits 11-0 temperature × 16 (two's
//	                   complement with the sign: 0x1FF0 = −1 °C)
//	0x06 manufacturer  0x0054
//	0x07 device id     upper byte 0x04, lower byte the revision
//	0x08 resolution    8-bit: 0 0.5 °C (30 ms), 1 0.25 °C (65 ms),
//	                   2 0.125 °C (130 ms), 3 0.0625 °C (250 ms, power-on)
//
// # How it reads
//
// On the first read after the bus opens, the driver checks the
// manufacturer and device ids (so a different chip at the address is named,
// not read as a temperature), then periph's driver writes the resolution and
// continuous-conversion mode, and the driver waits one conversion time
// before the first read: until the first conversion after power-up ends, the
// temperature register reads 0 °C. Each read then returns the latest
// conversion; the chip converts continuously (200 µA typical), and the
// driver reads the temperature register itself.
//
// The alert flags (bits 15-13) compare the temperature with T_CRIT,
// T_UPPER and T_LOWER, 0 °C from power-on and never written here, so a
// real 0.0000 °C reads 0x8000 and a real −0.0625 °C 0x3FFF. A register of
// 0x0000 is one not converted since a reset (or SDA held low: the ids,
// read again then, tell which) and 0xFFFF a chip that let go of SDA; both
// are errors, and after a reset the chip is set up again. (Should another
// program set the limits, a real 0.0000 °C could read 0x0000 and be
// dropped.)
//
// # Caveats
//
//   - periph's mcp9808, used to set the chip up, replaces bus errors with
//     its own; i2cbus puts the kernel's error back.
//   - Close does not put the chip in shutdown: another reader (or the next
//     read) would get a stale value until it wakes.
package mcp9808
