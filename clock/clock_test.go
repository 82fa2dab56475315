package clock

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSyncedFrom(t *testing.T) {
	for _, c := range []struct {
		name     string
		state    int
		status   int32
		maxerror int64
		file     bool
		want     bool
	}{
		{"cold boot, no NTP", timeError, staUnsync, maxErrorUnsynced, false, false},
		{"cold boot, timesyncd flag file", timeError, staUnsync, maxErrorUnsynced, true, true},
		{"ntpd/timesyncd synced", 0, 0x2001, 250_000, false, true},
		{"chrony without rtcsync keeps STA_UNSYNC", timeError, staUnsync | 0x1, 42_000, false, true},
		{"stale: maxerror grew to the limit", timeError, staUnsync, maxErrorUnsynced, false, false},
		{"maxerror at limit but kernel says OK", 0, 0, maxErrorUnsynced, false, true},
		{"TIME_ERROR without STA_UNSYNC", timeError, 0, maxErrorUnsynced + 1, false, false},
		{"STA_UNSYNC with TIME_OK state", 0, staUnsync, maxErrorUnsynced, false, false},
		{"nonsense negative maxerror", timeError, staUnsync, -1, false, false},
	} {
		if got := syncedFrom(c.state, c.status, c.maxerror, c.file); got != c.want {
			t.Errorf("%s: syncedFrom(%d, %#x, %d, %v) = %v, want %v", c.name, c.state, c.status, c.maxerror, c.file, got, c.want)
		}
	}
}

func TestSyncedFileWins(t *testing.T) {
	dir := t.TempDir()
	old := SyncedFile
	t.Cleanup(func() { SyncedFile = old })

	SyncedFile = filepath.Join(dir, "synchronized")
	if err := os.WriteFile(SyncedFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !Synced() {
		t.Error("Synced() = false with timesyncd's flag file present")
	}
}

func TestBootID(t *testing.T) {
	dir := t.TempDir()
	old := BootIDFile
	t.Cleanup(func() { BootIDFile = old })

	BootIDFile = filepath.Join(dir, "boot_id")
	const id = "0f3c5c8e-7d4b-4c1e-9a63-2a8f1b5d9e01"
	if err := os.WriteFile(BootIDFile, []byte(id+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if got := BootID(); got != id {
		t.Errorf("BootID() = %q, want %q", got, id)
	}
	BootIDFile = filepath.Join(dir, "missing")
	if got := BootID(); got != "" {
		t.Errorf("BootID() with no file = %q, want \"\"", got)
	}
}
