package remote

import (
	"strings"
	"testing"
	"time"
)

// The shapes of the agent's config, small: sections decided whole, one
// decided key by key, an array of tables, a local-only key.
type testMQTT struct {
	Broker     string        `toml:"broker" remote:"mqtt.broker"`
	ServerName string        `toml:"server_name" remote:"mqtt.tls"`
	Keepalive  time.Duration `toml:"keepalive" remote:"mqtt"`
	Budget     string        `toml:"budget" remote:"budget"`
	RateLimit  int           `toml:"rate_limit" remote:"budget"`
}

type testRemote struct {
	Enabled bool   `toml:"enabled" remote:"remote"`
	Reset   *int64 `toml:"version_reset" remote:"local,it takes the box back"`
}

type testLog struct {
	Level string `toml:"level"`
}

type testSensor struct {
	Name string `toml:"name"`
}

type testConfig struct {
	Log    testLog      `toml:"log" remote:"log"`
	MQTT   testMQTT     `toml:"mqtt" remote:"mqtt"`
	Sensor []testSensor `toml:"sensor" remote:"sensor"`
	Remote testRemote   `toml:"remote" remote:"remote"`
	File   string       `toml:"-"`
}

func testSchema(t *testing.T) *Schema {
	t.Helper()
	s, err := NewSchema(testConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaRefusesUndecidedKeys: a key added beside keys that carry a
// decision, without one, is an error naming it; so is a section without
// its tag and a tag naming no entry.
func TestSchemaRefusesUndecidedKeys(t *testing.T) {
	type mqttNewKey struct {
		Broker string `toml:"broker" remote:"mqtt.broker"`
		SNI    string `toml:"sni"`
	}
	type badEntry struct {
		Broker string `toml:"broker" remote:"mqtt.everything"`
	}
	for _, tc := range []struct {
		root any
		want string
	}{
		{struct {
			M mqttNewKey `toml:"mqtt" remote:"mqtt"`
		}{}, "mqtt.sni: no remote decision"},
		{struct {
			M testMQTT `toml:"mqtt"`
		}{}, "section mqtt"},
		{struct {
			M badEntry `toml:"mqtt" remote:"mqtt"`
		}{}, `mqtt.broker: remote:"mqtt.everything" is no section`},
		{struct {
			S []badEntry `toml:"sensor" remote:"sensor"`
		}{}, "decided by its section"},
	} {
		_, err := NewSchema(tc.root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T: %v, want an error containing %q", tc.root, err, tc.want)
		}
	}
	s := testSchema(t)
	if got := strings.Join(s.Sections, " "); got != "log mqtt sensor remote" {
		t.Errorf("sections %q", got)
	}
	if !s.IsList("sensor") || s.IsList("mqtt") {
		t.Error("IsList")
	}
	if err := s.CheckAllowEntry("budget"); err != nil {
		t.Error(err)
	}
	err := s.CheckAllowEntry("everything")
	if err == nil || !strings.Contains(err.Error(), "log, mqtt, remote, sensor") || !strings.Contains(err.Error(), "budget ([mqtt] budget, rate_limit)") {
		t.Errorf("unknown entry: %v", err)
	}
}

func refusalKeys(rs []Refusal) string {
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Key)
	}
	return strings.Join(keys, " ")
}

