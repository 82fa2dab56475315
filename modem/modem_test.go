package modem_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	. "github.com/karana-energy/karana-edge/modem"
	"github.com/karana-energy/karana-edge/modem/modemtest"
)

// A 2G modem roaming on EDGE, as ModemManager exports it. The numbers are
// ModemManager-enums.h's: MMModemState CONNECTED = 11;
// MMModemAccessTechnology GPRS = 1<<3, EDGE = 1<<4;
// MMModem3gppRegistrationState ROAMING = 5.
func edgeModem() (map[string]any, map[string]any, map[dbus.ObjectPath]map[string]any) {
	modem := map[string]any{
		"SignalQuality":      modemtest.Signal{Quality: 67, Recent: true},
		"AccessTechnologies": uint32(1<<3 | 1<<4),
		"State":              int32(11),
	}
	gpp := map[string]any{
		"OperatorName":      "Airtel TZ",
		"OperatorCode":      "64005",
		"RegistrationState": uint32(5),
	}
	bearers := map[dbus.ObjectPath]map[string]any{
		"/org/freedesktop/ModemManager1/Bearer/0": {
			"Connected": true,
			"Stats": map[string]dbus.Variant{
				"rx-bytes": dbus.MakeVariant(uint64(123456)),
				"tx-bytes": dbus.MakeVariant(uint64(7890)),
				"duration": dbus.MakeVariant(uint32(3600)),
			},
		},
		// a bearer not connected: its counters are of an old connection
		"/org/freedesktop/ModemManager1/Bearer/1": {
			"Connected": false,
			"Stats": map[string]dbus.Variant{
				"rx-bytes": dbus.MakeVariant(uint64(999)),
				"tx-bytes": dbus.MakeVariant(uint64(999)),
			},
		},
	}
	return modem, gpp, bearers
}

func TestStatusFromModemManagerOnARealBus(t *testing.T) {
	addr := modemtest.StartBus(t)
	startEdge(t, addr)
	c := New(Options{Address: addr})
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := Status{
		Path:          string(modemtest.ModemPath),
		SignalQuality: 67, SignalRecent: true,
		AccessTech: TechGPRS | TechEDGE, State: StateConnected,
		Operator: "Airtel TZ", OperatorCode: "64005", Registration: RegRoaming, Has3gpp: true,
		RxBytes: 123456, TxBytes: 7890, HasBytes: true,
	}
	if st != want {
		t.Errorf("Status:\n got %+v\nwant %+v", st, want)
	}
	if got := st.AccessTech.String(); got != "gprs,edge" {
		t.Errorf("access tech name %q, want gprs,edge", got)
	}
	if g := st.AccessTech.Generation(); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
	if st.State.String() != "connected" || st.Registration.String() != "roaming" {
		t.Errorf("names: state %q, registration %q", st.State, st.Registration)
	}
	if n, ok := st.OperatorNumber(); !ok || n != 64005 {
		t.Errorf("operator number %v %v, want 64005", n, ok)
	}
}

func startEdge(t *testing.T, addr string) *modemtest.MM {
	m, g, b := edgeModem()
	return modemtest.Start(t, addr, m, g, b)
}

// A modem without the 3GPP interface and with no bearer (disabled, CDMA or
// not yet probed) reports what it has and no byte counters, not zeros.
func TestStatusWithout3gppOrBearers(t *testing.T) {
	addr := modemtest.StartBus(t)
	modemtest.Start(t, addr, map[string]any{
		"SignalQuality":      modemtest.Signal{Quality: 0, Recent: false},
		"AccessTechnologies": uint32(0),
		"State":              int32(3), // DISABLED
		"Bearers":            []dbus.ObjectPath{},
	}, nil, nil)
	c := New(Options{Address: addr})
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Has3gpp || st.HasBytes || st.State != StateDisabled || st.AccessTech.String() != "unknown" {
		t.Errorf("got %+v", st)
	}
	if _, ok := st.OperatorNumber(); ok {
		t.Error("no operator code, yet a number")
	}
}

// A property of the wrong type is an error that names it; nothing panics.
func TestStatusWrongPropertyTypeNamesIt(t *testing.T) {
	addr := modemtest.StartBus(t)
	m, g, b := edgeModem()
	m["State"] = "connected"
	modemtest.Start(t, addr, m, g, b)
	c := New(Options{Address: addr})
	defer c.Close()
	_, err := c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "State") || errors.Is(err, ErrNotFitted) {
		t.Fatalf("want an error naming State, got %v", err)
	}
}

