package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alarmValues returns the values of every alarm.battery_low reading in
// the buffer, through `buffer export` (which works while the daemon runs).
func alarmValues(t *testing.T, bin, cfgPath string) []string {
	t.Helper()
	out, err := exec.Command(bin, "buffer", "export", "-config", cfgPath, "-format", "csv").Output()
	if err != nil {
		return nil // not created yet: try again
	}
	var vals []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 4 && f[1] == "alarm.battery_low" {
			vals = append(vals, f[3])
		}
	}
	return vals
}

// TestCrashSIGKILLActiveAlarm: an alarm is raised and committed, the
// daemon is killed with SIGKILL and started again, several times, at
// moments around the raise. The condition holds throughout: a restart
// that forgot the alarm would raise it again after `for`, one that lost
// the state with the reading would raise it twice. Exactly one raise is
// in the buffer at the end.
func TestCrashSIGKILLActiveAlarm(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills the binary; skipped in -short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
[device]
id = "alarm-box"
data_dir = %q
board = "sim"
[buffer]
commit_interval = "100ms"
[mqtt]
broker = "tcp://127.0.0.1:1"
[[sensor]]
name = "battery"
driver = "sim"
interval = "100ms"
[[rule]]
name = "battery_low"
when = "battery.value > -2"
for = "1s"
severity = "critical"
`, dir)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "run", "-config", cfgPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	raises := func() int {
		n := 0
		for _, v := range alarmValues(t, bin, cfgPath) {
			if v == "1" {
				n++
			}
		}
		return n
	}

	// First run: kill it as soon as the raise is committed.
	cmd, stderr := run()
	deadline := time.Now().Add(20 * time.Second)
	for raises() == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no alarm raised in 20 s:\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// Restarts killed at various moments, each past `for` (1 s) at least
	// once: a forgotten alarm would be raised again.
	for _, d := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond, 2500 * time.Millisecond} {
		cmd, _ := run()
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	cmd, stderr = run()
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, stderr)
	}
	if !bytes.Contains(stderr.Bytes(), []byte("alarm restored active")) {
		t.Errorf("the last run did not restore the active alarm:\n%s", stderr)
	}
	if n := raises(); n != 1 {
		t.Fatalf("%d raises in the buffer (alarm readings %v), want exactly one across the SIGKILLs", n, alarmValues(t, bin, cfgPath))
	}
}
