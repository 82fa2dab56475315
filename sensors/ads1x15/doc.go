// Package ads1x15 reads Texas Instruments ADS1115 (16-bit) and ADS1015
// (12-bit) four-input ADCs over I2C through periph's ads1x15 driver. It
// registers drivers "ads1115" and "ads1015".
//
//	[[sensor]]
//	name = "adc"
//	driver = "ads1115"
//	bus = "1"            # default "1"
//	address = 0x48       # ADDR to GND 0x48 (default), VDD 0x49, SDA 0x4A, SCL 0x4B
//	data_rate = 128      # samples/s; default 128 (ads1115), 1600 (ads1015)
//	channels = [
//	  { input = "0", field = "battery", gain = 1 },        # ±4.096 V
//	  { input = "2-3", field = "shunt", gain = 16 },       # differential, ±0.256 V
//	]
//
// Each channel has input "0"–"3" (single-ended, against GND) or "0-1",
// "0-3", "1-3", "2-3" (differential: the only pairs the input multiplexer
// has); field, the reading's name (default "ain0", or "ain0_1" for "0-1");
// and gain: "2/3", 1, 2, 4, 8 or 16, for a full scale of ±6.144, ±4.096,
// ±2.048, ±1.024, ±0.512 or ±0.256 V (default 1). With no channels the four
// single-ended inputs are read at gain 1: list only the inputs that are
// wired, because an open input floats and reads noise.
//
// Every field is in V, at the input pin: a divider's ratio or a shunt's
// ohms go in the sensor's per-field scale ([sensor.fields.<field>]).
//
// Datasheets: ADS1115 https://www.ti.com/lit/ds/symlink/ads1115.pdf,
// ADS1015 https://www.ti.com/lit/ds/symlink/ads1015.pdf.
//
// # Registers (16-bit, big-endian)
//
//	0x00 conversion  signed; ADS1015: 12 bits left-aligned (bits 15-4)
//	0x01 config      OS (bit 15: write 1 starts a single conversion; reads
//	                 0 while converting) | MUX (14-12) | PGA (11-9) |
//	                 MODE (8: 1 single-shot) | DR (7-5) | comparator (4-0;
//	                 0b11 disables it)
//
// The LSB is full scale / 2^15 on both chips (the ADS1015's low four bits
// read 0), so V = code × FS / 32768: 125 µV at gain 1 on the ADS1115.
//
// # How it reads
//
// Single-shot, one channel after another: write config with OS set, wait
// one conversion (1/data_rate), read the conversion register. periph waits
// exactly the nominal 1/data_rate, but the chip's oscillator may run up to
// 10% slow, and a read before the conversion ends returns the previous
// result — the previous channel's. This driver hands periph a bus that,
// before each conversion-register read, polls the config register until OS
// reads 1 (idle), so every value belongs to its own channel. The config
// register reads back what was written, OS aside: a read-back that differs
// is an error, which catches a stuck bus (held high it reads 0xFFFF, whose
// OS bit says idle, and the conversion 0xFFFF would be −1 code).
//
// # Caveats
//
//   - Whatever the gain, an input must stay between GND − 0.3 V and
//     VDD + 0.3 V: gain "2/3" does not let a 3.3 V-powered chip measure 5 V.
//   - A read takes about (1/data_rate + 1 ms) per channel: 4 channels at
//     8 samples/s take half a second. Low rates filter noise best.
//   - periph's ads1x15 waits with time.Sleep; the read's context is checked
//     between channels.
package ads1x15