func TestRestartIsDisableThenEnableAndResetIsReset(t *testing.T) {
	addr := modemtest.StartBus(t)
	f := startEdge(t, addr)
	c := New(Options{Address: addr})
	defer c.Close()
	if err := c.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := c.Reset(context.Background()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	want := []string{"Enable(false)", "Enable(true)", "Reset()"}
	if got := f.Actions(); !slices.Equal(got, want) {
		t.Errorf("ModemManager saw %v, want %v", got, want)
	}
}

// ModemManager refusing (polkit says no) is an error with its D-Bus name,
// and Enable(true) is not sent after a failed Enable(false).
func TestRestartRefusedSaysWhy(t *testing.T) {
	addr := modemtest.StartBus(t)
	f := startEdge(t, addr)
	f.FailOn("Enable(false)")
	c := New(Options{Address: addr})
	defer c.Close()
	err := c.Restart(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Unauthorized") || !strings.Contains(err.Error(), "Enable") {
		t.Fatalf("want the refusal named, got %v", err)
	}
	if got := f.Actions(); !slices.Equal(got, []string{"Enable(false)"}) {
		t.Errorf("ModemManager saw %v", got)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A bus without ModemManager: "not fitted", logged once, and a day of
// telemetry (a read a minute) asks the bus once per Recheck, not 1440
// times. Then ModemManager starts: the next recheck finds it.
func TestAbsentModemManagerIsQuietAndCheap(t *testing.T) {
	addr := modemtest.StartBus(t)
	clk := &fakeClock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	c := New(Options{Address: addr, Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	defer c.Close()
	for range 24 * 60 {
		_, err := c.Status(context.Background())
		if !errors.Is(err, ErrNotFitted) {
			t.Fatalf("want not fitted, got %v", err)
		}
		clk.Add(time.Minute)
	}
	// Hello, then one NameHasOwner per 10 minutes: 1 + 144.
	if n := c.Calls(); n > 1+24*6 {
		t.Errorf("%d D-Bus calls in a day without ModemManager; want at most %d", n, 1+24*6)
	}
	if c.Calls() < 24*6 {
		t.Errorf("only %d calls: the bus is not asked again every 10 minutes", c.Calls())
	}
	if n := strings.Count(logs.String(), "not fitted"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}

	startEdge(t, addr)
	clk.Add(10 * time.Minute)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("ModemManager started: %v", err)
	}
	if !strings.Contains(logs.String(), "ModemManager found") {
		t.Errorf("finding it is not logged:\n%s", logs.String())
	}
}

// No system bus at all (a minimal image): not fitted, logged once, no
// dial a minute.
func TestNoBusIsNotFitted(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	c := New(Options{Address: "unix:path=" + t.TempDir() + "/none", Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	dials := 0
	for range 120 {
		before := c.AbsentUntil()
		_, err := c.Status(context.Background())
		if !errors.Is(err, ErrNotFitted) || !strings.Contains(err.Error(), "no D-Bus system bus") {
			t.Fatalf("want not fitted (no bus), got %v", err)
		}
		if !c.AbsentUntil().Equal(before) {
			dials++
		}
		clk.Add(time.Minute)
	}
	if dials != 12 {
		t.Errorf("%d dial attempts in 2 hours, want 12 (one per 10 minutes)", dials)
	}
	if n := strings.Count(logs.String(), "not fitted"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if err := c.Restart(context.Background()); !errors.Is(err, ErrNotFitted) {
		t.Errorf("Restart with no bus: %v", err)
	}
}

// ModemManager running with no modem plugged in is not fitted either.
func TestNoModemIsNotFitted(t *testing.T) {
	addr := modemtest.StartBus(t)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	empty := emptyOM{}
	if err := conn.Export(empty, Path, "org.freedesktop.DBus.ObjectManager"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName(Service, dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Address: addr})
	defer c.Close()
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrNotFitted) || !strings.Contains(err.Error(), "no modem") {
		t.Fatalf("want not fitted (no modem), got %v", err)
	}
}

type emptyOM struct{}

func (emptyOM) GetManagedObjects() (map[dbus.ObjectPath]map[string]map[string]dbus.Variant, *dbus.Error) {
	return map[dbus.ObjectPath]map[string]map[string]dbus.Variant{}, nil
}

// Names and generations, from ModemManager-enums.h's values.
func TestNames(t *testing.T) {
	for _, c := range []struct {
		bits uint32
		name string
		gen  int
	}{
		{0, "unknown", 0},
		{1 << 1, "gsm", 2},
		{1 << 5, "umts", 3},
		{1<<6 | 1<<7, "hsdpa,hsupa", 3},
		{1 << 14, "lte", 4},
		{1 << 17, "lte-nb-iot", 4},
		{1<<14 | 1<<15, "lte,5gnr", 5},
	} {
		at := AccessTech(c.bits)
		if at.String() != c.name || at.Generation() != c.gen {
			t.Errorf("%#x: %q gen %d, want %q gen %d", c.bits, at, at.Generation(), c.name, c.gen)
		}
	}
	if State(-1).String() != "failed" || State(8).String() != "registered" || State(42).String() != "unknown" {
		t.Error("state names")
	}
	if Registration(1).String() != "home" || Registration(3).String() != "denied" || Registration(11).String() != "attached-rlos" {
		t.Error("registration names")
	}
}

// Telemetry reads with a context each, as the agent does: the connection
// outlives them (one Hello), and a sample costs NameHasOwner,
// GetManagedObjects and one GetAll per bearer.
func TestConnectionOutlivesReadContexts(t *testing.T) {
	addr := modemtest.StartBus(t)
	startEdge(t, addr)
	c := New(Options{Address: addr})
	defer c.Close()
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.Status(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if n, want := c.Calls(), uint64(1+10*(1+1+2)); n != want {
		t.Errorf("%d D-Bus calls for 10 samples, want %d (one Hello, then 4 a sample)", n, want)
	}
}

// With no system bus socket (a box without dbus) the client says "not
// fitted" from a stat, naming the socket, without asking godbus to dial.
func TestNoSystemBusSocketIsNotFittedWithoutDialing(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "")
	old := *SystemBusSocket
	*SystemBusSocket = filepath.Join(t.TempDir(), "system_bus_socket")
	defer func() { *SystemBusSocket = old }()
	c := New(Options{})
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrNotFitted) || !strings.Contains(err.Error(), *SystemBusSocket) {
		t.Fatalf("no socket: %v; want not fitted naming %s (a stat, not a dial)", err, *SystemBusSocket)
	}
}
