package agent

import (
	"fmt"
	"testing"
	"time"
)

// The ring keeps delivered readings as long as the rules' longest window
// and the page's 24h plot need, or [buffer] keep when longer; a reload
// that changes the rules changes it.
func TestKeepFollowsRulesAndPage(t *testing.T) {
	const sensor = `
[[sensor]]
name = "battery"
driver = "sim"
`
	const window48h = `
[[derive]]
name = "battery.mean2d"
expr = 'mean(battery.voltage, "48h")'
`
	cases := []struct {
		name, extra string
		want        time.Duration
	}{
		{"nothing", "", 0},
		{"page", "[http]\nlisten = \"127.0.0.1:0\"\n", 24 * time.Hour},
		{"rules", window48h, 48 * time.Hour},
		{"page and short window", "[http]\nlisten = \"127.0.0.1:0\"\n" + `
[[derive]]
name = "battery.mean1h"
expr = 'mean(battery.voltage, "1h")'
`, 24 * time.Hour},
		{"config longer", "[buffer]\nkeep = \"72h\"\n" + window48h, 72 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig("c.toml", []byte(fmt.Sprintf("[device]\nid = \"x\"\nboard = \"sim\"\ndata_dir = %q\n%s%s", t.TempDir(), c.extra, sensor)))
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, Info{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.ring.Close()
			if got := a.ring.Keep(); got != c.want {
				t.Fatalf("keep %s, want %s", got, c.want)
			}
		})
	}
}

func TestKeepFollowsReload(t *testing.T) {
	dir := t.TempDir()
	parse := func(extra string) *Config {
		cfg, err := ParseConfig("c.toml", []byte(fmt.Sprintf("[device]\nid = \"x\"\nboard = \"sim\"\ndata_dir = %q\n[[sensor]]\nname = \"battery\"\ndriver = \"sim\"\n%s", dir, extra)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a, err := New(parse(""), Info{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.ring.Close()
	if got := a.ring.Keep(); got != 0 {
		t.Fatalf("keep %s without rules or page, want 0", got)
	}
	if err := a.Apply(parse("[[derive]]\nname = \"battery.e\"\nexpr = 'integral(battery.voltage, \"6h\")'\n")); err != nil {
		t.Fatal(err)
	}
	if got := a.ring.Keep(); got != 6*time.Hour {
		t.Fatalf("keep %s after a reload adding a 6h window, want 6h", got)
	}
	if err := a.Apply(parse("")); err != nil {
		t.Fatal(err)
	}
	if got := a.ring.Keep(); got != 0 {
		t.Fatalf("keep %s after a reload removing it, want 0", got)
	}
}
