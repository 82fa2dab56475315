package agent

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/uplink"
)

// TestConfigRemoteDecisions walks Config by reflection (remote.NewSchema):
// every section has a remote decision, and in a section that decides key
// by key ([mqtt], [remote]) so does every key, so a key added there
// without its tag fails here (and at init) rather than being settable by
// whoever can publish to the broker.
func TestConfigRemoteDecisions(t *testing.T) {
	s, err := remote.NewSchema(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(slices.Values(s.Sections)), config.AllowedKeys(&Config{}); !slices.Equal(got, want) {
		t.Errorf("sections %v, want Config's TOML keys %v", got, want)
	}
	decided := map[string]string{}
	for _, k := range s.Keys {
		decided[k.Path()] = k.Entry
	}
	// every key of the key-by-key sections has its own decision
	for sec, v := range map[string]any{"mqtt": &uplink.MQTTConfig{}, "remote": &RemoteConfig{}} {
		for _, key := range config.AllowedKeys(v) {
			if _, ok := decided[sec+"."+key]; !ok {
				t.Errorf("%s.%s has no remote decision", sec, key)
			}
		}
	}
	for path, want := range map[string]string{
		"mqtt.broker": remote.GuardBroker, "mqtt.client_id": remote.GuardBroker, "mqtt.topic_prefix": remote.GuardBroker,
		"mqtt.username": remote.GuardCredentials, "mqtt.password_file": remote.GuardCredentials,
		"mqtt.ca_file": remote.GuardTLS, "mqtt.cert_file": remote.GuardTLS, "mqtt.key_file": remote.GuardTLS,
		"mqtt.server_name": remote.GuardTLS,
		"mqtt.budget":      remote.PartBudget, "mqtt.rate_limit": remote.PartBudget, "mqtt.windows": remote.PartBudget,
		"mqtt.keepalive": "mqtt",
		"remote":         "remote", "remote.allow": "remote", "remote.version_reset": remote.LocalOnly,
		"sensor": "sensor", "stream": "stream",
	} {
		if got := decided[path]; got != want {
			t.Errorf("%s is decided by %q, want %q", path, got, want)
		}
	}
	for _, e := range remote.DefaultAllow {
		if err := s.CheckAllowEntry(e); err != nil {
			t.Errorf("default allow entry: %v", err)
		}
	}
	if err := s.CheckAllowEntry("everything"); err == nil || !strings.Contains(err.Error(), "budget ([mqtt] budget, rate_limit, windows)") {
		t.Errorf("unknown entry: %v", err)
	}
}

// TestConfigSectionsFromStruct: the loader knows the sections Config
// declares, and nothing else: [budget] is an unknown section.
func TestConfigSectionsFromStruct(t *testing.T) {
	_, err := ParseConfig("s.toml", []byte("[budget]\nday = \"1MiB\"\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"))
	if err == nil || !strings.Contains(err.Error(), "s.toml:1:1: budget: unknown section") {
		t.Errorf("[budget]: %v", err)
	}
	c, err := ParseConfig("s.toml", []byte("[telemetry]\ninterval = \"0s\"\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"))
	if err != nil || c.Telemetry.Interval.Duration != 0 {
		t.Fatalf("[telemetry]: %v", err)
	}
	var out strings.Builder
	if err := c.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	var order []string
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "[") {
			order = append(order, strings.TrimSpace(line))
		}
	}
	want := []string{"[device]", "[log]", "[buffer]", "[mqtt]", "[remote]", "[telemetry]", "[link]", "[http]", "[update]", "[[sensor]]", "[[stream]]"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("check prints the sections %v, want %v", order, want)
	}
}