// TestSchemaCheck: sections by the keys a document sets, guards and
// local-only keys by effective values, parts without their section.
func TestSchemaCheck(t *testing.T) {
	s := testSchema(t)
	cur := &testConfig{MQTT: testMQTT{Broker: "tcp://a:1883", Keepalive: time.Minute}}
	doc := func(sections ...string) *Doc {
		d := &Doc{Keys: map[string][]string{}}
		for _, sec := range sections {
			name, keys, _ := strings.Cut(sec, ":")
			d.Sections = append(d.Sections, name)
			if keys != "" {
				d.Keys[name] = strings.Split(keys, ",")
			}
		}
		return d
	}
	budgetOnly := *cur
	budgetOnly.MQTT.Budget = "1MiB/day"
	sni := *cur
	sni.MQTT.ServerName = "mitm"
	reset := *cur
	n := int64(4)
	reset.Remote.Reset = &n
	for _, tc := range []struct {
		name  string
		allow []string
		d     *Doc
		next  *testConfig
		want  string
	}{
		{"default allow, budget only", nil, doc("mqtt:budget"), &budgetOnly, ""},
		{"default allow, budget and broker", nil, doc("mqtt:broker,budget"), &budgetOnly, "mqtt"},
		{"default allow, budget and a changed server_name", nil, doc("mqtt:server_name,budget"), &sni, "mqtt mqtt.ca_file"},
		{"default allow, [log]", nil, doc("log:level"), cur, "log"},
		{"mqtt without budget entry", []string{"mqtt"}, doc("mqtt:budget"), &budgetOnly, ""},
		{"sensor only, budget", []string{"sensor"}, doc("mqtt:budget"), &budgetOnly, "mqtt"},
		{"server_name without mqtt.tls", []string{"mqtt"}, doc("mqtt:server_name"), &sni, "mqtt.ca_file"},
		{"server_name with mqtt.tls", []string{"mqtt", "mqtt.tls"}, doc("mqtt:server_name"), &sni, ""},
		{"version_reset", []string{"remote"}, doc("remote:version_reset"), &reset, "remote.version_reset"},
		{"array of tables", []string{"sensor"}, doc("sensor"), cur, ""},
		{"array of tables refused", []string{"mqtt"}, doc("sensor"), cur, "sensor"},
	} {
		got := refusalKeys(s.Check(NewPolicy(tc.allow), tc.d, cur, tc.next))
		if got != tc.want {
			t.Errorf("%s: refused %q, want %q", tc.name, got, tc.want)
		}
	}
	rs := s.Check(NewPolicy(nil), doc("mqtt:broker,budget"), cur, &budgetOnly)
	if len(rs) != 1 || rs[0].Msg != "section [mqtt] may not be set remotely (the local [remote] allow is [sensor, stream, budget]): it lets a document set only budget, rate_limit of it, not broker" {
		t.Errorf("refusal %+v", rs)
	}
	rs = s.Check(NewPolicy([]string{"remote"}), doc("remote:version_reset"), cur, &reset)
	if len(rs) != 1 || rs[0].Msg != "version_reset may only be set in the local file: it takes the box back" {
		t.Errorf("refusal %+v", rs)
	}
}

// TestSchemaPatch: a section set only with part keys keeps the rest of the
// base's section.
func TestSchemaPatch(t *testing.T) {
	s := testSchema(t)
	d := &Doc{Sections: []string{"log", "mqtt"}, Keys: map[string][]string{"mqtt": {"budget"}, "log": {"level"}}}
	if got := s.Patches(d); len(got) != 1 || got[0] != "mqtt" {
		t.Fatalf("patches %v, want [mqtt]", got)
	}
	base := &testConfig{MQTT: testMQTT{Broker: "tcp://a:1883", Keepalive: time.Minute, RateLimit: 7}}
	next := &testConfig{MQTT: testMQTT{Broker: "tcp://default:1883", Budget: "1MiB/day"}}
	s.Patch("mqtt", d, next, base)
	// rate_limit, a key of the part the document leaves out, stays
	if want := (testMQTT{Broker: "tcp://a:1883", Keepalive: time.Minute, Budget: "1MiB/day", RateLimit: 7}); next.MQTT != want {
		t.Errorf("patched %+v, want %+v", next.MQTT, want)
	}
	if got := s.Patches(&Doc{Sections: []string{"mqtt"}, Keys: map[string][]string{"mqtt": {"budget", "keepalive"}}}); len(got) != 0 {
		t.Errorf("a section with other keys is a patch: %v", got)
	}
}

// TestParseSectionKeys: a document says which keys each table section
// sets, from TOML and from JSON alike; arrays of tables have none.
func TestParseSectionKeys(t *testing.T) {
	for _, payload := range []string{
		"version = 1\n[mqtt]\nrate_limit = \"1KiB/s\"\nbudget = \"1MiB/day\"\n[[sensor]]\nname = \"a\"\n",
		`{"version":1,"mqtt":{"rate_limit":"1KiB/s","budget":"1MiB/day"},"sensor":[{"name":"a"}]}`,
	} {
		d, err := Parse([]byte(payload), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.Keys["mqtt"], " "); got != "budget rate_limit" || len(d.Keys) != 1 {
			t.Errorf("%s: keys %v, want mqtt: budget rate_limit", payload, d.Keys)
		}
	}
}
