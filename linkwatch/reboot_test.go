package linkwatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/karana-energy/karana-edge/modem/modemtest"
)

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
	addr := modemtest.StartBus(t)
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
	addr := modemtest.StartBus(t)
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
