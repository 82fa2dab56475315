// Package boards knows the boards karana-edge runs on: which I2C and SPI
// buses each has and under which names periph.io opens them, the 40-pin
// header (physical pin ↔ GPIO), the config.txt lines that enable the buses,
// the groups the service user needs, and the caveats that cost a day on
// site when nobody wrote them down.
//
// # Profiles
//
// Raspberry Pi Zero W, Zero 2 W, 3B/3B+, 4B, 5 and CM4, "generic-arm" (any
// other Linux board with a device tree) and "sim" (no device tree: a laptop,
// CI, qemu). Lookup(name) returns one, Names() lists them; Detect(root)
// picks one from /proc/device-tree/model, and Identify(root) also returns
// the board serial (/proc/device-tree/serial-number), which the agent uses
// for the default device id.
//
// # Bus names
//
// Buses are named as periph.io's registries open them:
//
//   - I2C: the bus number, "1" (also accepted: "I2C1", "/dev/i2c-1").
//     On every 40-pin Pi the header's bus is "1" (GPIO2/GPIO3, pins 3/5),
//     enabled by dtparam=i2c_arm=on. Bus "0" (GPIO0/GPIO1, pins 27/28,
//     ID_SD/ID_SC) is reserved for the ID EEPROM of HATs: the firmware
//     reads it at boot, and a sensor there is a warning. The Pi 4 and CM4
//     have I2C 3–6 by overlay (dtoverlay=i2c3 …). Never open "" on a Pi: it
//     may pick an HDMI or camera bus.
//   - SPI: "SPI<bus>.<chip select>": "SPI0.0" (CE0, GPIO8) and "SPI0.1"
//     (CE1, GPIO7) with dtparam=spi=on, which claims both chip selects;
//     "SPI1.0"–"SPI1.2" (CE0–CE2 = GPIO18, GPIO17, GPIO16) with
//     dtoverlay=spi1-1cs, -2cs or -3cs; SPI3–SPI6 on the Pi 4 and CM4 by
//     overlay. Also accepted: "/dev/spidev0.1".
//   - 1-Wire: "w1", the kernel's w1 bus, with dtoverlay=w1-gpio,gpiopin=4
//     (any free GPIO; 4 is the default).
//
// Pins are GPIO names as the kernel's gpiochip lines and periph name them:
// "GPIO17". Also accepted: "17", and the physical pin "P1_11".
//
// # Serial ports
//
// Devices lists the serial ports present (Present.Serial): /dev/serial0
// and serial1 (the Pi firmware's aliases), /dev/ttyAMA* (PL011 UARTs),
// /dev/ttyS* (the mini UART on a Pi, legacy ports elsewhere), /dev/ttyUSB*
// and /dev/ttyACM* (USB adapters) and /dev/serial/by-id/* (udev's stable
// names for USB adapters), each link with the device it resolves to. On
// the Pi 3, 4, Zero W, Zero 2 W and CM4 the PL011 drives Bluetooth and
// /dev/serial0 is the mini UART, whose baud rate follows the core clock:
// dtoverlay=disable-bt gives the header the PL011. enable_uart=1 creates
// serial0, and Pi OS then runs its login console there
// (console=serial0,115200 in cmdline.txt).
//
// CheckSerial warns about a sensor whose port is one of the kernel's
// consoles (Consoles reads /proc/cmdline), under any of its names: the
// kernel's messages and getty's login prompt would share the line.
//
// # Checking sensors
//
// Check validates what the configured sensors use against a profile,
// without touching hardware, so `karana-edge check` finds a wrong bus or
// pin on a laptop before anyone drives to the site:
//
//   - a bus or pin the board does not have is an error naming it;
//   - a pin already taken (by another sensor, or by an enabled bus: GPIO2
//     is SDA of I2C bus 1) is an error naming the other user;
//   - bus "0" and GPIO0/GPIO1 (the HAT EEPROM) are warnings, and so is
//     GPIO4 as a plain pin while a sensor uses 1-Wire (the overlay's
//     default data pin, which config.txt may have moved);
//   - a disabled sensor's problems are warnings, and it claims no pin;
//   - on the "sim" board every sensor that needs a bus or pin is a warning,
//     not an error: a real site's config can still be checked on a laptop
//     (the hardware is checked on the box, or on the laptop with
//     [device] board = "rpi4b");
//   - on "generic-arm" bus names and gpiochip line names vary with the SoC
//     and device tree: only the form of a name is checked.
//
// # Caveats
//
//   - Pi OS Bookworm and later keep config.txt in /boot/firmware; older
//     releases in /boot. The Pi 5 only runs Bookworm or later.
//   - Pi 5: the header GPIOs are on the RP1 south bridge, not the SoC: there
//     is no /dev/gpiomem, and periph's bcm283x driver, run as root, maps a
//     Pi 4 register address. Run the service as its own user (groups i2c,
//     spi, gpio), never as root. The header's gpiochip is gpiochip4 on
//     kernels before 6.6.45 and gpiochip0 after: name lines ("GPIO17"),
//     never chip numbers.
//   - CM4: which pins reach a header depends on the carrier board; the map
//     here is the CM4 IO Board's, which matches the Pi 4.
//   - Generic ARM: bus numbers and line names come from the device tree;
//     unnamed lines are not registered by periph, use gpiochip line
//     numbers; the i2c/spi/gpio groups need a udev rule.
package boards
