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

// The telemetry stream the agent adds speaks what the file's first stream
// speaks: a box set up for a metered link (packed + zstd) does not send its
// own health as json at ~10× the bytes of its data (8.4 MB a day at the
// reference site), and a backend that reads the box's data reads its
// telemetry. A box whose streams are json keeps json telemetry.
func TestTelemetryStreamFollowsTheFirstStreamsFormat(t *testing.T) {
	for _, c := range []struct {
		name, streams    string
		format, compress string
	}{
		{"no stream: the default json one", "", "json", "none"},
		{"packed and zstd", "[[stream]]\nname = \"site\"\nformat = \"packed\"\ncompress = \"zstd\"\n", "packed", "zstd"},
		{"the first of two", "[[stream]]\nname = \"a\"\nformat = \"packed\"\n[[stream]]\nname = \"b\"\nformat = \"json\"\ncompress = \"gzip\"\n", "packed", "none"},
	} {
		cfg, err := ParseConfig("t.toml", []byte("[[sensor]]\nname = \"pv\"\ndriver = \"sim\"\n"+c.streams))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ss := allStreams(cfg)
		tel := ss[len(ss)-1]
		if tel.Name != "telemetry" || tel.Format != c.format || tel.Compress != c.compress {
			t.Errorf("%s: telemetry stream %s format %q compress %q, want %q %q", c.name, tel.Name, tel.Format, tel.Compress, c.format, c.compress)
		}
	}
}
