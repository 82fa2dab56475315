package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/sensors"
)

// stateCounter is a stateful sensor: it counts its reads, continuing from
// the count persisted by the previous run.
type stateCounter struct {
	mu       sync.Mutex
	st       sensors.State
	n        uint64
	restored bool
}

func (s *stateCounter) Restore(st sensors.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st, s.restored = st, true
	if v, ok := st.Get("n"); ok {
		s.n = binary.BigEndian.Uint64(v)
	}
	return nil
}

func (s *stateCounter) Read(context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.restored {
		return nil, fmt.Errorf("read before Restore")
	}
	s.n++
	s.st.Set("n", binary.BigEndian.AppendUint64(nil, s.n))
	return []sensors.Value{{Field: "n", Value: float64(s.n)}}, nil
}

func (s *stateCounter) Close() error { return nil }

// A stateful sensor that cannot use what was stored still runs.
type badState struct{ stateCounter }

func (s *badState) Restore(sensors.State) error { return fmt.Errorf("stored value from another build") }

func init() {
	sensors.Register(sensors.Driver{
		Name: "teststate",
		Doc:  "state test counter",
	}, nil, func(string, *struct{}) (sensors.Sensor, error) { return &stateCounter{}, nil })
	sensors.Register(sensors.Driver{
		Name: "testbadstate",
		Doc:  "state test counter whose Restore fails",
	}, nil, func(string, *struct{}) (sensors.Sensor, error) {
		s := &badState{}
		s.restored = true
		s.st = discardState{}
		return s, nil
	})
}

type discardState struct{}

func (discardState) Get(string) ([]byte, bool) { return nil, false }
func (discardState) Set(string, []byte)        {}

// TestSensorStateAcrossRestarts: the agent restores each stateful sensor's
// state, scoped to its name, before sampling; what a run Set is persisted
// by the buffer and given back to the next run.
func TestSensorStateAcrossRestarts(t *testing.T) {
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	dir := t.TempDir()
	src := fmt.Sprintf(`
[device]
id = "state"
data_dir = %q
[buffer]
commit_interval = "20ms"
[mqtt]
broker = "tcp://%s"
[[sensor]]
name = "a"
driver = "teststate"
interval = "10ms"
[[sensor]]
name = "b"
driver = "teststate"
interval = "1h"
[[sensor]]
name = "c"
driver = "testbadstate"
interval = "10ms"
`, dir, broker.Addr())
	cfg, err := ParseConfig("state.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	run := func(until func(a *Agent) bool) {
		t.Helper()
		a, err := New(cfg, Info{Version: "test"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		waitFor(t, "reads", 30*time.Second, func() bool { return until(a) })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	reads := func(a *Agent, name string) uint64 {
		for _, st := range a.sampler.Stats() {
			if st.Name == name {
				return st.Reads
			}
		}
		return 0
	}
	run(func(a *Agent) bool { return reads(a, "a") >= 5 && reads(a, "c") >= 1 })

	ring, err := buffer.OpenReadOnly(filepath.Join(dir, BufferFile), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := ring.GetState("sensor/a/n")
	_, bOK := ring.GetState("sensor/b/n")
	ring.Close()
	if !ok || len(v) != 8 || bOK {
		t.Fatalf("persisted state: a %v (%v), b present %v", v, ok, bOK)
	}
	first := binary.BigEndian.Uint64(v)
	if first < 5 {
		t.Fatalf("persisted count %d, want at least 5", first)
	}

	// The second run continues from the persisted count.
	var firstValue float64
	run(func(a *Agent) bool {
		if reads(a, "a") == 0 {
			return false
		}
		rs, err := a.ring.Read(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == "a.n" && r.Value > float64(first) {
				firstValue = r.Value
				return true
			}
		}
		return false
	})
	if firstValue != float64(first+1) {
		t.Errorf("second run's first value %v, want %d (continuing from %d)", firstValue, first+1, first)
	}
}
