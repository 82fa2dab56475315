package provision

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/boards"

	_ "github.com/karana-energy/karana-edge/sensors/sim"
)

var testBoards = []boards.Profile{
	boards.Sim,
	{Name: "rpi4b", Model: "Raspberry Pi 4 Model B Rev 1.4"},
	{Name: "rpizerow", Model: "Raspberry Pi Zero W Rev 1.1"},
	{Name: "generic-arm", Model: "Radxa ROCK 3 Model A"},
}

// Every rendered config loads, names the device, keeps every line of the
// example outside the header and the sensor section in order, and carries
// the identity hints.
func TestRenderConfigLoads(t *testing.T) {
	for _, b := range testBoards {
		t.Run(b.Name, func(t *testing.T) {
			text, err := RenderConfig(ConfigParams{DeviceID: "karana-0123456789ab", Board: b, IdentityDir: "/etc/karana-edge/identity", Version: "v1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "config.toml")
			cfg, err := agent.ParseConfig(path, text)
			if err != nil {
				t.Fatalf("rendered config does not load: %v\n%s", err, text)
			}
			if cfg.Device.ID != "karana-0123456789ab" {
				t.Errorf("device id %q", cfg.Device.ID)
			}
			if len(cfg.Sensors) == 0 {
				t.Error("no sensors")
			}
			for _, s := range cfg.Sensors {
				if b.Name != "sim" && s.Name != "commissioning" && s.Driver == "sim" {
					t.Errorf("hardware board %s gets simulated sensor %q beyond the stand-in", b.Name, s.Name)
				}
			}
			for _, want := range []string{
				`# key_file = "/etc/karana-edge/identity/device.key"`,
				`# cert_file = "/etc/karana-edge/identity/device.crt"`,
				"/etc/karana-edge/identity/device.csr",
				"`karana-edge init` v1.2.3",
				b.Model,
			} {
				if !bytes.Contains(text, []byte(want)) {
					t.Errorf("rendered config lacks %q", want)
				}
			}
			if bytes.Contains(text, []byte("\nid = \"site-042\"")) {
				t.Error("the example's device id survived")
			}
			assertKeepsExample(t, string(text))
		})
	}
}

// assertKeepsExample checks that the example's lines from [device] up to
// its sensor section, and from its first table after the sensors to the
// end, appear in text in the same order (init only inserts or replaces the
// id line).
func assertKeepsExample(t *testing.T, text string) {
	t.Helper()
	ex := strings.Split(strings.TrimRight(example, "\n"), "\n")
	dev := indexOf(ex, 0, func(l string) bool { return l == "[device]" })
	sen := indexOf(ex, 0, func(l string) bool { return l == "[[sensor]]" })
	start := commentBlockStart(ex, sen)
	end := len(ex)
	for i := sen + 1; i < len(ex); i++ {
		if tableLine.MatchString(ex[i]) && ex[i] != "[[sensor]]" {
			end = commentBlockStart(ex, i)
			break
		}
	}
	want := append(append([]string{}, ex[dev:start]...), ex[end:]...)
	got := strings.Split(text, "\n")
	j := 0
	for _, w := range want {
		if idLine.MatchString(w) && !strings.HasPrefix(w, "#") {
			continue
		}
		for j < len(got) && got[j] != w {
			j++
		}
		if j == len(got) {
			t.Fatalf("the example's line %q is missing from the rendered config (or out of order)", w)
		}
		j++
	}
}

func TestRenderConfigSystemSensor(t *testing.T) {
	b := boards.Profile{Name: "rpi4b", Model: "Raspberry Pi 4 Model B Rev 1.4"}
	with, err := RenderConfig(ConfigParams{DeviceID: "box-1", Board: b, SystemSensor: true, IdentityDir: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(with, []byte("\n[[sensor]]\nname = \"box\"\ndriver = \"system\"")) || bytes.Contains(with, []byte(`name = "commissioning"`)) {
		t.Errorf("SystemSensor: want an enabled system sensor and no stand-in:\n%s", with)
	}
	without, _ := RenderConfig(ConfigParams{DeviceID: "box-1", Board: b, IdentityDir: "/x"})
	if !bytes.Contains(without, []byte("# driver = \"system\"")) || !bytes.Contains(without, []byte(`name = "commissioning"`)) {
		t.Errorf("no system driver: want it commented out and the stand-in:\n%s", without)
	}
}

func TestRenderConfigRejects(t *testing.T) {
	for _, id := range []string{"", "site 42", "site/42", "karana-+"} {
		if _, err := RenderConfig(ConfigParams{DeviceID: id, Board: boards.Sim}); err == nil || !strings.Contains(err.Error(), "device id") {
			t.Errorf("id %q: err %v, want an invalid device id error", id, err)
		}
	}
	// A firmware model string cannot break out of its comment.
	text, err := RenderConfig(ConfigParams{DeviceID: "a", Board: boards.Profile{Name: "generic-arm", Model: "Evil\n[device]\nid = \"x\""}, IdentityDir: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ParseConfig("evil.toml", text); err != nil {
		t.Errorf("a model with newlines broke the config: %v", err)
	}
}

// The example may lose its id line or its key_file hint: the id still
// lands in [device], before the next section.
func TestRenderConfigWithoutIDLine(t *testing.T) {
	saved := example
	t.Cleanup(func() { example = saved })
	example = "# header\n\n[device]\n# data_dir = \"/var/lib/karana-edge\"\n\n[mqtt]\nbroker = \"tcp://127.0.0.1:1883\"\n\n[[sensor]]\nname = \"x\"\ndriver = \"sim\"\n"
	text, err := RenderConfig(ConfigParams{DeviceID: "box-9", Board: boards.Sim, IdentityDir: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte("[device]\n# data_dir = \"/var/lib/karana-edge\"\nid = \"box-9\"\n\n[mqtt]")) {
		t.Errorf("id not placed at the end of [device]:\n%s", text)
	}
	if _, err := agent.ParseConfig("x.toml", text); err != nil {
		t.Error(err)
	}
	example = "no tables at all\n"
	if _, err := RenderConfig(ConfigParams{DeviceID: "box-9", Board: boards.Sim}); err == nil || !strings.Contains(err.Error(), "examples/config.toml") {
		t.Errorf("broken example: %v", err)
	}
}
