package clock

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSyncedKernel(t *testing.T) {
	oldFile, oldAdj := SyncedFile, adjtimex
	t.Cleanup(func() { SyncedFile, adjtimex = oldFile, oldAdj })
	SyncedFile = filepath.Join(t.TempDir(), "absent")

	for _, c := range []struct {
		name     string
		state    int
		status   int32
		maxerror int64
		err      error
		want     bool
	}{
		{"unsynced", timeError, staUnsync, maxErrorUnsynced, nil, false},
		{"synced", 0, 0, 1200, nil, true},
		{"adjtimex blocked by seccomp", 0, 0, 0, errors.New("operation not permitted"), false},
	} {
		adjtimex = func() (int, int32, int64, error) { return c.state, c.status, c.maxerror, c.err }
		if got := Synced(); got != c.want {
			t.Errorf("%s: Synced() = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSyncedRealKernel(t *testing.T) {
	// Whatever this machine's clock state is, asking must not fail or panic,
	// and the answer must agree with the pure decision on the same data.
	state, status, maxerror, err := adjtimex()
	if err != nil {
		t.Skipf("adjtimex unavailable here: %v", err)
	}
	want := fileExists(SyncedFile) || syncedFrom(state, status, maxerror, false)
	if got := Synced(); got != want {
		t.Errorf("Synced() = %v; kernel state %d status %#x maxerror %d says %v", got, state, status, maxerror, want)
	}
}

func TestOffset(t *testing.T) {
	oldNow, oldBT := now, boottime
	t.Cleanup(func() { now, boottime = oldNow, oldBT })
	wall := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	now = func() time.Time { return wall }
	boottime = func() (time.Duration, error) { return 90 * time.Second, nil }
	off, ok := Offset()
	if !ok || off != time.Duration(wall.UnixNano())-90*time.Second {
		t.Errorf("Offset() = %v, %v; want wall minus 90 s", off, ok)
	}
	boottime = func() (time.Duration, error) { return 0, errors.New("no boot clock") }
	if _, ok := Offset(); ok {
		t.Error("Offset() ok without a boot clock")
	}
	// The real clocks: the offset is the boot time, within a second either way of
	// what the wall clock minus uptime says.
	now, boottime = oldNow, oldBT
	off, ok = Offset()
	if !ok {
		t.Skip("CLOCK_BOOTTIME unavailable")
	}
	if boot := time.Unix(0, int64(off)); boot.After(time.Now()) {
		t.Errorf("boot time from Offset() %s is in the future", boot)
	}
}
