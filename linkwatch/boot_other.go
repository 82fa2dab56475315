//go:build !linux

package linkwatch

import "time"

// CurrentBoot: no boot id off Linux; the daemon's uptime is a lower bound
// of the time since boot.
func CurrentBoot() Boot { return Boot{Since: time.Since(processStart)} }
