package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// seriesSeen records which series names reached the broker.
type seriesSeen struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *seriesSeen) add(_ string, payload []byte) {
	var b struct {
		Readings []struct {
			Name string `json:"name"`
		} `json:"readings"`
	}
	if json.Unmarshal(payload, &b) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range b.Readings {
		s.seen[r.Name]++
	}
}

func (s *seriesSeen) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[name]
}

// TestSIGHUPReload sends real SIGHUPs to the real binary: a good file adds a
// sensor without a restart; a bad file is logged with its position and the
// running config keeps delivering.
func TestSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &seriesSeen{seen: map[string]int{}}
	broker.Subscribe("karana/hup-box/data/#", got.add)

	dir := t.TempDir()
	base := fmt.Sprintf(`[device]
id = "hup-box"
data_dir = %q
[buffer]
commit_interval = "100ms"
[telemetry]
interval = "0s"
[mqtt]
broker = "tcp://%s"
reconnect_min = "100ms"
reconnect_max = "300ms"
[[stream]]
name = "raw"
period = "200ms"
[[sensor]]
name = "a"
driver = "sim"
interval = "100ms"
`, dir, broker.Addr())
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-config", path)
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitBin(t, "sensor a delivered", func() bool { return got.count("a.value") > 0 })

	// A good file: a second sensor appears without a restart.
	good := base + "[[sensor]]\nname = \"b\"\ndriver = \"sim\"\ninterval = \"100ms\"\n"
	os.WriteFile(path, []byte(good), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitBin(t, "sensor b after the reload", func() bool { return got.count("b.value") > 0 })

	// A bad file: logged with its position, the running config kept.
	bad := good + "[[sensor]]\nname = \"c\"\ndriver = \"sim\"\nintervall = \"1s\"\n"
	os.WriteFile(path, []byte(bad), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	line := strings.Count(good, "\n") + 4
	want := fmt.Sprintf("%s:%d:1: sensor[2].intervall: unknown key", path, line)
	waitBin(t, "the rejected reload in the log", func() bool { return strings.Contains(stderr.String(), want) })
	before := got.count("b.value")
	waitBin(t, "b still delivered after the bad reload", func() bool { return got.count("b.value") > before })
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the daemon died on a bad reload: %v\n%s", err, stderr.String())
	}
	if got.count("c.value") != 0 {
		t.Error("the rejected sensor c produced readings")
	}
}

func waitBin(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuf is a bytes.Buffer safe for the process's stderr copier and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
