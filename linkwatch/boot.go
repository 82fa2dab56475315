package linkwatch

import "time"

// Boot identifies the running boot: what a reboot record's age is measured
// against without trusting the wall clock.
type Boot struct {
	// ID is the kernel's boot id (/proc/sys/kernel/random/boot_id), new at
	// every boot; "" when unknown.
	ID string
	// Since is the time since the boot (CLOCK_BOOTTIME, which counts
	// suspend too), or a lower bound of it.
	Since time.Duration
}

var processStart = time.Now()
