// Package i2cbus is what every I2C sensor driver shares: opening a bus by
// name through periph's registry, one chip on that bus opened on first read
// and closed on repeated failure (Device), errors that name the driver, bus
// and address and say what to check, the option keys every I2C driver has
// (Options: bus and address), and the scanner behind `karana-edge scan`.
//
// # Opening a bus
//
// Open initialises periph's host drivers once (driverreg.Init over the
// drivers open.go imports: the Raspberry Pi's, sysfs and the GPIO character
// device; drivers that fail
// or do not apply are logged at debug level through the logger given to
// Init) and opens the bus through i2creg. Always name the bus: on a
// Raspberry Pi the header bus is "1"; "" lets periph pick the first bus it
// finds, which may be an HDMI (DDC) or camera bus. Speed cannot be set from
// user space on a Pi (dtparam=i2c_arm_baudrate in config.txt), so nothing
// here tries.
//
// A machine without the bus (CI, a laptop, a Pi with I2C disabled) gives a
// *BusError that wraps sensors.ErrNotFitted and says what to check:
//
//	i2c bus "1": not found (is I2C enabled? dtparam=i2c_arm=on in /boot/firmware/config.txt)
//
// # Errors from a chip
//
// Linux reports a chip that does not acknowledge its address as EREMOTEIO
// ("remote I/O error", the Pi's bcm2835 controller) or ENXIO ("no such device
// or address", most SMBus controllers); periph formats the errno into its
// message with %v, so the only way to recognise a NACK is by that text.
// Device.Err turns it into
//
//	ina219 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error
//
// A chip that has never answered since the process started is reported as
// not fitted (the error also matches sensors.ErrNotFitted, which the sampler
// logs once, quietly); one that answered before and stops is a failure.
//
// Some periph device drivers replace the bus error with their own sentinel
// ("failed to read shunt voltage") or format it with %v. Device hands the
// drivers a bus that remembers the last failed transaction, and Err adds that
// cause back, so the message always ends with what the kernel said.
//
// # Reads and re-initialisation
//
// A driver's Read is Device.Read with two functions of its own: setup,
// which checks the chip's identity and configures it, and read. Device.Read
// holds the device's lock, opens the bus when it is closed, runs setup when
// the bus was just opened, when the last setup failed or when the driver
// called Reset (it saw its chip's configuration gone), and then read.
//
// The sampler closes a sensor after three consecutive failed reads; the next
// Read finds the bus closed, opens it again and sets the chip up again. A
// chip that lost power and came back is configured anew without anyone on
// site.
//
// # Scanning
//
// Scan probes 0x03–0x77 with a one-byte read at every address, as
// `i2cdetect -r` does. The quick write (a zero-length write) that i2cdetect
// uses by default is not available: periph's Tx returns at once, without
// touching the bus, when there is nothing to write or read. A read is also
// the safe probe for the EEPROM ranges 0x30–0x37 and 0x50–0x5F, where a quick
// write can corrupt some parts. A chip that NACKs a read it was not asked for
// is missed: an SHT3x that is not measuring NACKs its read header, so it may
// not show at 0x44/0x45.
//
// # Tests
//
// Drivers take their Opener from Device.Opener, so tests hand them an
// i2ctest.Playback (see package i2cbustest) and never open the host's real
// registry: a laptop with i2c-dev loaded has real /dev/i2c-N buses.
package i2cbus
