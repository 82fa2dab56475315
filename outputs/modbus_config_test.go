package outputs

import (
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func ptr(v int) *int { return &v }

// Every modbus key is checked, with the key named.
func TestValidateModbus(t *testing.T) {
	cases := []struct {
		mod  func(c *Config)
		want string // substring of the error; "" for none
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.URL, c.Port = "", "/dev/ttyUSB0" }, ""},
		{func(c *Config) { c.URL, c.Port, c.Baud, c.Parity, c.StopBits = "", "/dev/ttyUSB0", 19200, "E", 1 }, ""},
		{func(c *Config) { c.URL = "rtuovertcp://10.0.0.5:4001" }, ""},
		{func(c *Config) { c.Table, c.OnValue, c.OffValue = "holding", ptr(0xFFFF), ptr(0) }, ""},
		{func(c *Config) { c.URL = "" }, "port: set port"},
		{func(c *Config) { c.Port = "/dev/ttyUSB0" }, "url: set port or url, not both"},
		{func(c *Config) { c.URL = "http://h:80" }, "url:"},
		{func(c *Config) { c.URL, c.Port, c.Baud = "", "/dev/ttyUSB0", 9601 }, "baud:"},
		{func(c *Config) { c.URL, c.Port, c.Parity = "", "/dev/ttyUSB0", "X" }, "parity:"},
		{func(c *Config) { c.URL, c.Port, c.UnitID = "", "/dev/ttyUSB0", 248 }, "unit_id: must be 1-247"},
		{func(c *Config) { c.RequestTimeout = config.D(2 * time.Minute) }, "request_timeout:"},
		{func(c *Config) { c.Table = "" }, "table: must be \"coil\""},
		{func(c *Config) { c.Table = "input" }, "table: must be \"coil\""},
		{func(c *Config) { c.Address = nil }, "address: must be set"},
		{func(c *Config) { c.Address = ptr(0x10000) }, "address: must be a 0-based PDU address"},
		{func(c *Config) { c.Address = ptr(-1) }, "address:"},
		{func(c *Config) { c.OnValue = ptr(2) }, "on_value: is for table \"holding\""},
		{func(c *Config) { c.Table, c.OnValue = "holding", ptr(65536) }, "on_value: must fit a register"},
		{func(c *Config) { c.Table, c.OffValue = "holding", ptr(-1) }, "off_value: must fit a register"},
		{func(c *Config) { c.Table, c.OnValue, c.OffValue = "holding", ptr(5), ptr(5) }, "off_value: is on_value"},
		{func(c *Config) { c.Pin = "GPIO23" }, "pin: is for driver \"gpio\""},
		{func(c *Config) { c.Command = []string{"/bin/true"} }, "command: is for driver \"exec\""},
		{func(c *Config) { c.Active = "low" }, "active: is for driver \"gpio\""},
	}
	for i, tc := range cases {
		c := DefaultConfig()
		c.Name, c.Driver, c.On = "relay", "modbus", "true"
		c.URL, c.Table, c.Address = "tcp://192.168.1.50:502", "coil", ptr(0)
		tc.mod(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("case %d: %v", i, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("case %d: err = %v, want %q", i, err, tc.want)
		}
	}
}
