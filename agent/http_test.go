package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
)

// TestRecentLogs: the page's log gets every record the configured output
// gets, at the same level, in text with its time and attributes, also
// when the output is JSON.
func TestRecentLogs(t *testing.T) {
	var out bytes.Buffer
	log := NewLogger(LogConfig{Level: "warn", Format: "json"}, &out).With("component", "test")
	log.Warn("card nearly full", "free_bytes", 4096)
	log.Info("not at this level")
	lines := RecentLogs.Lines()
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "time=") || !strings.Contains(last, `msg="card nearly full"`) || !strings.Contains(last, "component=test") || !strings.Contains(last, "free_bytes=4096") {
		t.Errorf("recent log line %q", last)
	}
	for _, l := range lines {
		if strings.Contains(l, "not at this level") {
			t.Error("a record below the level reached the page's log")
		}
	}
	if !strings.Contains(out.String(), `"msg":"card nearly full"`) {
		t.Errorf("the configured output lost the record: %q", out.String())
	}
}

// TestStatsErr: the stats of a failed read give sensors.Hint what the
// read's error gave it.
func TestStatsErr(t *testing.T) {
	err := statsErr(sensors.SensorStats{LastError: "bme280: i2c bus 1: not found", NotFitted: true})
	if !errors.Is(err, sensors.ErrNotFitted) || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "bme280") {
		t.Errorf("not fitted: %v", err)
	}
	err = statsErr(sensors.SensorStats{LastError: "timed out after 5s", TimedOut: true})
	if errors.Is(err, sensors.ErrNotFitted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timed out: %v", err)
	}
}

// TestRemoteCannotOpenThePage: [http] is the local file's alone: [remote]
// allow may not name it, and a remote document that sets it is rejected.
func TestRemoteCannotOpenThePage(t *testing.T) {
	local := `[device]
id = "x"
data_dir = "` + t.TempDir() + `"
[remote]
enabled = true
allow = ["sensor", "stream"%s]
[[sensor]]
name = "a"
driver = "sim"
`
	if _, err := ParseConfig("local.toml", []byte(fmt.Sprintf(local, `, "http"`))); err == nil ||
		!strings.Contains(err.Error(), `[http] may only be set in the local file`) {
		t.Errorf("allow = [..., \"http\"]: %v, want it refused", err)
	}
	_, err := mergeLocal(t, fmt.Sprintf(local, ""), "version = 1\n[http]\nlisten = \"127.0.0.1:8080\"\n")
	if err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("a remote [http]: %v, want it rejected", err)
	}
	t.Logf("rejected: %v", err)
}
