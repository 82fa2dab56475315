package modem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
)

// D-Bus names of ModemManager's API (org.freedesktop.ModemManager1.xml and
// friends in ModemManager's introspection/ directory).
const (
	Service        = "org.freedesktop.ModemManager1"
	Path           = dbus.ObjectPath("/org/freedesktop/ModemManager1")
	IfaceModem     = "org.freedesktop.ModemManager1.Modem"
	IfaceModem3gpp = "org.freedesktop.ModemManager1.Modem.Modem3gpp"
	IfaceBearer    = "org.freedesktop.ModemManager1.Bearer"

	ifaceObjectManager = "org.freedesktop.DBus.ObjectManager"
	ifaceProperties    = "org.freedesktop.DBus.Properties"
)

// ErrNotFitted is returned (wrapped) when there is no modem to talk to: no
// system bus, ModemManager not running, or running without a modem. It is
// a state, not a fault: callers report it quietly.
var ErrNotFitted = errors.New("modem: not fitted")

// Status is one reading of the modem's health.
type Status struct {
	Path string // the modem's object path
	// SignalQuality is ModemManager's 0-100 %; SignalRecent says it was
	// taken recently (false: a cached value).
	SignalQuality uint32
	SignalRecent  bool
	AccessTech    AccessTech
	State         State
	// Operator and OperatorCode (MCC+MNC, "64004") come from the 3GPP
	// interface; a CDMA-only modem has neither.
	Operator     string
	OperatorCode string
	Registration Registration
	Has3gpp      bool
	// Bearer counters of the current connection, summed over connected
	// bearers; HasBytes is false when no bearer reported them.
	RxBytes, TxBytes uint64
	HasBytes         bool
}

// Options configure a Client. The zero value talks to the system bus.
type Options struct {
	// Address is the D-Bus address; "" is the system bus
	// ($DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket).
	Address string
	// Recheck is how long a "not fitted" answer stands before the bus is
	// asked again; 0 means 10 minutes.
	Recheck time.Duration
	// CallTimeout bounds each read; 0 means 5 s. Enable and Reset take
	// their own, longer bound (ActionTimeout).
	CallTimeout time.Duration
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	Log *slog.Logger // nil: discard
}

// ActionTimeout bounds Enable and Reset: a modem may take half a minute to
// power its radio down or come back.
const ActionTimeout = 90 * time.Second

// Client talks to ModemManager. Its methods are safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	conn        *dbus.Conn
	absentUntil time.Time // "not fitted" stands until then
	absentWhy   string    // what the last "not fitted" was about
	loggedWhy   string    // the "not fitted" reason last logged

	calls atomic.Uint64 // method calls sent, for tests and for `status`
}

