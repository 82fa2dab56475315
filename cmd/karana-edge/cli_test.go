package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runCLI(args, &out, &errb)
	return code, out.String(), errb.String()
}

// The shipped example must pass `check`, and its effective config must
// itself pass `check` (what a technician copies from the output works).
func TestCheckExampleConfig(t *testing.T) {
	code, out, errs := runArgs("check", "-config", "../../examples/config.toml")
	if code != exitOK {
		t.Fatalf("check examples/config.toml: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"[buffer]", "commit_interval", "[[sensor]]", "[[stream]]", `format = "json"`} {
		if !strings.Contains(out, want) {
			t.Errorf("effective config lacks %q", want)
		}
	}
	again := filepath.Join(t.TempDir(), "effective.toml")
	os.WriteFile(again, []byte(out), 0o644)
	if code, _, errs := runArgs("check", "-config", again); code != exitOK {
		t.Errorf("the printed effective config does not pass check: exit %d\n%s", code, errs)
	}
}

func TestCheckBadConfigExits2WithPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(path, []byte("[buffer]\ncommit_interval = \"1 s\"\n\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\nwavefrom = \"sine\"\n"), 0o644)
	code, _, errs := runArgs("check", "-config", path)
	if code != exitConfig {
		t.Fatalf("exit %d, want %d", code, exitConfig)
	}
	for _, want := range []string{
		path + ":2:1: buffer.commit_interval: invalid duration",
		path + `:7:1: sensor[0].wavefrom: unknown key (did you mean "waveform"?)`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("KARANA_EDGE_CONFIG", "../../examples/config.toml")
	if code, _, errs := runArgs("check"); code != exitOK {
		t.Fatalf("check with KARANA_EDGE_CONFIG: exit %d\n%s", code, errs)
	}
	t.Setenv("KARANA_EDGE_CONFIG", filepath.Join(t.TempDir(), "missing.toml"))
	code, _, errs := runArgs("check")
	if code != exitConfig || !strings.Contains(errs, "missing.toml") {
		t.Errorf("missing config: exit %d, stderr %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runArgs("version")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"karana-edge ", "commit ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("version output %q lacks %q", out, want)
		}
	}
}

func TestUnknownVerbExits2(t *testing.T) {
	if code, _, errs := runArgs("frobnicate"); code != exitConfig || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// buffer stats on a stopped daemon opens the file read-only.
func TestBufferStatsStopped(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte("[device]\nid = \"t\"\ndata_dir = \""+dir+"\"\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"), 0o644)
	code, _, errs := runArgs("buffer", "stats", "-config", cfg)
	if code != exitFailure || !strings.Contains(errs, "buffer.db") {
		t.Errorf("no buffer yet: exit %d, stderr %q (want a message naming the file)", code, errs)
	}
	if code, _, errs := runArgs("buffer", "export", "-format", "xml", "-config", cfg); code != exitConfig || !strings.Contains(errs, "jsonl or csv") {
		t.Errorf("bad -format: exit %d, stderr %q", code, errs)
	}
}
