// Package i2creg is the generic I2C driver, for chips nobody has written a
// driver for: it reads N bytes from a register and turns them into one
// value. Registered as driver "i2c-register".
//
//	[[sensor]]
//	name = "lm75"
//	driver = "i2c-register"
//	bus = "1"             # default "1"
//	address = 0x48        # required: 0x03-0x77
//	register = 0x00       # default 0
//	register_bytes = 1    # 0 (plain read, no register), 1 (default) or 2 (16-bit, MSB first)
//	length = 2            # bytes read, 1-8; default 2
//	byte_order = "big"    # big (default) or little
//	signed = true         # two's complement after mask and shift; default false
//	mask = 0xFFE0         # bits kept, 0 (default) keeps all
//	shift = 5             # right shift after the mask; default 0
//	scale = 0.125         # default 1
//	offset = 0.0          # default 0
//	unit = "°C"           # default ""
//	field = "temperature" # default "value"
//	delay = "0s"          # wait between writing the register and reading; default 0
//
// # From bytes to value
//
//  1. The length bytes read are an unsigned integer in byte_order.
//  2. mask keeps the bits set in it (before the shift: mask the bits as
//     they sit in the register).
//  3. shift moves them right.
//  4. signed reads the result as two's complement, of width the highest
//     bit of mask >> shift (or 8 × length − shift without a mask).
//  5. value = integer × scale + offset, rounded to the decimals of scale and
//     offset (an integer times 0.1 plus 0.5 has exactly one decimal), so
//     0.1 × 3 is stored as 0.3, not 0.30000000000000004.
//
// For example an LM75B's temperature register holds 11 bits in bits 15-5,
// 0.125 °C each: 0xF9C0 & 0xFFE0 = 0xF9C0, >> 5 = 0x7CE, as 11-bit two's
// complement −50, × 0.125 = −6.25 °C.
//
// # How it reads
//
// With delay 0, one transaction: the register address is written, then a
// repeated start reads the bytes (what most register-based chips expect).
// With a delay, the write and the read are two transactions with a stop
// between, for chips that convert on command (write the command as the
// register, read the result after the conversion time). With
// register_bytes = 0 the bytes are read without writing anything.
//
// There is nothing to initialise, so the first read is like every other;
// a chip that needs configuration writes is beyond this driver.
//
// The per-field calibration of the sampler ([sensor.fields.<field>] scale
// and offset) applies after this driver's own scale and offset.
package i2creg
