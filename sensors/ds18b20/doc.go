// Package ds18b20 reads DS18B20 (and the other w1_therm family) 1-Wire
// temperature probes through the Linux kernel's w1 sysfs interface, which
// works on every board with the w1-gpio overlay (Raspberry Pi config.txt:
// dtoverlay=w1-gpio,gpiopin=4) and needs no privileges. Registered as
// driver "ds18b20".
//
//	[[sensor]]
//	name = "tank_temp"
//	driver = "ds18b20"
//	interval = "1m"
//	id = "*"                       # every probe on the bus (default), or one id
//	names = { "28-00000abcdef1" = "top", "28-00000abcdef2" = "bottom" }
//	# root = "/sys/bus/w1/devices"
//
// One field per probe, °C, named by the names map or else by the probe's id
// ("tank_temp.28-00000abcdef1"). Families read: 10 (DS18S20), 22 (DS1822),
// 28 (DS18B20), 3b (MAX31850), 42 (DS28EA00).
//
// # What the kernel gives, and what goes wrong
//
// Reading a probe's file starts a conversion and blocks until it is done,
// up to 750 ms at 12-bit resolution, so a bus of n probes takes n × 0.75 s
// per read: give the sensor a timeout to match (the context is checked
// between probes; a file read in progress cannot be interrupted). The
// driver reads w1_slave, two lines:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
//
// Line 1 is the scratchpad (nine bytes, the last its CRC) and YES when the
// CRC is good; line 2's t= is milli-°C. The newer "temperature" file is
// not read: it holds only the kernel's conversion, and the scratchpad is
// what tells a real value from a failed read:
//
//   - An empty file (current kernels: the CRC failed on every retry) or NO
//     (older kernels) is a CRC error: noise on a long cable, a weak
//     pull-up (use 4.7 kΩ, less on long runs).
//   - An all-zero scratchpad passes the CRC (zero's CRC is zero), and the
//     kernel prints t=0: the data line is held low or the probe is gone.
//     An error, not 0 °C.
//   - 85 °C is the scratchpad's power-on value: a probe that was reset (a
//     brown-out, a parasite-power probe without strong pull-up) and never
//     converted. The kernel's test tells it from a real 85 °C (solar hot
//     water, collectors): reserved byte 6 still at its reset value 0x0C
//     (a DS18B20 sets it to 0x10 − (LSB & 0x0F) when it converts). That is
//     an error; a real 85.000 °C is a reading. On a DS18S20 (family 10) a
//     real 85.000 °C leaves the same bytes as power-on, so there exactly
//     85.000 °C is always an error.
//   - A MAX31850 (family 3b) with its fault flag set (open or shorted
//     thermocouple) is an error naming the fault; so are thermocouple and
//     cold junction both exactly 0, its reset value. A DS18S20 whose
//     COUNT_PER_C reads 0, which the kernel prints as t=0, is an error.
//
// With several probes, one failing probe does not take the others down: its
// field is returned as NaN, which the sampler drops and counts as a bad
// value (sensor stats bad_values, and a log line); only when every probe
// fails is the read an error, naming each.
//
// A missing bus directory, no probe at all, or a configured id that is not
// on the bus are sensors.ErrNotFitted with what to check.
package ds18b20
