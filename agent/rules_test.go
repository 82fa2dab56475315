package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/rules"
)

const rulesBase = `[device]
id = "x"
board = "sim"

[[sensor]]
name = "battery"
driver = "testdrv"
`

// Expression mistakes are reported at file:line:col of the mistake itself
// (the column counted in the file, escapes included), naming the key.
func TestCheckRuleExpressionPositions(t *testing.T) {
	cases := []struct {
		name      string
		toml      string
		key       string
		line, col int
		want      string
	}{
		{
			// line 11: expr = "battery.voltage * " — the value starts at
			// col 9; the end of input is reported at its last character.
			name: "incomplete", key: "derive[0].expr", line: 11, col: 26, want: "got the end of the expression",
			toml: "\n[[derive]]\nname = \"p\"\nexpr = \"battery.voltage * \"\n",
		},
		{
			// the window's opening \" is at col 31 of line 11 (the value
			// starts at col 9, "mean(battery.voltage, " is 22 long)
			name: "bad window", key: "rule[0].when", line: 11, col: 31, want: "not a duration",
			toml: "\n[[rule]]\nname = \"r\"\nwhen = \"mean(battery.voltage, \\\"1 hour\\\") < 3\"\n",
		},
		{
			// after two \" escapes: the decoded value is 30 long, its last
			// character at offset 29, 31 in the file: col 9+31
			name: "escapes counted", key: "rule[0].when", line: 11, col: 40, want: "got the end of the expression",
			toml: "\n[[rule]]\nname = \"r\"\nwhen = \"mean(battery.voltage, \\\"1h\\\") < \"\n",
		},
		{
			// the value starts at col 10, "in" is its 17th character
			name: "literal string", key: "rule[0].clear", line: 12, col: 26, want: "operator in is not allowed",
			toml: "\n[[rule]]\nname = \"r\"\nwhen = \"battery.voltage < 3\"\nclear = 'battery.voltage in (1, 3)'\n",
		},
		{
			name: "multi-line string", key: "derive[0].expr", line: 13, col: 5, want: "unknown function sqrt",
			toml: "\n[[derive]]\nname = \"p\"\nexpr = \"\"\"\nbattery.voltage *\n    sqrt(battery.current)\"\"\"\n",
		},
		{
			name: "bool wanted", key: "output[0].on", line: 13, col: 7, want: "expected bool",
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"exec\"\ncommand = [\"/bin/true\"]\non = \"battery.voltage\"\n",
		},
		{
			name: "alarm of no rule", key: "output[0].on", line: 13, col: 1, want: `no [[rule]] is named "nope"`,
			toml: "\n[[output]]\nname = \"o\"\ndriver = \"exec\"\ncommand = [\"/bin/true\"]\non = \"alarm.nope == 1\"\n",
		},
		{
			name: "derive cycle", key: "derive", line: 9, col: 1, want: "reads itself",
			toml: "\n[[derive]]\nname = \"a\"\nexpr = \"b + 1\"\n[[derive]]\nname = \"b\"\nexpr = \"a + 1\"\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("c.toml", []byte(rulesBase+tc.toml))
			errs, ok := config.AsErrors(err)
			if !ok || len(errs) == 0 {
				t.Fatalf("err = %v, want config errors", err)
			}
			e := errs[0]
			if e.Key != tc.key || e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.want) {
				t.Fatalf("got %s (key %q line %d col %d), want key %q at %d:%d containing %q", e, e.Key, e.Line, e.Col, tc.key, tc.line, tc.col, tc.want)
			}
		})
	}
}

// A remote document may never add an exec output, even with "output" and
// "exec" in [remote] allow.
func TestRemoteExecOutputRefused(t *testing.T) {
	cur, err := ParseConfig("c.toml", []byte(rulesBase))
	if err != nil {
		t.Fatal(err)
	}
	next, err := ParseConfig("c.toml", []byte(rulesBase+"\n[[output]]\nname = \"pump\"\ndriver = \"exec\"\ncommand = [\"/bin/true\"]\non = \"battery.voltage > 1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	checkRemoteOutputs(cur, next, func(key, format string, args ...any) { msgs = append(msgs, key) })
	if len(msgs) != 1 || msgs[0] != "output[0].driver" {
		t.Fatalf("refusals %v, want output[0].driver", msgs)
	}
}

// The status document lists every rule's state and the active alarms.
func TestStatusListsActiveAlarms(t *testing.T) {
	cfg, err := ParseConfig("c.toml", []byte(fmt.Sprintf(`[device]
id = "x"
board = "sim"
data_dir = %q
[[sensor]]
name = "battery"
driver = "sim"
[[rule]]
name = "battery_low"
when = "battery.voltage < 11.8"
severity = "critical"
[[rule]]
name = "fridge_warm"
when = "battery.voltage > 100"
`, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.ring.Close()
	a.rules.Append([]reading.Reading{{Name: "battery.voltage", Time: time.Now(), Value: 11.2}})
	m := a.status()
	if got, _ := m["alarms_active"].([]string); len(got) != 1 || got[0] != "battery_low" {
		t.Errorf("alarms_active = %v, want [battery_low]", m["alarms_active"])
	}
	list, _ := m["alarms"].([]rules.AlarmStatus)
	if len(list) != 2 || list[0].State != "raised" || list[0].Severity != "critical" || list[1].State != "cleared" {
		t.Errorf("alarms = %+v", list)
	}
}
