package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoggerFormats(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func() string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		_ = f.Truncate(0)
		_, _ = f.Seek(0, 0)
		return string(b)
	}

	t.Setenv("JOURNAL_STREAM", "")
	NewLogger(LogConfig{Level: "warn", Format: "json"}, f).Warn("disk full", "pending", 3)
	NewLogger(LogConfig{Level: "warn", Format: "json"}, f).Info("hidden")
	line := read()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("json format wrote %q: %v", line, err)
	}
	if m["msg"] != "disk full" || m["pending"] != 3.0 || m["time"] == nil {
		t.Errorf("json line %v, want msg, pending and time", m)
	}

	NewLogger(LogConfig{Level: "info", Format: "text"}, f).Info("hello")
	if got := read(); !strings.HasPrefix(got, "time=") || !strings.Contains(got, "msg=hello") {
		t.Errorf("text line %q", got)
	}

	// Under systemd with stderr on the journal: no time of our own.
	id, ok := devIno(f)
	if !ok {
		t.Skip("no device and inode on this OS")
	}
	t.Setenv("JOURNAL_STREAM", id)
	NewLogger(LogConfig{Level: "info", Format: "text"}, f).Info("hello")
	if got := read(); strings.Contains(got, "time=") || !strings.Contains(got, "msg=hello") {
		t.Errorf("journal text line %q, want no time", got)
	}
	// Another stream on the journal (we were redirected): keep the time.
	t.Setenv("JOURNAL_STREAM", "1:2")
	NewLogger(LogConfig{Level: "info", Format: "text"}, f).Info("hello")
	if got := read(); !strings.Contains(got, "time=") {
		t.Errorf("redirected line %q, want a time", got)
	}
}
