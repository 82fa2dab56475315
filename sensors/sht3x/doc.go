// Package sht3x reads a Sensirion SHT30/SHT31/SHT35 humidity and temperature
// sensor over I2C, every result checked by its CRC-8. periph has no driver
// for it; this one is written on periph's i2c.Dev. Registered as driver
// "sht3x".
//
//	[[sensor]]
//	name = "ambient"
//	driver = "sht3x"
//	bus = "1"                 # default "1"
//	address = 0x44            # 0x44 (ADDR low, default) or 0x45 (ADDR high)
//	repeatability = "high"    # high, medium or low; default high
//
// Fields: temperature (°C, to 0.01), humidity (%RH, to 0.01).
//
// Datasheet: https://sensirion.com/media/documents/213E6A3B/63A5A569/Datasheet_SHT3x_DIS.pdf
//
// # Commands (16-bit, MSB first) and data
//
//	0x2400 / 0x240B / 0x2416  single shot, clock stretching disabled, high /
//	                          medium / low repeatability: 15 / 6 / 4 ms at most
//	0x30A2                    soft reset (1.5 ms)
//	0xF32D                    read status: 2 bytes + CRC
//	0x3041                    clear status
//
// A measurement is read as 6 bytes: temperature MSB, LSB, CRC, humidity MSB,
// LSB, CRC, where
//
//	T  = −45 + 175 × S_T / 65535 °C
//	RH = 100 × S_RH / 65535 %
//
// and each CRC is CRC-8 over the two bytes before it: polynomial 0x31
// (x⁸ + x⁵ + x⁴ + 1), initial value 0xFF, no reflection, no final XOR;
// CRC(0xBE 0xEF) = 0x92. A mismatch is an error: a reading corrupted on a
// long cable is dropped, not stored.
//
// # How it reads
//
// On the first read after the bus opens, the driver sends a soft reset (it
// also switches off the heater, should something have left it on), reads
// the status register (a valid CRC shows the chip is an SHT3x), and clears
// it. Each Read sends a single-shot command without clock stretching, waits
// the datasheet's maximum measurement time and reads the result. While
// measuring the sensor does not acknowledge a read, so a read that comes
// too early is retried a few times, 2 ms apart, before it counts as a
// failure.
//
// # Caveats
//
//   - Clock stretching is avoided on purpose: the Raspberry Pi's I2C
//     controller (BCM2835 to BCM2711) mishandles it and corrupts data.
//   - The sensor self-heats little in single-shot mode; between reads it
//     idles at 0.2 µA.
//   - An idle SHT3x does not acknowledge a plain read, so `karana-edge scan`
//     (which probes with one-byte reads) may not see it at 0x44/0x45.
package sht3x
