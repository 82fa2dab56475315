package boards

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetect(t *testing.T) {
	if got := Detect(t.TempDir()); got != Sim {
		t.Errorf("no device tree: got %+v, want sim", got)
	}
	for model, want := range map[string]string{
		"Raspberry Pi 4 Model B Rev 1.4\x00":        "rpi4b",
		"Raspberry Pi 5 Model B Rev 1.0\x00":        "rpi5",
		"Raspberry Pi Zero W Rev 1.1\x00":           "rpizerow",
		"Raspberry Pi Zero 2 W Rev 1.0\x00":         "rpizero2w",
		"Raspberry Pi Compute Module 4 Rev 1.0\x00": "cm4",
		"Radxa ROCK 3 Model A\x00":                  "generic-arm",
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "proc/device-tree"), 0o755)
		os.WriteFile(filepath.Join(root, "proc/device-tree/model"), []byte(model), 0o644)
		got := Detect(root)
		if got.Name != want {
			t.Errorf("%q: got %q, want %q", model, got.Name, want)
		}
		if got.Model == "" || got.Model[len(got.Model)-1] == 0 {
			t.Errorf("%q: model not trimmed: %q", model, got.Model)
		}
	}
}
