// Package clock tells whether the system clock can be trusted yet, and which
// boot this is.
//
// A Raspberry Pi 0–4 has no RTC (a Pi 5 only with a battery fitted). After a
// power cut fake-hwclock or timesyncd set the clock to the time saved at the
// last shutdown: stale but plausible, often hours or days behind. Only once an
// NTP daemon has disciplined the clock do timestamps mean anything, and an
// offline site may never get there — so karana-edge never waits for
// time-sync.target; it samples anyway and flags readings taken while Synced()
// is false (reading.ClockUnsynced) so the backend can tell.
//
// Synced is true when either of these says so:
//   - /run/systemd/timesync/synchronized exists: systemd-timesyncd touches it
//     after its first successful sync (systemd ≥ 239);
//   - the kernel's NTP state (adjtimex with modes 0, which needs no
//     privilege): the maximum error is below 16 s, the value the kernel sets
//     at boot and after every clock step (settimeofday, `date -s`,
//     fake-hwclock) and caps it at while nobody disciplines the clock. This is
//     systemd's own test (timedatectl "System clock synchronized"); it ignores
//     STA_UNSYNC because chrony without rtcsync keeps that bit set on purpose,
//     to stop the kernel writing the RTC. A clear STA_UNSYNC with a state other
//     than TIME_ERROR (the classic test) also counts as synced.
//
// The systemd unit must allow adjtimex (SystemCallFilter=@system-service
// adjtimex) and must not set ProtectClock=yes, or the kernel state is
// unreadable and every reading is flagged unsynced.
package clock

import (
	"os"
	"strings"
)

// Roots, package variables so tests can point them at a fixture tree.
var (
	// SyncedFile exists once systemd-timesyncd has synchronized the clock.
	SyncedFile = "/run/systemd/timesync/synchronized"
	// BootIDFile holds a random UUID the kernel makes at each boot.
	BootIDFile = "/proc/sys/kernel/random/boot_id"
)

// Kernel NTP constants (linux/timex.h), spelt out so the pure logic below
// builds and is tested on every OS.
const (
	timeError = 5    // TIME_ERROR: clock not synchronized
	staUnsync = 0x40 // STA_UNSYNC
	// maxErrorUnsynced is NTP_PHASE_LIMIT in µs: the kernel's maxerror at
	// boot, after a clock step, and once ~9 h have passed without an update.
	maxErrorUnsynced = 16_000_000
)

// syncedFrom decides from the kernel's adjtimex answer (state, status,
// maxerror in µs) and whether timesyncd's flag file exists.
func syncedFrom(state int, status int32, maxerror int64, fileExists bool) bool {
	if fileExists {
		return true
	}
	if maxerror >= 0 && maxerror < maxErrorUnsynced {
		return true
	}
	return state != timeError && status&staUnsync == 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// BootID returns this boot's id (a UUID), or "" where the kernel does not
// provide one. Readings and counters that live in RAM are only comparable
// within one boot.
func BootID() string {
	b, err := os.ReadFile(BootIDFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
