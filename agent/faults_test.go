package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/sensors"

	// Only the drivers this test needs: the config tests' did-you-mean
	// hints list every linked driver that has a key.
	_ "github.com/karana-energy/karana-edge/sensors/exec"
	_ "github.com/karana-energy/karana-edge/sensors/gpio"
	_ "github.com/karana-energy/karana-edge/sensors/sim"
)

// TestFaultySensors runs the daemon with healthy sim sensors next to
// faulting ones (a sim that fails every read, an exec that exits 1, a gpio
// pin this machine does not have): the healthy ones keep sampling and
// delivering, and each fault is a counted error in the sampler's stats,
// with a message a technician can act on.
func TestFaultySensors(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()

	dir := t.TempDir()
	src := fmt.Sprintf(`
[device]
id = "faults"
data_dir = %q
board = "generic-arm"
[buffer]
commit_interval = "50ms"
[mqtt]
broker = "tcp://%s"
reconnect_min = "100ms"
reconnect_max = "300ms"
[[stream]]
name = "raw"
period = "100ms"

[[sensor]]
name = "good1"
driver = "sim"
waveform = "ramp"
interval = "20ms"

[[sensor]]
name = "good2"
driver = "sim"
waveform = "counter"
interval = "20ms"

[[sensor]]
name = "flaky"
driver = "sim"
fail_every = 1
interval = "20ms"

[[sensor]]
name = "script"
driver = "exec"
command = ["/bin/false"]
interval = "500ms"

[[sensor]]
name = "door"
driver = "gpio"
pin = "GPIO_NOT_ON_THIS_BOX"
interval = "20ms"
`, dir, broker.Addr())
	cfg, err := ParseConfig("faults.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop within 10s")
		}
	}()

	stats := func() map[string]sensors.SensorStats {
		m := map[string]sensors.SensorStats{}
		for _, st := range a.sampler.Stats() {
			m[st.Name] = st
		}
		return m
	}
	waitFor(t, "healthy reads, failures of every faulty sensor, and delivery", 60*time.Second, func() bool {
		m := stats()
		st, _ := a.ring.Stats()
		return m["good1"].Reads >= 20 && m["good2"].Reads >= 20 &&
			m["flaky"].Errors >= 2 && m["script"].Errors >= 2 && m["door"].Errors >= 2 &&
			st.LastSeq >= 40 && st.Cursors["raw"] >= 20
	})

	m := stats()
	for _, name := range []string{"good1", "good2"} {
		if st := m[name]; st.Errors != 0 || st.NotFitted {
			t.Errorf("%s: %+v", name, st)
		}
	}
	for name, want := range map[string]string{
		"flaky":  "simulated failure",
		"script": "/bin/false exited with exit status 1",
		"door":   "pin GPIO_NOT_ON_THIS_BOX: no such pin on this board",
	} {
		st := m[name]
		if st.Reads != 0 || st.Errors == 0 || st.Errors != st.ConsecutiveErrors || !strings.Contains(st.LastError, want) {
			t.Errorf("%s: reads %d, errors %d (consecutive %d), last error %q; want only errors, with %q",
				name, st.Reads, st.Errors, st.ConsecutiveErrors, st.LastError, want)
		}
	}
	if !m["door"].NotFitted || m["script"].NotFitted {
		t.Errorf("not fitted: door %v (want true), script %v (want false)", m["door"].NotFitted, m["script"].NotFitted)
	}

	// Only the healthy sensors' series are in the buffer.
	rs, err := a.ring.Read(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "karana.") {
			continue // the agent's own telemetry (telemetry.go)
		}
		names[r.Name]++
	}
	if names["good1.value"] == 0 || names["good2.value"] == 0 || len(names) != 2 {
		t.Errorf("series in the buffer: %v", names)
	}
}
