package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// buildBinary compiles karana-edge once per test binary run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	return buildBinaryTB(t)
}

func buildBinaryB(b *testing.B) string { return buildBinaryTB(b) }

func buildBinaryTB(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "karana-edge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "karana-edge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// received collects every (stream, seq) the broker delivered.
type received struct {
	mu      sync.Mutex
	seqs    map[uint64]int
	batches int
	dropped uint64
}

func (r *received) onMessage(topic string, payload []byte) {
	var b struct {
		Dropped  uint64 `json:"dropped"`
		Readings []struct {
			Seq uint64 `json:"seq"`
		} `json:"readings"`
	}
	if json.Unmarshal(payload, &b) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	r.dropped += b.Dropped
	for _, x := range b.Readings {
		r.seqs[x.Seq]++
	}
}

func writeCrashConfig(t *testing.T, dir, broker string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
[device]
id = "crash-box"
data_dir = %q
[log]
level = "debug"
[buffer]
commit_interval = "100ms"
[mqtt]
broker = "tcp://%s"
reconnect_min = "100ms"
reconnect_max = "500ms"
[[sensor]]
name = "a"
driver = "sim"
waveform = "counter"
interval = "20ms"
[[sensor]]
name = "b"
driver = "sim"
waveform = "random-walk"
interval = "30ms"
[[stream]]
name = "raw"
period = "200ms"
max_batch = 50
`, dir, broker)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCrashSIGKILL runs the real binary and kills it with SIGKILL at random
// moments, many times, against a real (embedded) broker. Then a last run is
// stopped cleanly and the buffer is opened: every committed reading must
// have reached the broker, seq must have no holes, and the database must
// have reopened every time.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills the binary; skipped in -short")
	}
	bin := buildBinary(t)
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	got := &received{seqs: map[uint64]int{}}
	broker.Subscribe("karana/crash-box/data/#", got.onMessage)

	dir := t.TempDir()
	cfgPath := writeCrashConfig(t, dir, broker.Addr())
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))

	const kills = 12
	for i := 0; i < kills; i++ {
		cmd := exec.Command(bin, "run", "-config", cfgPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill anywhere from start-up (db open, recovery) to steady state.
		time.Sleep(time.Duration(50+rng.IntN(1500)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if bytes.Contains(stderr.Bytes(), []byte("moved it aside")) || bytes.Contains(stderr.Bytes(), []byte("corrupt")) {
			t.Fatalf("run %d: the buffer was found corrupt after SIGKILL:\n%s", i, stderr.String())
		}
	}

	// A last, clean run: let it deliver everything, then SIGTERM.
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("SIGTERM took %s, want under 5s", d)
	}

	ring, err := buffer.OpenReadOnly(filepath.Join(dir, "buffer.db"), 2*time.Second)
	if err != nil {
		t.Fatalf("buffer does not reopen: %v", err)
	}
	st, err := ring.Stats()
	ring.Close()
	if err != nil {
		t.Fatal(err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "buffer.db.corrupt-*")); len(aside) > 0 {
		t.Errorf("a SIGKILL left a corrupt buffer that was moved aside: %v", aside)
	}
	if st.RecoveredFrom != "" {
		t.Errorf("buffer was recovered from %s: a SIGKILL corrupted it", st.RecoveredFrom)
	}
	last := st.LastSeq
	if last < 100 {
		t.Fatalf("only %d readings committed over %d runs; the test proves nothing", last, kills+1)
	}
	// The final run had 3 s to drain: wait a little for in-flight messages.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got.mu.Lock()
		n := len(got.seqs)
		got.mu.Unlock()
		if uint64(n) >= last || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	var missing []uint64
	for s := uint64(1); s <= last; s++ {
		if got.seqs[s] == 0 {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d committed readings never reached the broker (first missing: %v); cursor stream raw=%d",
			len(missing), last, missing[:min(10, len(missing))], st.Cursors["raw"])
	}
	if got.dropped != 0 || st.DroppedTotal != 0 {
		t.Errorf("dropped announced %d, buffer dropped_total %d: want 0 (the buffer is large)", got.dropped, st.DroppedTotal)
	}
	for s := range got.seqs {
		if s > last {
			t.Errorf("broker got seq %d beyond the last committed %d", s, last)
		}
	}
	dups := 0
	for _, n := range got.seqs {
		dups += n - 1
	}
	t.Logf("%d runs, %d readings committed and all delivered, %d batches, %d duplicate deliveries (at-least-once)", kills+1, last, got.batches, dups)
}
