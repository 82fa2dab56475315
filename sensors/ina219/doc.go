// Package ina219 reads a Texas Instruments INA219 current, voltage and power
// monitor over I2C through periph's ina219 driver. Registered as driver
// "ina219".
//
//	[[sensor]]
//	name = "battery"
//	driver = "ina219"
//	bus = "1"           # default "1"
//	address = 0x40      # 0x40-0x4F, set by A0/A1; default 0x40
//	shunt_ohms = 0.1    # the shunt resistor; default 0.1 (most breakout boards)
//	max_current = 3.2   # A, the largest current expected; default 3.2
//	bus_range = 32      # V, bus ADC full scale: 16 or 32; default 32
//
// Fields: voltage (V, bus to GND, 4 mV steps), current (A), power (W),
// shunt_voltage (mV, 10 µV steps).
//
// Datasheet: https://www.ti.com/lit/ds/symlink/ina219.pdf
//
// # Registers (16-bit, big-endian)
//
//	0x00 configuration  RST | BRNG (bit 13: 0 = 16 V, 1 = 32 V) | PG (bits 12-11) |
//	                    BADC | SADC | MODE; power-on 0x399F
//	0x01 shunt voltage  signed, 10 µV per bit
//	0x02 bus voltage    bits 15-3, 4 mV per bit; bit 1 CNVR, bit 0 OVF (math overflow)
//	0x03 power          Power_LSB = 20 × Current_LSB
//	0x04 current        signed, Current_LSB per bit
//	0x05 calibration    Cal = trunc(0.04096 / (Current_LSB × R_shunt)); 0 after power-on
//
// Current_LSB = max_current / 2^15 (datasheet equation 2), so max_current
// sets the resolution and the largest current the register can hold.
//
// # Caveats
//
//   - The INA219's bus input is rated 26 V at most, whatever bus_range says:
//     a "24 V" lead-acid bank charges to 28.8 V and can destroy it. Use the
//     INA226 (36 V) for 24 V systems.
//   - periph's driver writes configuration 0x1FFF: PGA /8 (±320 mV shunt
//     range), 128-sample averaging (68 ms per conversion), continuous, but
//     BRNG = 0, a 16 V bus range, which clips a 24 V system's reading at
//     16 V. This driver writes the configuration again with the bus_range
//     chosen (0x3FFF for 32 V).
//   - Current and power read 0 until the first conversion after
//     calibration has ended, and with 128-sample averaging of shunt and
//     bus that takes up to 2 × 128 × 586 µs = 150 ms (electrical
//     characteristics, 12-bit conversion time maximum). After setting the
//     chip up the driver waits that long, then polls CNVR (conversion
//     ready, bus voltage register bit 1) before the first read: the first
//     read after the bus opens takes about 150 ms.
//   - max_current × shunt_ohms must stay within the ±320 mV shunt range;
//     New refuses options beyond it, and options for which the calibration
//     register (16 bits) would overflow.
//   - A brown-out resets the chip: the calibration register reads 0 and
//     current and power read 0 while the voltage still looks right. Each
//     Read checks the calibration register first and, when it is 0, sets
//     the chip up again and reports the read as failed rather than store
//     zeros. Any other value than the one written is a stuck bus, and the
//     register is read again after the data: a chip that let go of SDA
//     part-way (a brown-out, a loose wire) reads 0xFFFF from then on,
//     which periph would return as −1 LSB of current and 128 W of power.
//   - periph's ina219 replaces bus errors with its own ("failed to read
//     shunt voltage"); i2cbus puts the kernel's error back in the message.
//   - The OVF flag (current or power beyond range) is reported as an error.
package ina219
