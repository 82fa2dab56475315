package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
)

// TestRemoteBudgetOnly: "budget" in [remote] allow (the default) lets a
// document set [mqtt] budget, rate_limit and windows, and nothing else of
// [mqtt]: the rest of the section stays the local file's, the uplink's
// meter takes the new budget, config/state shows it; a document that also
// sets the broker is refused naming mqtt.broker.
func TestRemoteBudgetOnly(t *testing.T) {
	r := newRemoteRig(t, "") // default allow: sensor, stream, budget
	_, _, up := r.a.parts()
	if left := up.Budget().LeftToday; left != -1 {
		t.Fatalf("budget left before the set: %d, want -1 (none)", left)
	}
	broker := r.a.Config().MQTT.Broker

	res := r.set("version = 1\n[mqtt]\nbudget = \"1MiB/day\"\n")
	if res.Status != StatusApplied {
		t.Fatalf("budget document: %+v, want applied", res)
	}
	m := r.a.Config().MQTT
	if m.Budget.Day != 1<<20 || m.Broker != broker || m.ReconnectMin.Duration != 100*time.Millisecond {
		t.Errorf("[mqtt] after the budget document: budget %s, broker %q, reconnect_min %s; want 1MiB/day, %q, 100ms (the local file's)",
			m.Budget, m.Broker, m.ReconnectMin.Duration, broker)
	}
	_, _, up = r.a.parts()
	if left := up.Budget().LeftToday; left < 0 || left > 1<<20 {
		t.Errorf("the uplink's meter: %d bytes left today, want 0..%d", left, 1<<20)
	}
	r.waitFor("state version 1", func() bool { return r.state().Version == 1 })
	if st := r.state(); !strings.Contains(st.Config, `budget = "1MiB/day"`) || !strings.Contains(st.Config, "broker = "+config.Quote(broker)) {
		t.Errorf("config/state does not show the budget over the local broker:\n%s", st.Config)
	}
	// The data still flows over the reconnected uplink.
	before := r.seen("a.value")
	r.waitFor("data after the budget document", func() bool { return r.seen("a.value") > before })

	res = r.set("version = 2\n[mqtt]\nbudget = \"2MiB/day\"\nbroker = \"tcp://10.0.0.1:1883\"\n")
	if res.Status != StatusRejected || !hasErr(res, "mqtt.broker", 4) {
		t.Errorf("budget with a broker: %+v, want rejected at mqtt.broker line 4", res)
	}
	if got := r.a.Config().MQTT; got.Budget.Day != 1<<20 || got.Broker != broker {
		t.Errorf("a refused document changed [mqtt]: budget %s, broker %q", got.Budget, got.Broker)
	}
}

// mergeLocal validates doc over the local file text as a config/set would
// be, against the config the local file alone gives.
func mergeLocal(t *testing.T, local, doc string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	must(t, os.WriteFile(path, []byte(local), 0o600))
	cur, err := ParseConfig(path, []byte(local))
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mergeConfig(path, []byte(local), cur, d)
}

// TestRemoteServerNameIsTLS: server_name decides which certificate the
// box trusts, so it is guarded by mqtt.tls like the TLS files.
func TestRemoteServerNameIsTLS(t *testing.T) {
	local := func(allow string) string {
		return `[device]
id = "x"
data_dir = "` + t.TempDir() + `"
[mqtt]
broker = "tls://broker.example.com:8883"
[remote]
enabled = true
allow = [` + allow + `]
[[sensor]]
name = "a"
driver = "sim"
`
	}
	doc := "version = 1\n[mqtt]\nbroker = \"tls://broker.example.com:8883\"\nserver_name = \"mitm.example.com\"\n"
	_, err := mergeLocal(t, local(`"sensor", "mqtt"`), doc)
	errs, _ := config.AsErrors(err)
	guarded := false
	for _, e := range errs {
		guarded = guarded || strings.Contains(e.Msg, `"mqtt.tls"`)
	}
	if !guarded {
		t.Errorf("server_name changed without mqtt.tls allowed: %v, want an error naming \"mqtt.tls\"", err)
	}
	next, err := mergeLocal(t, local(`"sensor", "mqtt", "mqtt.tls"`), doc)
	if err != nil || next.MQTT.ServerName != "mitm.example.com" {
		t.Errorf("with mqtt.tls allowed: %v", err)
	}
}
