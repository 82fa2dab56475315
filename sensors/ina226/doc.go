// Package ina226 reads a Texas Instruments INA226 current, voltage and power
// monitor (bus up to 36 V, 16-bit) over I2C. periph has no driver for it;
// this one is written on periph's i2c.Dev. Registered as driver "ina226".
//
//	[[sensor]]
//	name = "battery"
//	driver = "ina226"
//	bus = "1"                # default "1"
//	address = 0x40           # 0x40-0x4F, set by A0/A1; default 0x40
//	shunt_ohms = 0.1         # default 0.1 (most breakout boards: R100)
//	max_current = 0.8192     # A; default 0.8192, the full ±81.92 mV at 0.1 Ω
//	averages = 16            # 1, 4, 16, 64, 128, 256, 512 or 1024; default 16
//	conversion_time = 1100   # µs, bus and shunt each: 140, 204, 332, 588,
//	                         # 1100, 2116, 4156 or 8244; default 1100
//
// Fields: voltage (V, bus to GND, 1.25 mV steps), current (A), power (W),
// shunt_voltage (mV, 2.5 µV steps).
//
// Datasheet: https://www.ti.com/lit/ds/symlink/ina226.pdf
//
// # Registers (16-bit, big-endian)
//
//	0x00 configuration  RST (15) | 1 (14) | AVG (11-9) | VBUSCT (8-6) |
//	                    VSHCT (5-3) | MODE (2-0; 7 = shunt and bus,
//	                    continuous); power-on 0x4127
//	0x01 shunt voltage  signed, 2.5 µV per bit (±81.92 mV)
//	0x02 bus voltage    1.25 mV per bit, 15 bits
//	0x03 power          Power_LSB = 25 × Current_LSB
//	0x04 current        signed, Current_LSB per bit
//	0x05 calibration    CAL = 0.00512 / (Current_LSB × R_shunt), 15 bits; 0 after power-on
//	0x06 mask/enable    bit 3 CVRF (conversion ready), bit 2 OVF (math overflow)
//	0xFE manufacturer   0x5449 ("TI")
//	0xFF die id         0x2260 (bits 15-4 0x226, bits 3-0 revision)
//
// Current_LSB = max_current / 2^15 (equation 2). CAL is truncated to an
// integer, so the current register really counts 0.00512 / (CAL × R) A per
// bit; the driver scales by that, not by the nominal LSB, and the
// truncation costs nothing.
//
// # How it reads
//
// Continuous conversion, averaged: each Read returns the chip's latest
// average (averages × 2 × conversion_time: 35 ms by default). On the first
// read after the bus opens, the driver checks the ids, writes configuration
// and calibration, and waits one full averaging period at the datasheet's
// maximum conversion time (typical + 10 %: 1.21 ms for 1.1 ms, 38.7 ms by
// default), because the current and power registers only hold calibrated
// values after a conversion. Each
// later Read reads the calibration register first: 0 means the chip was
// reset by a brown-out (current and power would read 0 while the voltage
// looks right), so the chip is set up again and the read reported as
// failed; any other value than the one written is a stuck bus. The
// calibration register is read again after the data: SDA held low or let
// go part-way through the read (0x0000 or 0xFFFF from then on) shows there,
// and the values are dropped. A set OVF flag (current or power beyond what
// the registers hold) is an error too.
//
// # Caveats
//
//   - max_current × shunt_ohms must stay within ±81.92 mV; New refuses more.
//   - The bus input (VBUS pin) is measured against GND, not across the
//     shunt: wire VBUS to the battery side for battery voltage.
//   - A long averaging period delays the first read: 1024 averages at
//     8.244 ms take up to 18.6 s, longer than the default read timeout, so the
//     first read after (re)opening then fails and the next succeeds.
package ina226