// New returns a client; it connects on first use.
func New(opts Options) *Client {
	if opts.Recheck <= 0 {
		opts.Recheck = 10 * time.Minute
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{opts: opts, log: log}
}

// Close drops the bus connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Calls counts the D-Bus method calls the client has sent.
func (c *Client) Calls() uint64 { return c.calls.Load() }

// notFitted records why there is no modem, logs it once per distinct
// reason, and returns the error.
func (c *Client) notFitted(why string) error {
	c.absentUntil = c.opts.Now().Add(c.opts.Recheck)
	c.absentWhy = why
	if why != c.loggedWhy {
		c.loggedWhy = why
		c.log.Info("modem: not fitted; modem telemetry and restart-modem are off until it appears", "why", why, "recheck", c.opts.Recheck)
	}
	return fmt.Errorf("%w: %s", ErrNotFitted, why)
}

// ready returns a bus connection on which ModemManager runs, or
// ErrNotFitted. Called with c.mu held.
func (c *Client) ready(ctx context.Context) (*dbus.Conn, error) {
	if now := c.opts.Now(); now.Before(c.absentUntil) {
		return nil, fmt.Errorf("%w: %s", ErrNotFitted, c.absentWhy)
	}
	if c.conn != nil && !c.conn.Connected() {
		c.conn.Close()
		c.conn = nil
	}
	if c.conn == nil {
		if why := noSystemBus(c.opts.Address); why != "" {
			return nil, c.notFitted(why)
		}
		conn, err := c.dial(ctx)
		if err != nil {
			return nil, c.notFitted(fmt.Sprintf("no D-Bus system bus (%v)", err))
		}
		c.conn = conn
	}
	var owned bool
	err := c.call(ctx, c.conn.BusObject(), "org.freedesktop.DBus.NameHasOwner", Service).Store(&owned)
	if err != nil {
		// The bus itself failed: drop it, try afresh at the next recheck.
		c.conn.Close()
		c.conn = nil
		return nil, c.notFitted(fmt.Sprintf("D-Bus NameHasOwner(%s): %v", Service, err))
	}
	if !owned {
		return nil, c.notFitted(Service + " is not running")
	}
	if c.loggedWhy != "" {
		c.log.Info("modem: ModemManager found", "service", Service)
		c.loggedWhy = ""
	}
	return c.conn, nil
}

// systemBusSocket is where godbus finds the system bus when
// $DBUS_SYSTEM_BUS_ADDRESS is unset.
var systemBusSocket = "/var/run/dbus/system_bus_socket"

// noSystemBus says why there is no system bus to dial, or "". Many boxes
// have none (no ModemManager, no dbus): a stat gives that answer without
// running godbus's connection code at every recheck.
func noSystemBus(address string) string {
	if address != "" || os.Getenv("DBUS_SYSTEM_BUS_ADDRESS") != "" {
		return ""
	}
	if _, err := os.Stat(systemBusSocket); err != nil {
		return fmt.Sprintf("no D-Bus system bus (%v)", err)
	}
	return ""
}

// dial connects to the bus. The connection outlives ctx (godbus closes a
// connection when the context given to it ends, and one read's context
// ends with the read), so ctx bounds only the wait: a bus that does not
// answer the handshake is given up on, and the late connection closed.
func (c *Client) dial(ctx context.Context) (*dbus.Conn, error) {
	count := dbus.WithOutgoingInterceptor(func(m *dbus.Message) {
		if m.Type == dbus.TypeMethodCall {
			c.calls.Add(1)
		}
	})
	type dialed struct {
		conn *dbus.Conn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		var d dialed
		if c.opts.Address == "" {
			d.conn, d.err = dbus.ConnectSystemBus(count)
		} else {
			d.conn, d.err = dbus.Connect(c.opts.Address, count)
		}
		ch <- d
	}()
	select {
	case d := <-ch:
		return d.conn, d.err
	case <-ctx.Done():
		go func() {
			if d := <-ch; d.conn != nil {
				d.conn.Close()
			}
		}()
		return nil, fmt.Errorf("handshake: %w", ctx.Err())
	}
}

func (c *Client) call(ctx context.Context, obj dbus.BusObject, method string, args ...any) *dbus.Call {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	return obj.CallWithContext(ctx, method, dbus.FlagNoAutoStart, args...)
}

type managed = map[dbus.ObjectPath]map[string]map[string]dbus.Variant

// Status reads the first modem's health. With no modem it returns an error
// wrapping ErrNotFitted; any other error is a real fault (ModemManager
// answering nonsense, a call timing out) and names the call.
func (c *Client) Status(ctx context.Context) (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, err := c.ready(ctx)
	if err != nil {
		return Status{}, err
	}
	path, ifaces, err := c.firstModem(ctx, conn)
	if err != nil {
		return Status{}, err
	}
	st := Status{Path: string(path)}
	m := ifaces[IfaceModem]
	if v, ok := m["SignalQuality"]; ok {
		var sq struct {
			Quality uint32
			Recent  bool
		}
		if err := v.Store(&sq); err != nil {
			return Status{}, fmt.Errorf("modem %s: SignalQuality %s: %w", path, v.Signature(), err)
		}
		st.SignalQuality, st.SignalRecent = sq.Quality, sq.Recent
	}
	if err := storeProps(m, map[string]any{"AccessTechnologies": (*uint32)(&st.AccessTech), "State": (*int32)(&st.State)}); err != nil {
		return Status{}, fmt.Errorf("modem %s: %w", path, err)
	}
	if g, ok := ifaces[IfaceModem3gpp]; ok {
		st.Has3gpp = true
		if err := storeProps(g, map[string]any{"OperatorName": &st.Operator, "OperatorCode": &st.OperatorCode, "RegistrationState": (*uint32)(&st.Registration)}); err != nil {
			return Status{}, fmt.Errorf("modem %s: 3gpp: %w", path, err)
		}
	}
	var bearers []dbus.ObjectPath
	if v, ok := m["Bearers"]; ok {
		if err := v.Store(&bearers); err != nil {
			return Status{}, fmt.Errorf("modem %s: Bearers %s: %w", path, v.Signature(), err)
		}
	}
	for _, b := range bearers {
		if err := c.addBearer(ctx, conn, b, &st); err != nil {
			return Status{}, err
		}
	}
	return st, nil
}

// firstModem lists ModemManager's objects and returns the first one with
// the Modem interface. No modem is "not fitted" (ModemManager runs on many
// images whether or not a modem is plugged in); it is asked again at the
// next recheck.
func (c *Client) firstModem(ctx context.Context, conn *dbus.Conn) (dbus.ObjectPath, map[string]map[string]dbus.Variant, error) {
	var objs managed
	err := c.call(ctx, conn.Object(Service, Path), ifaceObjectManager+".GetManagedObjects").Store(&objs)
	if err != nil {
		return "", nil, fmt.Errorf("modem: %s GetManagedObjects on %s: %w", Service, Path, named(err))
	}
	var paths []dbus.ObjectPath
	for p, ifaces := range objs {
		if _, ok := ifaces[IfaceModem]; ok {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return "", nil, c.notFitted("ModemManager runs but has no modem")
	}
	slices.Sort(paths)
	return paths[0], objs[paths[0]], nil
}

// addBearer adds a connected bearer's byte counters to st.
func (c *Client) addBearer(ctx context.Context, conn *dbus.Conn, b dbus.ObjectPath, st *Status) error {
	obj := conn.Object(Service, b)
	var props map[string]dbus.Variant
	if err := c.call(ctx, obj, ifaceProperties+".GetAll", IfaceBearer).Store(&props); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.UnknownObject" {
			return nil // removed between the two calls
		}
		return fmt.Errorf("modem: bearer %s: GetAll: %w", b, named(err))
	}
	var connected bool
	var stats map[string]dbus.Variant
	if err := storeProps(props, map[string]any{"Connected": &connected, "Stats": &stats}); err != nil {
		return fmt.Errorf("modem: bearer %s: %w", b, err)
	}
	if !connected {
		return nil
	}
	for key, dst := range map[string]*uint64{"rx-bytes": &st.RxBytes, "tx-bytes": &st.TxBytes} {
		v, ok := stats[key]
		if !ok {
			continue
		}
		var n uint64
		if err := v.Store(&n); err != nil {
			return fmt.Errorf("modem: bearer %s: Stats %s is %s, want t: %w", b, key, v.Signature(), err)
		}
		*dst += n
		st.HasBytes = true
	}
	return nil
}

