// Package outputs drives what a box switches on site: a relay on a GPIO
// line (driver "gpio"), a coil or register of a Modbus device (driver
// "modbus"), or a local command (driver "exec", local config
// only). A [[output]] is on while its rule expression is true (package
// rules evaluates it); this package owns the part that touches the world
// and keeps it safe:
//
//   - at start, at shutdown, and whenever the expression cannot be
//     evaluated, the output is put in its safe state;
//   - min_switch holds every state at least that long, so a noisy input
//     never chatters a relay or short-cycles a compressor (a start counts
//     as a switch: a box that reboots in a loop does not toggle faster);
//   - every switch is reported to the caller, which makes it a reading
//     output.<name> (1 on, 0 off) and logs its cause.
//
// A GPIO output's pin goes through the board profile's checks like a
// sensor's (agent wiring), and is opened through sensors/gpiopin, so tests
// use periph's gpiotest pins registered under made-up names.
//
// A "modbus" output writes a coil or a holding register on the bus the
// modbus sensors on that port or endpoint use (sensors/modbus.AcquireBus):
// one client per wire, its requests one at a time. A write that fails
// claims no state and is retried at the next evaluation (the same state
// no sooner than 5 s after its failure).
package outputs
