package agent

import (
	"slices"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/uplink"
)

// TestTelemetryStream runs the agent against a real broker: its own health
// arrives as karana.* readings on the stream the agent added.
func TestTelemetryStream(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &batchLog{}
	broker.Subscribe("karana/pipe/data/telemetry", got.add)

	cfg := pipelineConfig(t, t.TempDir(), broker.Addr(), "\n[telemetry]\ninterval = \"1s\"\nperiod = \"100ms\"")
	stop := startAgent(t, cfg)
	defer stop()

	want := []string{"karana.buffer.depth", "karana.buffer.commit_seconds", "karana.uplink.connected",
		"karana.sensor.s00.errors", "karana.clock.synced", "karana.process.rss_bytes", "karana.uplink.wire_bytes"}
	waitFor(t, "telemetry readings", 30*time.Second, func() bool {
		var names []string
		for _, b := range got.snapshot() {
			for _, r := range b.Readings {
				if r.Name == "karana.uplink.wire_bytes" && r.Value <= 0 {
					continue // sampled before the first connection: nothing crossed the socket yet
				}
				names = append(names, r.Name)
			}
		}
		for _, w := range want {
			if !slices.Contains(names, w) {
				return false
			}
		}
		return true
	})
	for _, b := range got.snapshot() {
		for _, r := range b.Readings {
			if len(r.Name) < 7 || r.Name[:7] != "karana." {
				t.Errorf("telemetry stream carried %q", r.Name)
			}
		}
	}
}

func TestTelemetryStreamAddedUnlessConfigured(t *testing.T) {
	names := func(ss []uplink.StreamConfig) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name+":"+s.Match[0])
		}
		return out
	}
	for _, c := range []struct {
		name, toml string
		want       []string
	}{
		{"default adds it", "", []string{"raw:*", "telemetry:karana.*"}},
		{"off", "[telemetry]\ninterval = \"0s\"\n", []string{"raw:*"}},
		{"own karana stream", "[[stream]]\nname = \"health\"\nmatch = [\"karana.buffer.*\"]\n", []string{"raw:*", "health:karana.buffer.*"}},
	} {
		cfg, err := ParseConfig("t.toml", []byte("[[sensor]]\nname = \"pv\"\ndriver = \"sim\"\n[[stream]]\nname = \"raw\"\n"+c.toml))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(cfg.Warnings) > 0 {
			t.Errorf("%s: warnings %v", c.name, cfg.Warnings)
		}
		if got := names(allStreams(cfg)); !slices.Equal(got, c.want) {
			t.Errorf("%s: streams %v, want %v", c.name, got, c.want)
		}
	}
	_, err := ParseConfig("t.toml", []byte("[[sensor]]\nname = \"karana\"\ndriver = \"sim\"\n"))
	if err == nil {
		t.Error("a sensor named karana was accepted while telemetry is on")
	}
	_, err = ParseConfig("t.toml", []byte("[telemetry]\ninterval = \"10ms\"\n[[sensor]]\nname = \"pv\"\ndriver = \"sim\"\n"))
	if err == nil {
		t.Error("telemetry interval 10ms accepted")
	}
}
