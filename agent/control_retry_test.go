package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// Issue 11: a daemon started on a data directory that refuses writes (a
// card gone read-only, here with no buffer file yet) cannot create its
// control socket; once the card is writable again (a remount) the socket
// must come up, so that `karana-edge buffer stats|export` reach the
// daemon (the file is locked by it then).
func TestControlSocketComesBackWhenWritable(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v)", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	defer func(d time.Duration) { controlRetry = d }(controlRetry)
	controlRetry = 20 * time.Millisecond

	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()
	cfg := pipelineConfig(t, dir, broker.Addr(), "")
	remount(t, dir, true)
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		remount(t, dir, false)
		t.Fatalf("the daemon refused to start on a read-only data directory: %v", err)
	}
	stop := runAgent(t, a)
	defer stop()
	var out bytes.Buffer
	if err := controlCall(dir, controlRequest{Op: "stats"}, &out); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("a control socket on a read-only directory: %v", err)
	}
	remount(t, dir, false)
	waitFor(t, "the control socket after the remount", 10*time.Second, func() bool {
		out.Reset()
		return controlCall(dir, controlRequest{Op: "stats"}, &out) == nil
	})
	var st buffer.Stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Path == "" {
		t.Errorf("stats over the control socket: %v %q", err, out.String())
	}
}
