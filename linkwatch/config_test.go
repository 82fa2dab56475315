package linkwatch

import (
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func TestDefaultIsOffAndValid(t *testing.T) {
	c := DefaultConfig()
	if c.Enabled() {
		t.Error("the watchdog is on by default")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("default invalid: %v", err)
	}
	if got := c.Explain(); len(got) != 1 || !strings.Contains(got[0], "off") {
		t.Errorf("Explain: %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		key  string
		msg  string
	}{
		{"short", func(c *Config) { c.NoContact = config.D(10 * time.Minute) }, "no_contact", "at least 15m0s"},
		{"negative", func(c *Config) { c.NoContact = config.D(-time.Hour) }, "no_contact", "must be 0"},
		{"unknown", func(c *Config) { c.Steps = []string{"reconnect", "power-cycle"} }, "steps", `step 2: unknown step "power-cycle"`},
		{"duplicate", func(c *Config) { c.Steps = []string{"reboot", "reconnect", "reboot"} }, "steps", `step 3: "reboot" is already step 1`},
		{"empty", func(c *Config) { c.NoContact = config.D(time.Hour); c.Steps = []string{} }, "steps", "steps is empty"},
		{"zero reboots", func(c *Config) { c.MaxRebootsPerDay = 0 }, "max_reboots_per_day", "between 1 and 24"},
		{"many reboots", func(c *Config) { c.MaxRebootsPerDay = 100 }, "max_reboots_per_day", "got 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			fe, ok := err.(config.FieldErrors)
			if !ok || len(fe) != 1 || fe[0].Key != tc.key || !strings.Contains(fe[0].Msg, tc.msg) {
				t.Errorf("got %v, want one error at %s containing %q", err, tc.key, tc.msg)
			}
		})
	}
}

func TestExplainNamesEveryStep(t *testing.T) {
	c := DefaultConfig()
	c.NoContact = config.D(6 * time.Hour)
	c.MaxRebootsPerDay = 2
	got := strings.Join(c.Explain(), "\n")
	for _, want := range []string{
		"after 6h0m0s without broker contact",
		"1. reconnect (first at 6h0m0s of silence)",
		"2. restart-modem (first at 12h0m0s of silence): ask ModemManager to disable and re-enable the modem; the next time round, reset it",
		"3. reboot (first at 18h0m0s of silence)",
		"at most 2 a day",
		"link_watchdog",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain lacks %q:\n%s", want, got)
		}
	}
}
