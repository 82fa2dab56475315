package modem

import (
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// fakeMM is a stand-in ModemManager on a real bus: it owns the service
// name and exports, as ModemManager does, an ObjectManager at
// /org/freedesktop/ModemManager1, a modem object with the Modem and
// Modem3gpp interfaces (properties and the Enable/Reset methods), and
// bearer objects with the Bearer interface's Connected and Stats.
type fakeMM struct {
	conn    *dbus.Conn
	modem   dbus.ObjectPath
	props   map[dbus.ObjectPath]*prop.Properties
	ifaces  map[dbus.ObjectPath][]string
	mu      sync.Mutex
	actions []string // "Enable(false)", "Reset()", in order
	failOn  string   // an action that answers with a D-Bus error
}

const fakeModemPath = dbus.ObjectPath("/org/freedesktop/ModemManager1/Modem/0")

type signal struct {
	Quality uint32
	Recent  bool
}

// startFakeMM connects to addr, exports the objects and takes the name.
// modemProps and gppProps are the Modem and Modem3gpp properties;
// bearers maps a bearer path to its Connected and Stats.
func startFakeMM(t *testing.T, addr string, modemProps, gppProps map[string]any, bearers map[dbus.ObjectPath]map[string]any) *fakeMM {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake ModemManager: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeMM{conn: conn, modem: fakeModemPath, props: map[dbus.ObjectPath]*prop.Properties{}, ifaces: map[dbus.ObjectPath][]string{}}
	bp := make([]dbus.ObjectPath, 0, len(bearers))
	for p := range bearers {
		bp = append(bp, p)
	}
	if _, ok := modemProps["Bearers"]; !ok {
		modemProps["Bearers"] = bp
	}
	f.export(t, f.modem, map[string]map[string]any{IfaceModem: modemProps, IfaceModem3gpp: gppProps})
	if err := conn.Export(modemMethods{f}, f.modem, IfaceModem); err != nil {
		t.Fatal(err)
	}
	for p, props := range bearers {
		f.export(t, p, map[string]map[string]any{IfaceBearer: props})
	}
	if err := conn.Export(objectManager{f}, Path, ifaceObjectManager); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(Service, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake ModemManager: RequestName %s: %v (reply %d)", Service, err, reply)
	}
	return f
}

func (f *fakeMM) export(t *testing.T, path dbus.ObjectPath, ifaces map[string]map[string]any) {
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

func (f *fakeMM) record(a string) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, a)
	if a == f.failOn {
		return dbus.NewError("org.freedesktop.ModemManager1.Error.Core.Unauthorized", []any{"Not authorized to control the device"})
	}
	return nil
}

func (f *fakeMM) FailOn(action string) {
	f.mu.Lock()
	f.failOn = action
	f.mu.Unlock()
}

func (f *fakeMM) Actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.actions...)
}

type modemMethods struct{ f *fakeMM }

func (m modemMethods) Enable(on bool) *dbus.Error {
	if on {
		return m.f.record("Enable(true)")
	}
	return m.f.record("Enable(false)")
}

func (m modemMethods) Reset() *dbus.Error { return m.f.record("Reset()") }

type objectManager struct{ f *fakeMM }

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
