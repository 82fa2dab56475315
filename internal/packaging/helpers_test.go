package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const repo = "../.."

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// hostBinary builds cmd/karana-edge for this machine once per test run.
func hostBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "karana-packaging-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "karana-edge")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", buildBin, "./cmd/karana-edge")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build karana-edge: %v", buildErr)
	}
	return buildBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// script runs a script of the repository with env added; it returns the
// exit code and the combined output.
func script(t *testing.T, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo, "scripts", name), args...)
	cmd.Env = append(append(os.Environ(), "KARANA_EDGE_CONFIG="), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		t.Fatalf("%s: %v", name, err)
	}
	return 0, out.String()
}

// stat returns the mode and owner of path, failing the test if it is absent.
func stat(t *testing.T, path string) (os.FileMode, uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().Perm(), st.Uid, st.Gid
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entry returns the fields of name's line in an /etc/passwd-style file and
// how many lines name has.
func entry(t *testing.T, path, name string) ([]string, int) {
	t.Helper()
	var fields []string
	n := 0
	for _, l := range strings.Split(readFile(t, path), "\n") {
		f := strings.Split(l, ":")
		if f[0] == name {
			fields = f
			n++
		}
	}
	return fields, n
}
