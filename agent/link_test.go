package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/linkwatch"
	"github.com/karana-energy/karana-edge/modem/modemtest"
	"github.com/karana-energy/karana-edge/sensors"
)

const linkBase = "[device]\nid = \"x\"\ndata_dir = \"/tmp/x\"\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"

// [link] mistakes come with the key's position, like every other section.
func TestLinkConfigErrorsHavePositions(t *testing.T) {
	_, err := ParseConfig("site.toml", []byte(linkBase+"[link]\nno_contact = \"5m\"\nsteps = [\"reconnect\", \"reboot\", \"reboot\"]\n"))
	errs, ok := config.AsErrors(err)
	if !ok {
		t.Fatalf("want config errors, got %v", err)
	}
	got := errs.Error()
	for _, want := range []string{
		"site.toml:8:1: link.no_contact: must be 0 (off) or at least 15m0s, got 5m0s",
		"site.toml:9:1: link.steps: step 3: \"reboot\" is already step 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	cfg, err := ParseConfig("site.toml", []byte(linkBase))
	if err != nil || cfg.Link.Enabled() {
		t.Errorf("without [link] the watchdog must be off: %v %+v", err, cfg.Link)
	}
}

// [link] is local only: no remote document sets it, whatever [remote]
// allows, so a signed document can never turn reboots on fleet-wide.
func TestLinkIsLocalOnly(t *testing.T) {
	decided := map[string]string{}
	for _, k := range configSchema.Keys {
		decided[k.Path()] = k.Entry
	}
	if decided["link"] != "local" {
		t.Fatalf("[link] is decided by %q, want local", decided["link"])
	}
	local := "[device]\nid = \"x\"\ndata_dir = \"" + t.TempDir() + "\"\n[remote]\nenabled = true\nallow = [\"sensor\", \"stream\", \"budget\"]\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"
	_, err := mergeLocal(t, local, "version = 1\n[link]\nno_contact = \"15m\"\nsteps = [\"reboot\"]\n")
	if err == nil || !strings.Contains(err.Error(), "link") {
		t.Fatalf("a remote [link] was accepted: %v", err)
	}
	if !strings.Contains(err.Error(), "section [link] may only be set in the local file: the link watchdog reboots") {
		t.Errorf("refusal: %v", err)
	}
	// and a local allow entry for it is a mistake, said at once
	if err := configSchema.CheckAllowEntry("link"); err == nil || !strings.Contains(err.Error(), "may only be set in the local file") {
		t.Errorf("allow = [\"link\"]: %v", err)
	}
}

func modemFields(a *Agent) map[string]sensors.Value {
	out := map[string]sensors.Value{}
	for _, v := range a.telemetry() {
		if strings.HasPrefix(v.Field, "modem.") {
			out[v.Field] = v
		}
	}
	return out
}

// With ModemManager on the system bus, the modem's health is karana.modem.*
// telemetry and a "modem" object in the status document; the values are
// what ModemManager exports (enum numbers from ModemManager-enums.h).
func TestModemTelemetryAndStatus(t *testing.T) {
	addr := modemtest.StartBus(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)
	a, err := New(pipelineConfig(t, t.TempDir(), "127.0.0.1:1", ""), Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.ring.Close()
	defer a.stopLink()
	if f := modemFields(a); len(f) != 0 {
		t.Fatalf("modem telemetry without ModemManager: %v", f)
	}
	if _, ok := a.status()["modem"]; ok {
		t.Fatal("a modem in the status document without ModemManager")
	}

	modemtest.Start(t, addr, map[string]any{
		"SignalQuality":      modemtest.Signal{Quality: 42, Recent: true},
		"AccessTechnologies": uint32(1 << 5), // UMTS
		"State":              int32(8),       // REGISTERED
	}, map[string]any{
		"OperatorName": "Vodacom", "OperatorCode": "65501", "RegistrationState": uint32(1), // HOME
	}, map[dbus.ObjectPath]map[string]any{
		"/org/freedesktop/ModemManager1/Bearer/3": {"Connected": true, "Stats": map[string]dbus.Variant{
			"rx-bytes": dbus.MakeVariant(uint64(5000)), "tx-bytes": dbus.MakeVariant(uint64(700)),
		}},
	})
	// a fresh client: the first one's "not fitted" stands for 10 minutes
	a.stopLink()
	a.link.modem = nil
	a.link.once = sync.Once{}

	f := modemFields(a)
	want := map[string]float64{
		"modem.signal_quality": 42, "modem.access_tech": 32, "modem.generation": 3, "modem.state": 8,
		"modem.registration": 1, "modem.operator_code": 65501, "modem.rx_bytes": 5000, "modem.tx_bytes": 700,
	}
	for k, v := range want {
		if f[k].Value != v {
			t.Errorf("%s = %v, want %v", k, f[k].Value, v)
		}
	}
	if len(f) != len(want) {
		t.Errorf("fields %v, want exactly %v", f, want)
	}
	if f["modem.signal_quality"].Unit != "%" || f["modem.rx_bytes"].Unit != "B" {
		t.Errorf("units: %+v", f)
	}
	b, _ := json.Marshal(a.status()["modem"])
	if got := string(b); got != `{"access_tech":"umts","operator":"Vodacom","operator_code":"65501","registration":"home","signal_quality":42,"state":"registered"}` {
		t.Errorf("status modem: %s", got)
	}
}

type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The whole loop on a running agent: the broker is down, the watchdog's
// reconnect step replaces the uplink, and when the broker is back the
// retained status document carries the step.
func TestWatchdogStepReportedOnNextContact(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broker.Stop()
	dir := t.TempDir()
	cfg := pipelineConfig(t, dir, broker.Addr(), "[link]\nno_contact = \"15m\"\nsteps = [\"reconnect\"]\n")
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &stepClock{t: time.Now()}
	w, err := linkwatch.New(linkwatch.Options{Config: cfg.Link, DataDir: dir, Contact: uplinkContact{a}, Actions: linkActions{a}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	a.link.watch = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	}()
	waitFor(t, "the agent to run", 10*time.Second, func() bool {
		a.applyMu.Lock()
		defer a.applyMu.Unlock()
		return a.running
	})
	_, _, before := a.parts()
	clk.Add(16 * time.Minute)
	st := a.linkCheck(context.Background())
	if st == nil || st.Step != linkwatch.StepReconnect || st.Result != "ok" {
		t.Fatalf("step: %+v", st)
	}
	if _, _, after := a.parts(); after == before {
		t.Error("reconnect kept the same uplink")
	}
	if err := broker.Restart(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		State string
		Link  *linkwatch.Report `json:"link_watchdog"`
	}
	waitFor(t, "the online status with the step", 20*time.Second, func() bool {
		b, ok := broker.Retained(cfg.Topic("status"))
		return ok && json.Unmarshal(b, &doc) == nil && doc.State == "online"
	})
	if doc.Link == nil || len(doc.Link.Steps) != 1 || doc.Link.Steps[0].Step != "reconnect" || doc.Link.Steps[0].Result != "ok" || doc.Link.Steps[0].Silence < 15*60 {
		t.Errorf("status link_watchdog: %+v", doc.Link)
	}
	if c := (uplinkContact{a}).LastContact(); time.Since(c) > time.Minute {
		t.Errorf("connected, yet last contact %v", c)
	}
}

// Outside every [mqtt] window the link is down by design: the watchdog
// is told so and does not count it as silence.
func TestLinkWantedFollowsWindows(t *testing.T) {
	closed := fmt.Sprintf("0 %d * * * 30m", (time.Now().UTC().Hour()+12)%24)
	for _, tc := range []struct {
		windows string
		want    bool
	}{
		{"", true},
		{`windows = ["* * * * * 2m"]`, true},
		{`windows = ["` + closed + `"]`, false},
	} {
		cfg := pipelineConfig(t, t.TempDir(), "127.0.0.1:1", "")
		if tc.windows != "" {
			var err error
			cfg, err = ParseConfig("w.toml", []byte(linkBase+"[mqtt]\nbroker = \"tcp://127.0.0.1:1\"\n"+tc.windows+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Device.DataDir = t.TempDir()
		}
		a, err := New(cfg, Info{Version: "test"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var c linkwatch.Contact = uplinkContact{a}
		lw, ok := c.(linkwatch.LinkWanter)
		if !ok || lw.LinkWanted() != tc.want {
			t.Errorf("windows %q: LinkWanted %v, want %v", tc.windows, ok && lw.LinkWanted(), tc.want)
		}
		a.ring.Close()
	}
}
