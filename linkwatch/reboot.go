package linkwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// logind's reboot, from org.freedesktop.login1(5).
const (
	logindService = "org.freedesktop.login1"
	logindPath    = dbus.ObjectPath("/org/freedesktop/login1")
	logindReboot  = "org.freedesktop.login1.Manager.Reboot"
)

// Rebooter asks systemd for a clean reboot: every service is stopped in
// order (this daemon commits its buffer on SIGTERM) before the kernel
// reboots.
type Rebooter struct {
	// BusAddress is the system bus; "" is the default
	// ($DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket).
	BusAddress string
	// Systemctl is the fallback command; "" is "systemctl".
	Systemctl string
}

// Reboot calls logind's Manager.Reboot(interactive=false); when logind
// cannot be reached or refuses, it runs `systemctl reboot`, which tries
// the same and then systemd itself (it works as root, or where a polkit
// rule allows it). It returns how the reboot was asked for.
//
// Without root, logind checks the polkit action
// org.freedesktop.login1.reboot (and reboot-multiple-sessions when someone
// is logged in, e.g. a technician's ssh session): the daemon's user needs
// the rule in packaging/polkit/50-karana-edge.rules.
func (r Rebooter) Reboot(ctx context.Context) (string, error) {
	lerr := r.logind(ctx)
	if lerr == nil {
		return "logind", nil
	}
	cmd := r.Systemctl
	if cmd == "" {
		cmd = "systemctl"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	c := exec.CommandContext(ctx, cmd, "reboot")
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return "systemctl", fmt.Errorf("logind: %v; %s reboot: %w (%s)", lerr, cmd, err, strings.TrimSpace(out.String()))
	}
	return "systemctl", nil
}

func (r Rebooter) logind(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var conn *dbus.Conn
	var err error
	if r.BusAddress == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(r.BusAddress, dbus.WithContext(ctx))
	}
	if err != nil {
		return fmt.Errorf("system bus: %w", err)
	}
	defer conn.Close()
	call := conn.Object(logindService, logindPath).CallWithContext(ctx, logindReboot, 0, false)
	if call.Err != nil {
		var de dbus.Error
		if errors.As(call.Err, &de) {
			return fmt.Errorf("%s: %s: %w", logindReboot, de.Name, call.Err)
		}
		return fmt.Errorf("%s: %w", logindReboot, call.Err)
	}
	return nil
}
