package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
)

// A modbus output's keys are checked at their positions in the file, and
// a modbus key on a gpio output is refused at that key.
func TestCheckModbusOutputKeys(t *testing.T) {
	cases := []struct {
		name      string
		toml      string
		key       string
		line      int
		wantMsg   string
		wantClean bool
	}{
		{name: "valid coil", wantClean: true,
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"modbus\"\nurl = \"tcp://192.168.1.50:502\"\nunit_id = 100\ntable = \"coil\"\naddress = 0x10\non = \"battery.voltage > 1\"\n"},
		{name: "valid holding on RTU", wantClean: true,
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"modbus\"\nport = \"/dev/ttyUSB0\"\nbaud = 19200\nparity = \"E\"\ntable = \"holding\"\naddress = 3\non_value = 0xFF00\noff_value = 0\non = \"battery.voltage > 1\"\n"},
		{name: "bad table", key: "output[0].table", line: 13, wantMsg: `must be "coil"`,
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"modbus\"\nurl = \"tcp://h:502\"\ntable = \"input\"\naddress = 1\non = \"True\"\n"},
		{name: "address too big", key: "output[0].address", line: 14, wantMsg: "0-65535",
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"modbus\"\nurl = \"tcp://h:502\"\ntable = \"coil\"\naddress = 70000\non = \"True\"\n"},
		{name: "on_value too big", key: "output[0].on_value", line: 15, wantMsg: "must fit a register",
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"modbus\"\nurl = \"tcp://h:502\"\ntable = \"holding\"\naddress = 1\non_value = 65536\non = \"True\"\n"},
		{name: "modbus key on gpio", key: "output[0].table", line: 13, wantMsg: `is for driver "modbus"`,
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"gpio\"\npin = \"GPIO23\"\ntable = \"coil\"\non = \"True\"\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("c.toml", []byte(rulesBase+tc.toml))
			if tc.wantClean {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			errs, ok := config.AsErrors(err)
			if !ok || len(errs) == 0 {
				t.Fatalf("err = %v, want config errors", err)
			}
			e := errs[0]
			if e.Key != tc.key || e.Line != tc.line || !strings.Contains(e.Msg, tc.wantMsg) {
				t.Fatalf("got %s (key %q line %d), want key %q at line %d containing %q", e, e.Key, e.Line, tc.key, tc.line, tc.wantMsg)
			}
		})
	}
}

// A modbus output runs no local code: a remote document may set one with
// "output" in [remote] allow, as a gpio one, and not without it.
func TestRemoteModbusOutput(t *testing.T) {
	cur, err := ParseConfig("c.toml", []byte(rulesBase))
	if err != nil {
		t.Fatal(err)
	}
	next, err := ParseConfig("c.toml", []byte(rulesBase+"\n[[output]]\nname = \"gx_relay\"\ndriver = \"modbus\"\nurl = \"tcp://127.0.0.1:1\"\nunit_id = 100\ntable = \"holding\"\naddress = 806\non = \"battery.voltage > 1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	checkRemoteOutputs(cur, next, func(key, format string, args ...any) { msgs = append(msgs, key) })
	if len(msgs) != 0 {
		t.Fatalf("modbus output refused remotely at %v", msgs)
	}

	doc := `version = %d
[[output]]
name = "relay"
driver = "modbus"
url = "tcp://127.0.0.1:1"
table = "coil"
address = 0
on = "a.value > 1"
`
	r := newRemoteRig(t, "") // default allow: no "output"
	if res := r.set(fmt.Sprintf(doc, 1)); res.Status != StatusRejected || !hasErr(res, "output", -1) {
		t.Fatalf("modbus output without \"output\" in allow: %+v, want rejected at output", res)
	}
	r = newRemoteRig(t, `allow = ["sensor", "stream", "output"]`)
	if res := r.set(fmt.Sprintf(doc, 1)); res.Status != StatusApplied {
		t.Fatalf("modbus output with \"output\" in allow: %+v, want applied", res)
	}
}

// A modbus output on the login console's port gets the warning a sensor
// on it gets, at its own port key.
func TestModbusOutputConsolePortWarned(t *testing.T) {
	withSystemRoot(t, map[string]string{
		"proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.5\x00",
		"proc/cmdline":           "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootwait\n",
		"dev/ttyS0":              "", "dev/ttyUSB0": "",
	})
	if err := os.Symlink("ttyS0", filepath.Join(systemRoot, "dev/serial0")); err != nil {
		t.Fatal(err)
	}
	src := `[device]
id = "x"
[[sensor]]
name = "a"
driver = "testdrv"
[[output]]
name = "pump"
driver = "modbus"
port = "/dev/ttyS0"
table = "coil"
address = 0
on = "True"
[[output]]
name = "fan"
driver = "modbus"
port = "/dev/ttyUSB0"
table = "coil"
address = 1
on = "True"
`
	c, err := ParseConfig("s.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "s.toml:9:1: output[0].port: /dev/ttyS0 is the login console") {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}
}
