// Package bme280 reads Bosch BME280 (temperature, pressure, humidity) and
// BMP280 (temperature, pressure) sensors over I2C, written on periph's
// i2c.Dev with the datasheet's compensation formulas. It registers two
// drivers: "bme280" and "bmp280".
//
//	[[sensor]]
//	name = "enclosure"
//	driver = "bme280"
//	bus = "1"                      # default "1"
//	address = 0x76                 # 0x76 (SDO to GND, default) or 0x77 (SDO to VDDIO)
//	temperature_oversampling = 1   # 1, 2, 4, 8 or 16; default 1
//	pressure_oversampling = 1      # 0 (off), 1, 2, 4, 8 or 16; default 1
//	humidity_oversampling = 1      # bme280 only: 0 (off), 1 … 16; default 1
//
// Fields: temperature (°C, 0.01 °C steps), pressure (hPa, rounded to
// 0.0001 hPa = 0.01 Pa), humidity (%RH, bme280 only, rounded to 0.001 %RH).
// A measurement that is switched off is not reported.
//
// Datasheets: BME280 https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf,
// BMP280 https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf.
//
// # Registers (both chips)
//
//	0x88–0xA1  calibration T1–T3, P1–P9 (16-bit little-endian), 0xA1 H1
//	0xD0       chip id: 0x58 BMP280, 0x60 BME280 (0x55 is a BMP180)
//	0xE1–0xE7  calibration H2–H6 (BME280)
//	0xF2       ctrl_hum (BME280; takes effect at the next write of 0xF4)
//	0xF3       status: bit 3 measuring
//	0xF4       ctrl_meas: osrs_t<<5 | osrs_p<<2 | mode (0 sleep, 1 forced)
//	0xF5       config: standby<<5 | filter<<2
//	0xF7–0xFE  press (20 bit), temp (20 bit), hum (16 bit, BME280), read in one burst
//
// # How it reads
//
// Forced mode: each Read writes ctrl_meas with mode 1, waits the
// datasheet's maximum measurement time for the oversampling chosen
// (t_measure,max: 1.25 ms, plus 2.3 ms per oversampling step of each
// measurement, plus 0.575 ms each for pressure and humidity: 9.3 ms at 1x),
// polls status until the chip is idle, then reads all results in one burst
// so they belong to the same measurement. Between reads the chip sleeps,
// drawing under 1 µA, and does not warm itself: the datasheet's "weather
// monitoring" setting (1x everywhere, filter off) is the default. The IIR
// filter is not offered: in forced mode at a 10 s interval it would only
// smear readings over minutes.
//
// The compensation is the datasheet's integer code (section 4.2.3, as in
// Bosch's reference driver). dig_H4 and dig_H5 are 12-bit signed values,
// sign-extended as Bosch's driver and the kernel's bmp280-core.c do;
// periph's bmxx80, which this package used before, reads them unsigned
// (still so upstream in 2026), and a chip with a negative dig_H5 then
// reads 0 %RH.
//
// What cannot be a measurement is an error, not a value: a burst of all
// 0x00 or all 0xFF (a stuck bus), a skipped measurement's raw value
// (0x80000, or 0x8000 for humidity, as the kernel checks; humidity is
// skipped after a reset cleared ctrl_hum, so the chip is then set up
// again), and calibration whose dig_T1 or dig_P1 reads 0 or 0xFFFF.
//
// # Caveats
//
//   - Many boards sold as "BME280" carry a BMP280 (no humidity). The chip
//     id tells them apart: driver "bme280" on a BMP280 fails with a message
//     saying to use "bmp280"; driver "bmp280" on a BME280 reads temperature
//     and pressure only.
//   - The chip is set up (chip id, calibration, configuration) on the
//     first Read, and again after the sampler closes a failing sensor: a
//     chip that lost power is reconfigured.
//   - Temperature is the die's: it reads high when the board sits next to a
//     warm Pi. Calibrate with the sampler's scale/offset, not here.
package bme280
