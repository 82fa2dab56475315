package linkwatch

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// The steps, by their config names.
const (
	StepReconnect    = "reconnect"
	StepRestartModem = "restart-modem"
	StepReboot       = "reboot"
)

// Steps are the known steps, mildest first.
var Steps = []string{StepReconnect, StepRestartModem, StepReboot}

// MinNoContact is the shortest no_contact accepted: below it, a link that
// is merely slow (a 2G reconnect with backoff takes minutes) would be
// "recovered" by restarting the modem under it.
const MinNoContact = 15 * time.Minute

// MaxRebootsPerDay bounds max_reboots_per_day: one an hour is already far
// more than ever helped a link, and each reboot costs an SD card write
// storm.
const MaxRebootsPerDay = 24

// Config is the [link] section.
type Config struct {
	// NoContact is how long without broker contact before the first step,
	// and between steps; 0 (the default) turns the watchdog off.
	NoContact config.Duration `toml:"no_contact"`
	// Steps run one per NoContact period, in order, cycling.
	Steps []string `toml:"steps"`
	// MaxRebootsPerDay caps reboots in any 24 h, across reboots.
	MaxRebootsPerDay int `toml:"max_reboots_per_day"`
}

// DefaultConfig: off; when turned on, all three steps and one reboot a day.
func DefaultConfig() Config {
	return Config{Steps: slices.Clone(Steps), MaxRebootsPerDay: 1}
}

// Enabled reports whether the watchdog runs.
func (c *Config) Enabled() bool { return c.NoContact.Duration > 0 }

// Validate checks the section; keys are relative to [link].
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if d := c.NoContact.Duration; d < 0 || d > 0 && d < MinNoContact {
		errs.Add("no_contact", "must be 0 (off) or at least %s, got %s: a slow 2G reconnect takes minutes, and restarting the modem under it makes it slower", MinNoContact, d)
	}
	seen := map[string]int{}
	for i, s := range c.Steps {
		if !slices.Contains(Steps, s) {
			errs.Add("steps", "step %d: unknown step %q; the steps are %s", i+1, s, strings.Join(quoted(Steps), ", "))
			continue
		}
		if j, dup := seen[s]; dup {
			errs.Add("steps", "step %d: %q is already step %d; each step runs once per no_contact period, list it once", i+1, s, j+1)
			continue
		}
		seen[s] = i
	}
	if c.Enabled() && len(c.Steps) == 0 {
		errs.Add("steps", "no_contact is set but steps is empty: list at least one of %s, or set no_contact = \"0s\"", strings.Join(quoted(Steps), ", "))
	}
	if n := c.MaxRebootsPerDay; n < 1 || n > MaxRebootsPerDay {
		errs.Add("max_reboots_per_day", "must be between 1 and %d, got %d (to never reboot, leave \"reboot\" out of steps)", MaxRebootsPerDay, n)
	}
	return errs.Err()
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Explain says in plain words what the watchdog will do, a line per step,
// for `check`.
func (c *Config) Explain() []string {
	if !c.Enabled() {
		return []string{"link watchdog: off ([link] no_contact = \"0s\"); a box that loses its link waits for it"}
	}
	nc := c.NoContact.Duration
	lines := []string{fmt.Sprintf("link watchdog: after %s without broker contact, one step per %s while the silence lasts (then the steps start over):", nc, nc)}
	for i, s := range c.Steps {
		at := nc * time.Duration(i+1)
		var what string
		switch s {
		case StepReconnect:
			what = "drop the MQTT connection and dial the broker afresh (new DNS lookup, new TLS session), skipping the reconnect backoff"
		case StepRestartModem:
			what = "ask ModemManager to disable and re-enable the modem; the next time round, reset it (Modem.Reset). Needs ModemManager and the polkit rule packaging/polkit/50-karana-edge.rules; skipped when no modem is fitted"
		case StepReboot:
			what = fmt.Sprintf("reboot the box through systemd-logind (or systemctl reboot), at most %d a day counted across reboots, after a clean stop of the daemon. Needs the polkit rule packaging/polkit/50-karana-edge.rules", c.MaxRebootsPerDay)
		}
		lines = append(lines, fmt.Sprintf("  %d. %s (first at %s of silence): %s", i+1, s, at, what))
	}
	lines = append(lines, "  every step is logged and reported in the status document (link_watchdog) at the next contact")
	return lines
}
