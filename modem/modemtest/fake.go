package modemtest

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/karana-energy/karana-edge/modem"
)

// MM is a stand-in ModemManager on a real bus: it owns the service
// name and exports, as ModemManager does, an ObjectManager at
// /org/freedesktop/ModemManager1, a modem object with the Modem and
// Modem3gpp interfaces (properties and the Enable/Reset methods), and
// bearer objects with the Bearer interface's Connected and Stats.
type MM struct {
	conn    *dbus.Conn
	modem   dbus.ObjectPath
	props   map[dbus.ObjectPath]*prop.Properties
	ifaces  map[dbus.ObjectPath][]string
	mu      sync.Mutex
	actions []string // "Enable(false)", "Reset()", in order
	failOn  string   // an action that answers with a D-Bus error
}

// ModemPath is the stand-in modem's object path.
const ModemPath = dbus.ObjectPath("/org/freedesktop/ModemManager1/Modem/0")

// Signal is the SignalQuality property, (ub).
type Signal struct {
	Quality uint32
	Recent  bool
}

// Start connects to addr, exports the objects and takes the name.
// modemProps and gppProps are the Modem and Modem3gpp properties;
// bearers maps a bearer path to its Connected and Stats.
func Start(t testing.TB, addr string, modemProps, gppProps map[string]any, bearers map[dbus.ObjectPath]map[string]any) *MM {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake ModemManager: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &MM{conn: conn, modem: ModemPath, props: map[dbus.ObjectPath]*prop.Properties{}, ifaces: map[dbus.ObjectPath][]string{}}
	bp := make([]dbus.ObjectPath, 0, len(bearers))
	for p := range bearers {
		bp = append(bp, p)
	}
	if _, ok := modemProps["Bearers"]; !ok {
		modemProps["Bearers"] = bp
	}
	f.export(t, f.modem, map[string]map[string]any{modem.IfaceModem: modemProps, modem.IfaceModem3gpp: gppProps})
	if err := conn.Export(modemMethods{f}, f.modem, modem.IfaceModem); err != nil {
		t.Fatal(err)
	}
	for p, props := range bearers {
		f.export(t, p, map[string]map[string]any{modem.IfaceBearer: props})
	}
	if err := conn.Export(objectManager{f}, modem.Path, "org.freedesktop.DBus.ObjectManager"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(modem.Service, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake ModemManager: RequestName %s: %v (reply %d)", modem.Service, err, reply)
	}
	return f
}

func (f *MM) export(t testing.TB, path dbus.ObjectPath, ifaces map[string]map[string]any) {
	m := prop.Map{}
	for iface, props := range ifaces {
		if props == nil {
			continue
		}
		m[iface] = map[string]*prop.Prop{}
		for k, v := range props {
			m[iface][k] = &prop.Prop{Value: v, Emit: prop.EmitTrue}
		}
		f.ifaces[path] = append(f.ifaces[path], iface)
	}
	p, err := prop.Export(f.conn, path, m)
	if err != nil {
		t.Fatalf("fake ModemManager: exporting %s: %v", path, err)
	}
	f.props[path] = p
}

func (f *MM) record(a string) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	if a == f.failOn {
		return dbus.NewError("org.freedesktop.ModemManager1.Error.Core.Unauthorized", []any{"Not authorized to control the device"})
	}
	return nil
}

func (f *MM) FailOn(action string) {
	f.mu.Lock()
	f.failOn = action
	f.mu.Unlock()
}

func (f *MM) Actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.actions...)
}

type modemMethods struct{ f *MM }

func (m modemMethods) Enable(on bool) *dbus.Error {
	if on {
		return m.f.record("Enable(true)")
	}
	return m.f.record("Enable(false)")
}

func (m modemMethods) Reset() *dbus.Error { return m.f.record("Reset()") }

type objectManager struct{ f *MM }

// GetManagedObjects answers a{oa{sa{sv}}} like ModemManager: the modem
// objects with every interface's properties (bearers are not managed
// objects there either).
func (o objectManager) GetManagedObjects() (map[dbus.ObjectPath]map[string]map[string]dbus.Variant, *dbus.Error) {
	out := map[dbus.ObjectPath]map[string]map[string]dbus.Variant{}
	p := o.f.modem
	out[p] = map[string]map[string]dbus.Variant{}
	for _, iface := range o.f.ifaces[p] {
		all, err := o.f.props[p].GetAll(iface)
		if err != nil {
			return nil, err
		}
		out[p][iface] = all
	}
	return out, nil
}
