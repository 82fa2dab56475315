package boards

import (
	"fmt"
	"slices"
)

// firmwareConfig is config.txt on Pi OS Bookworm and later.
const firmwareConfig = "/boot/firmware/config.txt"

// piGroups are the groups Pi OS's udev rules give the bus devices.
var piGroups = []string{"i2c", "spi", "gpio"}

// oldConfigNote is for boards that also ran releases before Bookworm.
const oldConfigNote = "config.txt is /boot/firmware/config.txt on Pi OS Bookworm and later, /boot/config.txt on Bullseye and older"

// piSerial are the serial notes of every 40-pin Pi but the 5.
var piSerial = []string{
	"header UART: TXD GPIO14 (pin 8), RXD GPIO15 (pin 10), 3.3 V logic: RS-485 and RS-232 need a transceiver (a HAT, or a USB adapter instead)",
	"enable_uart=1 creates /dev/serial0; Pi OS also runs the login console on it (console=serial0,115200 in cmdline.txt): turn that off before wiring a device (raspi-config: Interface Options, Serial Port: login shell No, hardware Yes)",
}

// btSerial is for the Pis whose PL011 UART drives Bluetooth.
const btSerial = "here /dev/serial0 is the mini UART (ttyS0), whose baud rate follows the core clock; for the PL011 (ttyAMA0) on the header add dtoverlay=disable-bt and run sudo systemctl disable hciuart"

// pi40Buses are the buses of every 40-pin Pi.
var pi40Buses = []Bus{
	{Kind: I2C, Name: "1", Dev: "/dev/i2c-1", Enable: "dtparam=i2c_arm=on",
		Pins: []BusPin{{"GPIO2", "SDA"}, {"GPIO3", "SCL"}}},
	{Kind: I2C, Name: "0", Dev: "/dev/i2c-0", Enable: "dtparam=i2c_vc=on",
		Pins:     []BusPin{{"GPIO0", "SDA"}, {"GPIO1", "SCL"}},
		Reserved: "it is ID_SD/ID_SC (pins 27/28), where the firmware reads a HAT's ID EEPROM at boot; use bus \"1\""},
	// dtparam=spi=on claims both chip selects, whichever port is used.
	spi0(0), spi0(1),
	spi1(0), spi1(1), spi1(2),
	{Kind: OneWire, Name: "w1", Dev: "/sys/bus/w1/devices", Enable: "dtoverlay=w1-gpio,gpiopin=4"},
}

func spi0(cs int) Bus {
	return Bus{Kind: SPI, Name: fmt.Sprintf("SPI0.%d", cs), Dev: fmt.Sprintf("/dev/spidev0.%d", cs),
		Enable: "dtparam=spi=on",
		Pins:   []BusPin{{"GPIO8", "CE0"}, {"GPIO7", "CE1"}, {"GPIO9", "MISO"}, {"GPIO10", "MOSI"}, {"GPIO11", "SCLK"}}}
}

// spi1 is the auxiliary SPI: dtoverlay=spi1-Ncs claims CE0 up to CE(N-1).
func spi1(cs int) Bus {
	pins := []BusPin{{"GPIO19", "MISO"}, {"GPIO20", "MOSI"}, {"GPIO21", "SCLK"}}
	ces := []BusPin{{"GPIO18", "CE0"}, {"GPIO17", "CE1"}, {"GPIO16", "CE2"}}
	return Bus{Kind: SPI, Name: fmt.Sprintf("SPI1.%d", cs), Dev: fmt.Sprintf("/dev/spidev1.%d", cs),
		Enable: fmt.Sprintf("dtoverlay=spi1-%dcs", cs+1),
		Pins:   append(ces[:cs+1:cs+1], pins...)}
}

// bcm2711Buses are the BCM2711's extra controllers (Pi 4, 400, CM4), each
// enabled by its own overlay; their pins are chosen in the overlay
// (dtoverlay -h i2c3), so they are not checked against plain GPIO use.
func bcm2711Buses() []Bus {
	var out []Bus
	for n := 3; n <= 6; n++ {
		out = append(out, Bus{Kind: I2C, Name: fmt.Sprint(n), Dev: fmt.Sprintf("/dev/i2c-%d", n),
			Enable: fmt.Sprintf("dtoverlay=i2c%d", n)})
	}
	for n := 3; n <= 6; n++ {
		for cs := 0; cs <= 1; cs++ {
			out = append(out, Bus{Kind: SPI, Name: fmt.Sprintf("SPI%d.%d", n, cs), Dev: fmt.Sprintf("/dev/spidev%d.%d", n, cs),
				Enable: fmt.Sprintf("dtoverlay=spi%d-%dcs", n, cs+1)})
		}
	}
	return out
}

