// Package modbus is the `modbus` driver: Modbus RTU on an RS-485 port,
// Modbus TCP, and RTU frames over TCP (serial gateways), with inline
// registers or a shipped profile (profiles/*.toml, embedded), SunSpec
// discovery, and the scan behind `karana-edge modbus scan`.
//
// # Keys
//
// port, baud (9600), data_bits (8), parity ("N"), stop_bits (1) — or url
// ("tcp://host:502", "rtuovertcp://host:port"); unit_id (the profile's,
// else 1); request_timeout (1s); profile; max_registers (125); max_gap
// (4); and [[sensor.register]] tables with field, table, address, type,
// word_order, byte_order, scale, offset, unit, scale_register. Options
// and Register document each; the README has the table and the profiles.
//
// # One bus, many devices
//
// Every sensor on one port (or TCP endpoint) shares one Bus: one open
// port, one request at a time, the library keeping the 3.5-character
// silent interval between frames (1.75 ms above 19200 baud). A unit that
// does not answer costs one request_timeout per read — a read stops at
// its first timeout — and the other units keep their schedule. The last
// sensor to close a bus closes the port. An I/O error on the port itself
// (USB adapter unplugged, TCP peer gone) closes it; the next request
// reopens it after a backoff of 1 s doubling to 30 s, so the sensors
// recover by themselves when the adapter comes back.
//
// # Reads
//
// A sensor's registers are read in as few requests as the limits allow:
// ranges of one table within max_gap unused registers of each other are
// merged, up to max_registers (default 125, the spec's limit) per
// request. A device that answers a merged read with an exception (many
// refuse reads across unmapped registers) is asked again for each range
// alone, at once and for good, and the finding is logged. An exception
// on a single range of the sensor's own [[sensor.register]] tables fails
// the read with an error that names the exception, the table and
// address, the unit and the bus; one on a profile's register leaves that
// field out from then on (logged once), since a profile covers a family
// whose members differ. A profile may cap requests below 125 registers
// (Eastron: 30 floats a request).
//
// Decoding: int16 … float64 and bits, word_order for multi-register
// values (EPEver and PZEM put the low word first), byte_order inside a
// register, value = raw × 10^sf × scale + offset; a scale that is a power
// of ten divides, so 2200 × 0.1 is 220, not 220.00000000000003, and a
// float32 is stored as its shortest decimal (229.8, not
// 229.8000030517578). A NaN or infinite float is missing, never a
// number; so are SunSpec's "not implemented" values (0x8000 int16,
// 0xFFFF uint16, 0 for an accumulator, a scale factor of 0x8000).
//
// # Library
//
// Framing (CRC, ADU/PDU, exceptions, t3.5) is github.com/simonvetter/modbus
// v1.6.4, chosen over github.com/grid-x/modbus: both are maintained and
// neither takes a caller's serial port (grid-x opens its own
// grid-x/serial, simonvetter its own goburrow/serial: each keeps the
// port in an unexported field), so go.bug.st/serial cannot be plugged
// into either without re-writing the RTU transport, which this package
// must not do. simonvetter waits t3.5 before every frame from the time
// the last one ended (1750 µs above 19200 baud, as the spec says),
// checks the unit id of answers, flushes the line after a bad CRC, maps
// every exception code to a named error, and has a TCP server, used by
// the tests. It counts 11 bits a character (8E1/8N2) where 8N1 has 10:
// the waits are 10 % longer than needed at 8N1, which the bus benchmark
// measures. Its RTU client uses goburrow/serial (termios, no cgo), which
// costs nothing on top as simonvetter needs it anyway.
package modbus
