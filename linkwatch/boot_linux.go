package linkwatch

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CurrentBoot reads the boot id and CLOCK_BOOTTIME. Without them (a
// container hiding /proc/sys) the daemon's own uptime is a lower bound of
// the time since boot, which is all the reboot cap needs.
func CurrentBoot() Boot {
	var b Boot
	if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		b.ID = strings.TrimSpace(string(id))
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
		b.Since = time.Duration(ts.Nano())
	} else {
		b.Since = time.Since(processStart)
	}
	return b
}
