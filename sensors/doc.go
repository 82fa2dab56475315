// Package sensors is the sensor side of karana-edge: what a sensor is
// (Sensor), the registry in which the config loader finds drivers
// (Register, Lookup), and the sampler that reads every configured sensor on
// its own wall-clock schedule and hands the readings to the buffer
// (Sampler). The drivers live in sub-packages, one per chip family, and
// sensors/all links them in. What the drivers of one bus share is in
// i2cbus, spibus and gpiopin: the common option keys, their validation,
// opening the bus on first read and naming the device in errors.
//
// # A sensor
//
// Read samples once and returns one Value per field ("voltage",
// "current"); the sampler names the series "<sensor>.<field>" and stamps
// every value of a read with the read's slot time (Slot gives it to a
// driver whose value depends on time, the simulator). Read honours its
// context's deadline: conversion times are waited with Sleep. Close
// releases the bus or pins; Read after Close opens them again. A sensor
// whose state must survive a restart (the pulse counter's total)
// implements Stateful: the agent restores it before the first read, and
// what it sets is written with the buffer's next group commit, so it
// survives a power cut exactly as the readings do.
//
// # A driver's life
//
// Register. The driver package's init registers its name, one line of doc,
// the I2C addresses `karana-edge scan` should name it at, its defaults and
// its constructor:
//
//	sensors.Register(sensors.Driver{Name: "gpio", Doc: "…"}, DefaultOptions, New)
//
// Register is generic in the driver's options struct O. Nothing else in
// the tree knows O: the loader gets a fresh *O with the defaults from
// Driver.Options and hands it back to Driver.New, and the registry alone
// turns that into the driver's own type (nil means the defaults; any other
// type is an error). Adding an option touches the driver's package only.
//
// Decode. The loader decodes the [[sensor]] table's inline keys over the
// defaults by toml tag, next to the keys every sensor has (Config: name,
// driver, interval, timeout, schedule, disabled, fields). A key that neither knows is
// an error at its line, naming the drivers that do have it, if any.
//
// Validate. New(name, *O) checks the options and returns the sensor, or
// config.FieldErrors keyed by option so that the loader points at the line
// (and then returns no sensor at all). It may fill in what it derives, a
// default channel list, so that the effective config shows it. It must not
// touch hardware: `karana-edge check` runs on a laptop, and a remote config
// is decoded and validated the same way before it replaces the running one.
//
// Open on first read. The first Read opens the bus, checks that the chip is
// the one configured (ids, a CRC, a register that reads back) and sets it
// up; periph's host drivers are initialised then, once. i2cbus.Device.Read
// and spibus.Device.Read do this for every bus driver, under the device's
// lock, and set a chip up again when the driver saw it reset (an INA's
// calibration reading 0, a BME280 that skipped humidity).
//
// Read, with a timeout. Each read's context ends after the sensor's
// timeout (default the smaller of interval and 5 s); a chip that never
// finishes a conversion costs one timeout, not a goroutine.
//
// Reopen after repeated errors. From the third failed read in a row the
// sampler closes the sensor after each failure, so that the next read
// opens the bus afresh and sets the chip up again: a chip that lost power
// and came back, or a cable re-plugged, recovers without a visit.
//
// Close. At shutdown the sampler waits for the reads in flight (at most the
// longest timeout and a second) and closes every sensor; one whose read
// ignored its context is left open, and Run's error names it.
//
// # The sampler's schedule
//
// Each sensor has its own goroutine, so a hung bus holds up no other
// sensor, and all share one timer (waker.go). It promises:
//
//   - Aligned slots: a sensor reads at multiples of its interval counted
//     from the Unix epoch, so every box reads a 10 s sensor at :00, :10,
//     :20 and the readings of a fleet line up. Each reading carries its
//     slot's time, not the instant the read ran. A sensor with a schedule
//     (cron expressions, the box's local time) reads at each match instead.
//   - No overlap: a sensor's reads never overlap, neither with each other
//     nor with a remote one-shot read (ReadNow), which waits for the bus.
//   - Overruns are skipped and counted: slots that pass while a read runs,
//     or while the process is stalled, are not queued or caught up; they
//     count in SensorStats.SkippedSlots, and Overrun says the last read
//     ran into the next slot. A forward clock step (NTP after a boot without an
//     RTC) is followed without a burst of reads; a backward one of under
//     two minutes is waited out, so no slot time is stored twice.
//   - Timeouts: a read that outlives its timeout is cancelled and fails
//     with "timed out after 5s: …".
//   - Backoff: after k failures in a row the next read is
//     min(2^(k-1) intervals, 5 min) after the failed one, the first retry
//     being the very next slot (a one-off glitch costs one reading); the slots
//     left out count in SensorStats.BackoffSlots. A scheduled sensor has no
//     backoff: it waits for its next match.
//   - Calibration: per-field scale, offset, unit and [min, max]
//     (Config.Fields, fields.go) are applied to every value before it is
//     named. A value out of range is counted, not stored, and the read
//     still counts as a success; NaN and ±Inf are dropped and counted.
//
// sampler.go says why each rule is as it is.
//
// # Errors
//
// A driver's error says what failed and where, so that whoever reads it
// knows what to check:
//
//   - A bus driver names the chip and its bus and address, port or pin:
//     "ina219 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and
//     is the address right?): …", "max31855 on SPI0.1: thermocouple open
//     circuit (OC) …", "pulse on pin GPIO17: …". Other drivers name the
//     program, probe or file: "/usr/local/bin/read-meter exited with exit
//     status 2: …", "probe 28-00000abcdef1: crc error …".
//   - Never the sensor's name. The sampler logs each failure with sensor=
//     and driver= and keeps the text in SensorStats.LastError; ReadNow,
//     ReadOnce and the agent prefix it once: "sensor battery (ina219):
//     read: ina219 on i2c bus 1 addr 0x40: …".
//   - Not fitted is not failing. A part that is not on this box at all (no
//     such bus, port or pin; SPI or 1-Wire not enabled; a chip that has not
//     answered once since the process started) wraps ErrNotFitted: the
//     sampler says so once, at INFO, and retries quietly at the backoff's
//     pace, so a box built without an optional sensor stays quiet. A chip
//     that answered and then stops is failing: a WARN at the first failure
//     and at every tenth.
//   - What a chip cannot have measured is an error, not a value: a stuck
//     bus (all 0x00 or 0xFF), a register that no longer reads what was
//     written, a result from before the first conversion, a power-on value.
//     Each driver's doc says what it checks.
//   - A bad option is a config.FieldError keyed by its TOML key, which the
//     loader places: "site.toml:12:1: sensor[2].address: 0x39 is not an
//     address the INA219 can have: use 0x40-0x4f (set by the A0 and A1
//     pins)".
package sensors
