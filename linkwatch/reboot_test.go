package linkwatch

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%SOCK%</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus runs Debian's dbus-daemon privately and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (apt-get install dbus); the D-Bus tests need a real bus")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(busConfig, "%SOCK%", filepath.Join(dir, "bus.sock"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+cfg, "--print-address", "--nofork")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("dbus-daemon did not print its address within 20 s")
	}
	return ""
}

type fakeLogind struct {
	mu    sync.Mutex
	calls []bool
	deny  bool
}

func (l *fakeLogind) Reboot(interactive bool) *dbus.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, interactive)
	if l.deny {
		return dbus.NewError("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", []any{"Interactive authentication required."})
	}
	return nil
}

func startLogind(t *testing.T, addr string, deny bool) *fakeLogind {
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &fakeLogind{deny: deny}
	if err := conn.Export(l, logindPath, "org.freedesktop.login1.Manager"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName(logindService, dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeSystemctl writes a script that records its arguments.
func fakeSystemctl(t *testing.T, exit int) (path, log string) {
	dir := t.TempDir()
	path, log = filepath.Join(dir, "systemctl"), filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" >> " + log + "\necho 'Failed to reboot system via logind: Access denied' >&2\nexit " + string(rune('0'+exit)) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func TestRebootThroughLogind(t *testing.T) {
	addr := startBus(t)
	l := startLogind(t, addr, false)
	sc, args := fakeSystemctl(t, 0)
	how, err := Rebooter{BusAddress: addr, Systemctl: sc}.Reboot(context.Background())
	if err != nil || how != "logind" {
		t.Fatalf("Reboot: %q %v", how, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) != 1 || l.calls[0] {
		t.Errorf("logind saw Reboot%v, want one Reboot(false)", l.calls)
	}
	if _, err := os.Stat(args); err == nil {
		t.Error("systemctl ran although logind accepted")
	}
}

// logind refusing falls back to systemctl reboot; both failing says both.
func TestRebootFallsBackToSystemctl(t *testing.T) {
	addr := startBus(t)
	startLogind(t, addr, true)
	sc, args := fakeSystemctl(t, 0)
	how, err := Rebooter{BusAddress: addr, Systemctl: sc}.Reboot(context.Background())
	if err != nil || how != "systemctl" {
		t.Fatalf("Reboot: %q %v", how, err)
	}
	if b, _ := os.ReadFile(args); strings.TrimSpace(string(b)) != "reboot" {
		t.Errorf("systemctl ran with %q, want reboot", b)
	}
	bad, _ := fakeSystemctl(t, 1)
	_, err = Rebooter{BusAddress: addr, Systemctl: bad}.Reboot(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InteractiveAuthorizationRequired") || !strings.Contains(err.Error(), "Access denied") {
		t.Errorf("want both refusals in the error, got %v", err)
	}
}
