// Package vedirect reads Victron Energy devices over VE.Direct: MPPT solar
// chargers (BlueSolar, SmartSolar), battery monitors (BMV-60x, BMV-70x,
// BMV-712, SmartShunt) and Phoenix inverters and chargers, through the
// VE.Direct USB cable or the Pi's UART at 19200 baud, 8N1. Some VE.Direct
// ports drive 5 V on TX: on the Pi's 3.3 V UART use Victron's isolated
// interface or a level shifter. The port is opened exclusively, so one
// sensor reads one port; its labels key picks what is stored.
//
// The device talks first: about once a second it sends a text block of
// "<label>\t<value>" fields ending in a checksum (Victron, "VE.Direct
// Protocol", section "Text-mode"). A goroutine started by the first read
// keeps reading the port and keeps the newest value of every label from the
// blocks whose checksum holds; a read takes the labels seen in the last
// three seconds. A BMV sends its history (H1–H18) in a block of its own, so
// one read merges the two.
//
// # Keys
//
//	port   = "/dev/ttyUSB0"   # default; better the /dev/serial/by-id/… name
//	labels = ["V", "I", "PPV", "H20", "CS"]   # default: every numeric label the device sends, and bad_blocks
//
// # Fields
//
// Each numeric label becomes a field of the same name, converted to SI:
//
//	V, V2, V3, VS, VM, VPV   mV → V       battery, channels 2/3, starter, mid-point, panel voltage
//	I, I2, I3, IL            mA → A       battery, channels 2/3, load current
//	P, PPV                   W            instantaneous power, panel power
//	CE                       mAh → Ah     consumed charge (negative when discharged)
//	SOC, DM                  ‰ → %        state of charge, mid-point deviation
//	TTG                      min          time to go; -1 (infinite: not discharging) is left out
//	T                        °C           battery temperature
//	H1, H2, H3, H6           mAh → Ah     deepest, last, average discharge; cumulative Ah drawn
//	H4, H5, H10–H14          count        charge cycles, full discharges, syncs, alarms
//	H7, H8, H15, H16         mV → V       min/max battery and starter voltage
//	H9                       s            since the last full charge
//	H17, H18                 0.01 kWh → kWh  discharged, charged energy
//	H19, H20, H22            0.01 kWh → kWh  yield total, today, yesterday
//	H21, H23                 W            maximum power today, yesterday
//	AC_OUT_V, AC_OUT_I       0.01 V → V, 0.1 A → A (inverters)
//	AC_OUT_S                 VA
//	LOAD, Alarm, Relay       ON/OFF → 1/0
//	CS, ERR, MPPT, MODE, MON, AR, WARN, HSDS   codes, as numbers (below)
//	OR                       "0x…" hex → number
//	bad_blocks               blocks dropped since the driver opened the port (a counter)
//
// PID (product id), SER# (serial number) and FW are not stored: they are
// logged when first seen or changed and shown by `karana-edge read`. BMV is
// a deprecated model name; other labels are ignored.
//
// A value of "---" (a BMV's SOC before its first synchronisation, a
// temperature without a sensor) is left out, never stored as 0.
//
// # Codes (from "VE.Direct Protocol")
//
// CS, state of operation: 0 off, 1 low power, 2 fault, 3 bulk, 4
// absorption, 5 float, 6 storage, 7 equalize (manual), 9 inverting, 11
// power supply, 245 starting up, 246 repeated absorption, 247 auto
// equalize / recondition, 248 BatterySafe, 252 external control.
//
// ERR, charger error: 0 none, 2 battery voltage too high, 17 charger
// temperature too high, 18 charger over current, 19 charger current
// reversed, 20 bulk time limit exceeded, 21 current sensor issue, 26
// terminals overheated, 28 converter issue, 33 input (PV) voltage too high,
// 34 input current too high, 38 input shutdown (battery voltage too high),
// 39 input shutdown (current flow during off mode), 65 lost communication
// with a device, 66 synchronised charging configuration issue, 67 BMS
// connection lost, 68 network misconfigured, 116 factory calibration data
// lost, 117 invalid or incompatible firmware, 119 user settings invalid.
//
// MPPT, tracker mode: 0 off, 1 voltage or current limited, 2 MPP tracker
// active.
//
// OR, off reason (bits): 0x1 no input power, 0x2 switched off (power
// switch), 0x4 switched off (device mode register), 0x8 remote input, 0x10
// protection active, 0x20 Paygo, 0x40 BMS, 0x80 engine shutdown detection,
// 0x100 analysing input voltage.
//
// AR (alarm reason) and WARN (warning reason), bits: 1 low voltage, 2 high
// voltage, 4 low SOC, 8 low starter voltage, 16 high starter voltage, 32 low
// temperature, 64 high temperature, 128 mid voltage, 256 overload, 512 DC
// ripple, 1024 low AC out voltage, 2048 high AC out voltage, 4096 short
// circuit, 8192 BMS lockout.
//
// MODE (inverters): 1 charger, 2 inverter, 4 off, 5 eco, 253 hibernate.
// MON (SmartShunt DC monitor mode): 0 battery monitor; negative values are
// sources (-9 solar charger … -1 generic source), positive ones loads.
// HSDS: the day sequence number of the MPPT's history (0–364).
//
// # Which product sends what
//
//   - MPPT chargers: V, VPV, PPV, I, IL, LOAD, Relay, OR, H19–H23, ERR, CS,
//     MPPT, HSDS (and PID, SER#, FW).
//   - BMV-70x, BMV-712, SmartShunt: V, VS or VM, DM, I, T, P, CE, SOC, TTG,
//     Alarm, Relay, AR, MON, and H1–H18 in a second block (BMV-60x: fewer).
//   - Phoenix inverters: V, AC_OUT_V, AC_OUT_I, AC_OUT_S, AR, WARN, MODE,
//     CS, OR. Phoenix chargers: V, V2, V3, I, I2, I3, T, ERR, CS.
//
// # The checksum, HEX frames and errors
//
// A block's bytes, from its first field's "\r\n" through the checksum byte,
// sum to 0 modulo 256. A block that fails is dropped (its values are never
// stored) and counted in bad_blocks, and the first and every hundredth drop
// are logged; the first block after opening the port is not counted when it
// fails, since the port was likely opened mid-block. Asynchronous HEX
// frames (":…\n") that newer devices interleave, even inside a block, are
// skipped and left out of the sum, as Victron's reference framehandler does.
//
// No good block for three seconds is an error naming the port and what
// was seen (blocks dropped, the port's open or read error). A port that
// does not exist and never answered is "not fitted" (quiet). When the port
// fails (a USB cable pulled mid-block, a device switched off) the reader
// closes it and reopens it by itself, after 0.5 s and then with a backoff
// doubling up to 10 s; a half block is forgotten.
package vedirect
