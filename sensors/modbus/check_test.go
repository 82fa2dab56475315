package modbus_test

import (
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/agent"
)

// `check` points at the line of each mistake: an unknown profile, a bad
// type, two registers over one address, an address past 0xFFFF.
func TestCheckPositions(t *testing.T) {
	const file = `
[[sensor]]
name = "meter"
driver = "modbus"
port = "/dev/ttyUSB0"
profile = "eastron-sdm999"

[[sensor]]
name = "mppt"
driver = "modbus"
port = "/dev/ttyUSB0"
unit_id = 2

[[sensor.register]]
field = "a"
table = "input"
address = 0x3100
type = "int17"

[[sensor.register]]
field = "b"
table = "input"
address = 0x3100
type = "uint32"

[[sensor.register]]
field = "c"
table = "input"
address = 0x3101

[[sensor.register]]
field = "d"
address = 70000
`
	_, err := agent.ParseConfig("site.toml", []byte(file))
	if err == nil {
		t.Fatal("config with four mistakes accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`site.toml:6:1: sensor[0].profile: unknown profile "eastron-sdm999" (shipped: eastron-sdm120, eastron-sdm630, epever-tracer, pzem-016, sunspec, victron-gx)`,
		`site.toml:18:1: sensor[1].register[0].type: unknown type "int17"`,
		`site.toml:29:1: sensor[1].register[2].address: register[2] 0x3101 (c) overlaps register[1] 0x3100-0x3101 (b) in the input register table`,
		`site.toml:33:1: sensor[1].register[3].address: must be a 0-based PDU address 0-65535 (0x0000-0xFFFF), got 70000`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack\n  %s\ngot:\n%s", want, got)
		}
	}
}

// A valid sensor passes check with its effective options shown.
func TestCheckValid(t *testing.T) {
	const file = `
[[sensor]]
name = "grid"
driver = "modbus"
port = "/dev/ttyUSB0"
profile = "eastron-sdm630"
unit_id = 1

[[sensor]]
name = "gx"
driver = "modbus"
url = "tcp://192.168.1.50:502"
profile = "victron-gx"
`
	if _, err := agent.ParseConfig("site.toml", []byte(file)); err != nil {
		t.Fatal(err)
	}
}