// storeProps stores the named properties that are present into dst's
// pointers; a property of the wrong type is an error naming it.
func storeProps(props map[string]dbus.Variant, dst map[string]any) error {
	for name, p := range dst {
		v, ok := props[name]
		if !ok {
			continue
		}
		if err := v.Store(p); err != nil {
			return fmt.Errorf("%s is %s: %w", name, v.Signature(), err)
		}
	}
	return nil
}

// OperatorNumber is OperatorCode as a number for a telemetry series
// (MCC+MNC "64004" → 64004), ok false when it is not all digits. Leading
// zeros cannot be lost: an MCC never starts with 0.
func (s Status) OperatorNumber() (float64, bool) {
	if s.OperatorCode == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s.OperatorCode, 10, 32)
	return float64(n), err == nil
}

// Restart powers the modem's radio down and up again: Enable(false), then
// Enable(true). ModemManager reconnects the bearer it manages (or
// NetworkManager does) once it is registered again.
func (c *Client) Restart(ctx context.Context) error {
	return c.act(ctx, func(obj dbus.BusObject) error {
		if err := c.action(ctx, obj, IfaceModem+".Enable", false); err != nil {
			return err
		}
		return c.action(ctx, obj, IfaceModem+".Enable", true)
	})
}

// Reset resets the modem (Modem.Reset): a firmware reboot, after which it
// comes back as a new object; harder than Restart.
func (c *Client) Reset(ctx context.Context) error {
	return c.act(ctx, func(obj dbus.BusObject) error {
		return c.action(ctx, obj, IfaceModem+".Reset")
	})
}

// act finds the modem and runs f on it. The lock is not held while f
// runs: disabling a modem takes seconds, and telemetry reads meanwhile
// must not wait for it (the connection is safe for concurrent calls).
func (c *Client) act(ctx context.Context, f func(dbus.BusObject) error) error {
	c.mu.Lock()
	// An action is asked for once in hours: look again whatever the last
	// "not fitted" said.
	c.absentUntil = time.Time{}
	conn, err := c.ready(ctx)
	var path dbus.ObjectPath
	if err == nil {
		path, _, err = c.firstModem(ctx, conn)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return f(conn.Object(Service, path))
}

func (c *Client) action(ctx context.Context, obj dbus.BusObject, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	if err := obj.CallWithContext(ctx, method, dbus.FlagNoAutoStart, args...).Err; err != nil {
		return fmt.Errorf("modem %s: %s%v: %w", obj.Path(), method, args, named(err))
	}
	return nil
}

// named puts a D-Bus error's name before its message: "Not authorized"
// alone does not say that polkit, not the modem, refused.
func named(err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		return fmt.Errorf("%s: %w", de.Name, err)
	}
	return err
}
