package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The link watchdog's steps need the system bus and polkit, not privilege:
// the unit keeps AF_UNIX and the /run/dbus socket reachable, grants no
// capability (no CAP_SYS_BOOT) and no reboot system call, and the polkit
// rule grants the karana user exactly logind's reboot and ModemManager's
// device control.
func TestUnitAllowsTheLinkWatchdogAndNoMore(t *testing.T) {
	u := parseUnit(t, unitPath)
	if af := " " + u.get("Service", "RestrictAddressFamilies") + " "; !strings.Contains(af, " AF_UNIX ") {
		t.Errorf("RestrictAddressFamilies=%q: D-Bus needs AF_UNIX", af)
	}
	for _, k := range []string{"InaccessiblePaths", "TemporaryFileSystem", "PrivateIPC"} {
		for _, v := range u["Service"][k] {
			if strings.Contains(v, "/run") {
				t.Errorf("%s=%s hides the system bus socket", k, v)
			}
		}
	}
	if v := u.get("Service", "CapabilityBoundingSet"); v != "" {
		t.Errorf("CapabilityBoundingSet=%q: the watchdog reboots through logind, it needs no capability", v)
	}
	if v := u.get("Service", "AmbientCapabilities"); v != "" {
		t.Errorf("AmbientCapabilities=%q", v)
	}
	if f := u.get("Service", "SystemCallFilter"); strings.Contains(f, "@reboot") || strings.Contains(f, "reboot") {
		t.Errorf("SystemCallFilter=%q allows the reboot system call; logind reboots", f)
	}

	rules, err := os.ReadFile(filepath.Join("..", "..", "packaging", "polkit", "50-karana-edge.rules"))
	if err != nil {
		t.Fatal(err)
	}
	code := jsCode(string(rules))
	var granted []string
	for _, line := range strings.Split(code, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "case ") {
			granted = append(granted, strings.Trim(strings.TrimSuffix(strings.TrimPrefix(l, "case "), ":"), `"`))
		}
	}
	want := []string{"org.freedesktop.login1.reboot", "org.freedesktop.login1.reboot-multiple-sessions", "org.freedesktop.ModemManager1.Device.Control"}
	if strings.Join(granted, " ") != strings.Join(want, " ") {
		t.Errorf("the polkit rule grants %q, want exactly %q", granted, want)
	}
	if !strings.Contains(code, `subject.user !== "karana"`) || strings.Count(code, "polkit.Result.YES") != 1 {
		t.Errorf("the polkit rule must grant only the karana user, once:\n%s", code)
	}
}

// jsCode drops // comments.
func jsCode(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// The rule runs as polkit runs it (JavaScript, addRule with action and
// subject): node stands in for polkitd's interpreter, with polkit's
// Result values. It answers YES to the karana user for the three actions
// and nothing for anyone or anything else.
func TestPolkitRuleEvaluates(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the polkit rule's syntax is not checked")
	}
	rules, err := os.ReadFile(filepath.Join("..", "..", "packaging", "polkit", "50-karana-edge.rules"))
	if err != nil {
		t.Fatal(err)
	}
	harness := `
const rules = [];
const polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: null}, addRule: f => rules.push(f)};
` + string(rules) + `
const ask = (user, id) => rules.map(f => f({id: id}, {user: user})).find(r => r !== null) ?? "unhandled";
for (const [user, id] of [
  ["karana", "org.freedesktop.login1.reboot"],
  ["karana", "org.freedesktop.login1.reboot-multiple-sessions"],
  ["karana", "org.freedesktop.ModemManager1.Device.Control"],
  ["karana", "org.freedesktop.login1.reboot-ignore-inhibit"],
  ["karana", "org.freedesktop.login1.power-off"],
  ["karana", "org.freedesktop.ModemManager1.Messaging"],
  ["pi", "org.freedesktop.login1.reboot"],
]) console.log(user, id, ask(user, id));
`
	out, err := exec.Command(node, "-e", harness).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := `karana org.freedesktop.login1.reboot yes
karana org.freedesktop.login1.reboot-multiple-sessions yes
karana org.freedesktop.ModemManager1.Device.Control yes
karana org.freedesktop.login1.reboot-ignore-inhibit unhandled
karana org.freedesktop.login1.power-off unhandled
karana org.freedesktop.ModemManager1.Messaging unhandled
pi org.freedesktop.login1.reboot unhandled
`
	if string(out) != want {
		t.Errorf("polkit answers:\n%s\nwant:\n%s", out, want)
	}
}
