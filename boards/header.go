package boards

// header40 is the 40-pin header, identical on every 40-pin Raspberry Pi
// (Zero, 3, 4, 5, 400/500 and the CM4 IO Board): pin 1 is the square pad,
// odd pins on the inner row. GPIO numbers are the SoC's (BCM) numbers, the
// names the kernel gives the gpiochip lines and periph registers.
//
// Pins 27/28 (GPIO0/GPIO1, ID_SD/ID_SC) are I2C bus 0, which the firmware
// uses at boot to read a HAT's ID EEPROM: leave them alone.
var header40 = []HeaderPin{
	{1, "3V3", ""},
	{2, "5V", ""},
	{3, "GPIO2", "SDA1"},
	{4, "5V", ""},
	{5, "GPIO3", "SCL1"},
	{6, "GND", ""},
	{7, "GPIO4", "GPCLK0, 1-Wire"},
	{8, "GPIO14", "TXD0"},
	{9, "GND", ""},
	{10, "GPIO15", "RXD0"},
	{11, "GPIO17", "SPI1 CE1"},
	{12, "GPIO18", "PWM0, SPI1 CE0"},
	{13, "GPIO27", ""},
	{14, "GND", ""},
	{15, "GPIO22", ""},
	{16, "GPIO23", ""},
	{17, "3V3", ""},
	{18, "GPIO24", ""},
	{19, "GPIO10", "SPI0 MOSI"},
	{20, "GND", ""},
	{21, "GPIO9", "SPI0 MISO"},
	{22, "GPIO25", ""},
	{23, "GPIO11", "SPI0 SCLK"},
	{24, "GPIO8", "SPI0 CE0"},
	{25, "GND", ""},
	{26, "GPIO7", "SPI0 CE1"},
	{27, "GPIO0", "ID_SD"},
	{28, "GPIO1", "ID_SC"},
	{29, "GPIO5", ""},
	{30, "GND", ""},
	{31, "GPIO6", ""},
	{32, "GPIO12", "PWM0"},
	{33, "GPIO13", "PWM1"},
	{34, "GND", ""},
	{35, "GPIO19", "SPI1 MISO"},
	{36, "GPIO16", "SPI1 CE2"},
	{37, "GPIO26", ""},
	{38, "GPIO20", "SPI1 MOSI"},
	{39, "GND", ""},
	{40, "GPIO21", "SPI1 SCLK"},
}

// reservedGPIOs are header GPIOs that work but should not carry sensors.
var reservedGPIOs = map[string]string{
	"GPIO0": "ID_SD (pin 27), reserved for the ID EEPROM of HATs",
	"GPIO1": "ID_SC (pin 28), reserved for the ID EEPROM of HATs",
}
