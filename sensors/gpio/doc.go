// Package gpio reads the digital level of a GPIO input as 0 or 1: a door
// contact, a float switch, a breaker's auxiliary contact, an inverter's
// fault relay. Registered as driver "gpio".
//
//	[[sensor]]
//	name = "door"
//	driver = "gpio"
//	interval = "5s"
//	pin = "GPIO22"      # required; `karana-edge board` lists the header pins;
//	                    # on a generic board an unnamed line is "gpiochip0/17"
//	pull = "up"         # up | down | none (an external resistor)
//	invert = true       # report 1 for a low level (a contact to ground closed)
//	debounce = "20ms"   # the level must be stable this long
//
// One field, "level" (no unit). With debounce > 0 each read samples the pin
// about every debounce/5 (1 to 10 ms apart) until it has read the same level
// for the whole debounce time; a level that keeps changing until the read's
// timeout is an error (a bouncing contact, or a floating input with pull
// "none" and no external resistor). A level is a state, not an event: to
// count closures use the pulse driver.
//
// The pin is configured (input, pull) by the first read and after every
// re-open; the internal pulls are about 50 kΩ on a Raspberry Pi, too weak
// for long cables in a noisy cabinet, where an external 4.7-10 kΩ resistor
// and pull = "none" are the better choice.
package gpio