func concat(parts ...[]Bus) []Bus {
	var out []Bus
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// profiles is every board, in the order Detect tries their match strings:
// a more specific model string comes before the one it contains.
var profiles = []Profile{
	{
		Name: "rpizero2w", Model: "Raspberry Pi Zero 2 W", SoC: "RP3A0 (BCM2710A1)",
		Buses: pi40Buses, Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes: []string{
			oldConfigNote,
			"512 MB RAM, Cortex-A53: the armv6 build runs on 32-bit Pi OS, the arm64 build on 64-bit",
		},
		UARTEnable: "enable_uart=1", SerialNotes: append(slices.Clone(piSerial), btSerial),
		match: []string{"raspberry pi zero 2"},
	},
	{
		Name: "rpizerow", Model: "Raspberry Pi Zero W", SoC: "BCM2835",
		Buses: pi40Buses, Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes: []string{
			oldConfigNote,
			"ARMv6 (ARM1176): run the armv6 (GOARM=6) build; a GOARM=7 binary dies with SIGILL",
		},
		UARTEnable: "enable_uart=1", SerialNotes: append(slices.Clone(piSerial), btSerial),
		match: []string{"raspberry pi zero"},
	},
	{
		Name: "rpi3b", Model: "Raspberry Pi 3 Model B / B+", SoC: "BCM2837",
		Buses: pi40Buses, Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes:      []string{oldConfigNote},
		UARTEnable: "enable_uart=1", SerialNotes: append(slices.Clone(piSerial), btSerial),
		match: []string{"raspberry pi 3"},
	},
	{
		Name: "cm4", Model: "Raspberry Pi Compute Module 4", SoC: "BCM2711",
		Buses: concat(pi40Buses, bcm2711Buses()), Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes: []string{
			"the header depends on the carrier board: this map is the CM4 IO Board's (same as the Pi 4); check your carrier's schematic",
			"I2C 3–6 and SPI3–SPI6 by overlay (dtoverlay=i2c3, dtoverlay=spi3-1cs …; pins: dtoverlay -h i2c3)",
			oldConfigNote,
		},
		UARTEnable: "enable_uart=1", SerialNotes: append(slices.Clone(piSerial), btSerial),
		match: []string{"compute module 4"},
	},
	{
		Name: "rpi4b", Model: "Raspberry Pi 4 Model B", SoC: "BCM2711",
		Buses: concat(pi40Buses, bcm2711Buses()), Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes: []string{
			"I2C 3–6 and SPI3–SPI6 by overlay (dtoverlay=i2c3, dtoverlay=spi3-1cs …; pins: dtoverlay -h i2c3)",
			oldConfigNote,
		},
		UARTEnable: "enable_uart=1", SerialNotes: append(slices.Clone(piSerial), btSerial),
		match: []string{"raspberry pi 4"},
	},
	{
		Name: "rpi5", Model: "Raspberry Pi 5 Model B", SoC: "BCM2712 + RP1",
		Buses: pi40Buses, Header: header40, ConfigFile: firmwareConfig, Groups: piGroups,
		Notes: []string{
			"header GPIO, I2C and SPI are on the RP1 south bridge: there is no /dev/gpiomem; never run karana-edge as root (periph's bcm283x driver would map a Pi 4 address): run it as its own user in groups i2c, spi, gpio",
			"the header's gpiochip is gpiochip4 on kernels before 6.6.45, gpiochip0 after: name pins (\"GPIO17\"), never chip numbers",
			"RP1 has more I2C and SPI buses by overlay (/boot/firmware/overlays/README); this profile knows I2C 1, SPI0 and SPI1: use board = \"generic-arm\" to skip bus checks if you wire others",
		},
		UARTEnable: "dtparam=uart0=on", SerialNotes: []string{
			"header UART: TXD GPIO14 (pin 8), RXD GPIO15 (pin 10), 3.3 V logic: RS-485 and RS-232 need a transceiver (a HAT, or a USB adapter instead)",
			"the header UART is /dev/ttyAMA0 with dtparam=uart0=on; /dev/serial0 is the debug connector's UART (ttyAMA10) unless configured otherwise: check ls -l /dev/serial0",
		},
		match: []string{"raspberry pi 5"},
	},
	{
		Name: "generic-arm", Model: "generic ARM Linux board", AnyBus: true, AnyPin: true,
		Groups: piGroups,
		SerialNotes: []string{
			"UART names and the overlays that enable them vary by board (ttyS*, ttyAMA*): see the board's documentation; USB adapters are /dev/ttyUSB* or /dev/ttyACM* everywhere",
		},
		Notes: []string{
			"bus numbers and GPIO line names come from the board's device tree and vary: only the form of bus and pin names is checked",
			"periph registers named gpiochip lines only: on an unnamed line use its number on the chip",
			"enable buses with the board's own overlays (armbian-config, /boot/armbianEnv.txt overlays=, or the vendor's tool); there is no config.txt",
			"the i2c, spi and gpio groups need a udev rule on most distros: SUBSYSTEM==\"i2c-dev\", GROUP=\"i2c\", MODE=\"0660\" (likewise spidev, gpio)",
		},
	},
	Sim,
}
