package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitPath = "../../systemd/karana-edge.service"

// unit is a parsed unit file: section → key → values in order (a key may
// repeat, like DeviceAllow).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: malformed line %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// systemdAnalyze finds systemd-analyze, or skips saying how to get it.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd; .ci/run does): the unit is not verified")
	}
	return p
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose
// ExecStart names an executable that exists here (a container has no
// /usr/bin/karana-edge). It returns verify's output: systemd-analyze exits
// 0 even for unknown keys and invalid values, warning on stderr, so any
// output at all is a finding.
func verifyUnit(t *testing.T, analyze string, text string) (string, error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text = strings.Replace(text, "ExecStart=/usr/bin/karana-edge ", "ExecStart="+self+" ", 1)
	path := filepath.Join(t.TempDir(), "karana-edge.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", path)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestUnitVerifies(t *testing.T) {
	analyze := systemdAnalyze(t)
	text, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "ExecStart=/usr/bin/karana-edge run ") {
		t.Fatal("ExecStart no longer runs /usr/bin/karana-edge run: update the unit, install.sh and build-deb.sh together")
	}
	out, err := verifyUnit(t, analyze, string(text))
	if err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: err %v\n%s", err, out)
	}
	// The check can fail: a typo and a bad device right are reported.
	broken := strings.Replace(string(text), "DeviceAllow=char-i2c rw", "DeviceAllow=char-i2c rwz\nWatchdogSecs=60s", 1)
	if out, _ := verifyUnit(t, analyze, broken); !strings.Contains(out, "rwz") || !strings.Contains(out, "WatchdogSecs") {
		t.Errorf("verify did not report a broken unit; output %q", out)
	}

	// For the review notes: systemd's own exposure estimate.
	cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", unitPath)
	if out, err := cmd.CombinedOutput(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Log(lines[len(lines)-1])
	}
}

// The unit keeps what the daemon and HARDWARE.md need.
func TestUnitContract(t *testing.T) {
	u := parseUnit(t, unitPath)
	want := map[string]string{
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"Restart":                 "always",
		"User":                    "karana",
		"Group":                   "karana",
		"StateDirectory":          "karana-edge",
		"ConfigurationDirectory":  "karana-edge",
		"ProtectSystem":           "strict",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"DevicePolicy":            "closed",
		"SystemCallErrorNumber":   "EPERM",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		if got := u.get("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	if got := strings.Fields(u.get("Service", "SupplementaryGroups")); strings.Join(got, " ") != "i2c spi gpio dialout" {
		t.Errorf("SupplementaryGroups=%q, want i2c spi gpio dialout", got)
	}
	// The buses, and the serial ports of VE.Direct and Modbus RTU.
	allow := strings.Join(u["Service"]["DeviceAllow"], ",")
	for _, d := range []string{"char-i2c rw", "char-spi rw", "char-gpiochip rw", "char-ttyUSB rw", "char-ttyACM rw", "char-ttyAMA rw", "char-ttyS rw"} {
		if !strings.Contains(allow, d) {
			t.Errorf("DeviceAllow lacks %q (have %s)", d, allow)
		}
	}
	if af := " " + u.get("Service", "RestrictAddressFamilies") + " "; !strings.Contains(af, " AF_NETLINK ") || !strings.Contains(af, " AF_INET ") || !strings.Contains(af, " AF_UNIX ") {
		t.Errorf("RestrictAddressFamilies=%q lacks AF_NETLINK, AF_INET or AF_UNIX", af)
	}
	if f := strings.Fields(u.get("Service", "SystemCallFilter")); len(f) < 2 || f[0] != "@system-service" || !contains(f, "adjtimex") {
		t.Errorf("SystemCallFilter=%q: want @system-service plus adjtimex", f)
	}
	// Each of these would take the buses, the clock check or the board
	// detection away (HARDWARE.md, systemd section).
	for _, k := range []string{"PrivateDevices", "ProtectClock", "ProcSubset", "PrivateUsers", "DynamicUser"} {
		if v := u.get("Service", k); v != "" && v != "no" && v != "all" {
			t.Errorf("[Service] %s=%s breaks the buses or the clock check", k, v)
		}
	}
	// Never wait for time sync: an offline site never gets it.
	for _, k := range []string{"After", "Wants", "Requires"} {
		if strings.Contains(strings.Join(u["Unit"][k], " "), "time-sync") {
			t.Errorf("[Unit] %s waits for time-sync.target", k)
		}
	}

	wd := duration(t, u.get("Service", "WatchdogSec"))
	if wd < 10*time.Second || wd > 10*time.Minute {
		t.Errorf("WatchdogSec=%s: want 10s..10m", wd)
	}
	// Automatic restarts, RestartSec apart, never reach the start limit: an
	// unattended box must keep retrying. The limit must exist, though.
	rs := duration(t, u.get("Service", "RestartSec"))
	interval := duration(t, u.get("Unit", "StartLimitIntervalSec"))
	burst := u.get("Unit", "StartLimitBurst")
	if rs <= 0 || interval <= 0 || burst == "" {
		t.Fatalf("RestartSec=%s StartLimitIntervalSec=%s StartLimitBurst=%q: want all set", rs, interval, burst)
	}
	var n int
	for _, c := range burst {
		n = n*10 + int(c-'0')
	}
	if maxStarts := int(interval/rs) + 1; maxStarts >= n {
		t.Errorf("restarts %s apart make %d starts per %s, reaching StartLimitBurst=%d: a crash loop would stop the daemon for good", rs, maxStarts, interval, n)
	}
	if stop := duration(t, u.get("Service", "TimeoutStopSec")); stop < 5*time.Second {
		t.Errorf("TimeoutStopSec=%s is shorter than the daemon's 5 s shutdown", stop)
	}
	if u.get("Install", "WantedBy") != "multi-user.target" {
		t.Errorf("WantedBy=%q", u.get("Install", "WantedBy"))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// duration parses a systemd time span as the unit writes them ("15s",
// "2min", "60").
func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if strings.HasSuffix(s, "min") {
		s = strings.TrimSuffix(s, "min") + "m"
	} else if strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		s += "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("time span %q: %v", s, err)
	}
	return d
}
