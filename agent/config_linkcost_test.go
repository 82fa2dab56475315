package agent

import (
	"strings"
	"testing"
)

// The link-cost keys decode through the position-aware loader: budget as a
// string or a list, errors naming the key, and check -series showing a
// stream's priority, backfill and essential.
func TestLinkCostKeys(t *testing.T) {
	base := "[device]\nid = \"x\"\n[[sensor]]\nname = \"x\"\ndriver = \"sim\"\n[mqtt]\nbroker = \"tcp://h:1883\"\n"
	stream := "[[stream]]\nname = \"alarms\"\npriority = 7\nbackfill = \"newest-first\"\nessential = true\n"
	for _, b := range []string{`"5MiB/day"`, `["5MiB/day", "100MiB/month"]`} {
		extra := "rate_limit = \"2KiB/s\"\nwindows = [\"0 6 * * * 30m\", \"0 18 * * mon-fri 15m\"]\n"
		c, err := ParseConfig("c.toml", []byte(base+"budget = "+b+"\n"+extra+stream))
		if err != nil {
			t.Fatalf("budget = %s: %v", b, err)
		}
		if d, _, err := c.MQTT.Budget.Limits(); err != nil || d != 5<<20 {
			t.Errorf("budget = %s: day %d, %v", b, d, err)
		}
		var out strings.Builder
		if err := c.WriteTOML(&out); err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig("check.toml", []byte(out.String()))
		if err != nil || back.MQTT != c.MQTT || c.MQTT.RateLimit != 2048 || len(c.MQTT.Windows.Entries()) != 2 || back.Streams[0].Priority != 7 {
			t.Errorf("check output does not load back: %v\n%s", err, out.String())
		}
		lines := strings.Join(c.StreamsFor("x.y"), "\n")
		for _, want := range []string{"priority 7", "backfill newest-first", "essential"} {
			if !strings.Contains(lines, want) {
				t.Errorf("check -series lacks %q:\n%s", want, lines)
			}
		}
	}
	for _, bad := range []struct{ src, want string }{
		{base + "budget = \"5MiB/week\"\n", "mqtt.budget"},
		{base + "budget = [\"1KiB/day\", \"2KiB/day\"]\n", "second daily"},
		{base + "rate_limit = \"2KiB\"\n", "mqtt.rate_limit"},
		{base + "windows = [\"0 6 * * *\"]\n", "mqtt.windows"},
		{base + strings.Replace(stream, "newest-first", "sideways", 1), "backfill"},
	} {
		_, err := ParseConfig("c.toml", []byte(bad.src))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one with %q", bad.src, err, bad.want)
		}
	}
}
