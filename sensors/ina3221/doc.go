// Package ina3221 reads a Texas Instruments INA3221 three-channel shunt and
// bus voltage monitor (bus 0–26 V) over I2C. periph has no driver for it;
// this one is written on periph's i2c.Dev. Registered as driver "ina3221".
//
//	[[sensor]]
//	name = "dc"
//	driver = "ina3221"
//	bus = "1"                       # default "1"
//	address = 0x40                  # A0 to GND 0x40 (default), VS 0x41, SDA 0x42, SCL 0x43
//	channels = [1, 2, 3]            # the channels wired; default all three
//	shunt_ohms = [0.1, 0.1, 0.1]    # per channel 1-3, or one value for all; default 0.1
//	averages = 16                   # 1, 4, 16, 64, 128, 256, 512 or 1024; default 16
//	conversion_time = 1100          # µs, bus and shunt each: 140 … 8244; default 1100
//
// Fields, for each channel n read: chn_voltage (V, bus to GND, 8 mV
// steps), chn_current (A), chn_power (W), chn_shunt_voltage (mV, 40 µV
// steps). The chip has no current or power registers: current is shunt
// voltage / shunt_ohms and power is voltage × current, computed here.
//
// Datasheet: https://www.ti.com/lit/ds/symlink/ina3221.pdf
//
// # Registers (16-bit, big-endian)
//
//	0x00        configuration  RST (15) | CH1en CH2en CH3en (14-12) | AVG (11-9) |
//	                           VBUSCT (8-6) | VSHCT (5-3) | MODE (2-0; 7 = shunt and
//	                           bus, continuous); power-on 0x7127
//	0x01, 0x03, 0x05  channel 1-3 shunt voltage: bits 15-3, signed, 40 µV per bit (±163.8 mV)
//	0x02, 0x04, 0x06  channel 1-3 bus voltage: bits 15-3, 8 mV per bit
//	0x0F        mask/enable    bit 0 CVRF (conversion ready)
//	0xFE        manufacturer   0x5449 ("TI")
//	0xFF        die id         0x3220
//
// # How it reads
//
// Continuous conversion of the enabled channels in turn, averaged: one
// full pass takes averages × channels × 2 × conversion_time (106 ms for the
// defaults). On the first read after the bus opens, the driver checks the
// ids, writes the configuration and waits one pass at the datasheet's
// maximum conversion time (typical + 10 %: 1.21 ms for 1.1 ms, so 116 ms
// for the defaults); until then the registers hold no result. Each later Read reads
// the configuration register first: if it is no longer what was written,
// the chip was reset (by a brown-out) and is set up again, and the read
// reported as failed. (A reset with the power-on configuration unchanged
// is harmless: the chip has no calibration to lose.) The configuration is
// read again after the data: SDA held low or let go part-way through the
// read (0x0000 or 0xFFFF from then on) shows there, and the values are
// dropped.
//
// # Caveats
//
//   - Channels left out are disabled in the chip, which also shortens the
//     conversion pass.
//   - The shunt input's full scale is ±163.8 mV: at 0.1 Ω that is 1.64 A.
//     Most INA3221 boards carry 0.1 Ω shunts (R100); check yours.
//   - Bus voltages are measured against GND at each channel's IN- pin.
package ina3221
