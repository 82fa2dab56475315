package clock

import (
	"errors"
	"path/filepath"
	"testing"
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
