//go:build unix

package format

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

func needSh(t *testing.T) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this system")
	}
	return sh
}

func execWith(t *testing.T, o ExecOptions) Exec {
	t.Helper()
	f, err := Configure("exec", &o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.(Exec)
}

func TestExecPipesTheJSONBatch(t *testing.T) {
	sh := needSh(t)
	b := taggedBatch()
	f := execWith(t, ExecOptions{Command: []string{sh, "-c", "cat"}})
	got, err := f.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := JSON{}.Format(b)
	if !bytes.Equal(got, want) {
		t.Errorf("cat gave\n%s\nwant the json batch\n%s", got, want)
	}
	// the environment names the batch; stdout is published as is, even empty
	f = execWith(t, ExecOptions{Command: []string{sh, "-c", `printf '%s %s %s %s' "$KARANA_DEVICE" "$KARANA_STREAM" "$KARANA_FIRST_SEQ" "$KARANA_LAST_SEQ"`}})
	if got, err := f.Format(b); err != nil || string(got) != "site-042 raw 101 106" {
		t.Errorf("env: %q, %v", got, err)
	}
	f = execWith(t, ExecOptions{Command: []string{sh, "-c", "cat >/dev/null"}})
	if got, err := f.Format(b); err != nil || len(got) != 0 {
		t.Errorf("silent command: %q, %v", got, err)
	}
	// argv is not a shell line: the argument arrives whole
	f = execWith(t, ExecOptions{Command: []string{sh, "-c", `printf '%s' "$1"`, "x", "a b; $(echo no) *"}})
	if got, err := f.Format(b); err != nil || string(got) != "a b; $(echo no) *" {
		t.Errorf("argv: %q, %v", got, err)
	}
}

func TestExecFailureIsAnError(t *testing.T) {
	sh := needSh(t)
	f := execWith(t, ExecOptions{Command: []string{sh, "-c", "echo partial; echo 'backend rejected the batch' >&2; exit 3"}})
	out, err := f.Format(goldenBatch())
	if err == nil || out != nil {
		t.Fatalf("got %q, %v; want no payload and an error", out, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "backend rejected the batch") {
		t.Errorf("error %q lacks the exit status or stderr", msg)
	}
	f = execWith(t, ExecOptions{Command: []string{filepath.Join(t.TempDir(), "missing")}})
	if _, err := f.Format(goldenBatch()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing program: %v", err)
	}
}

// TestExecTimeoutKillsTheProcessGroup: a hung script and the child it
// started are both killed, and Format returns soon after the timeout.
func TestExecTimeoutKillsTheProcessGroup(t *testing.T) {
	sh := needSh(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	f := execWith(t, ExecOptions{
		Command: []string{sh, "-c", "sleep 60 & echo $! > " + pidFile + "; wait"},
		Timeout: config.D(300 * time.Millisecond),
	})
	start := time.Now()
	_, err := f.Format(goldenBatch())
	if err == nil || !strings.Contains(err.Error(), "exec_timeout 300ms") {
		t.Fatalf("got %v, want a timeout error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Format returned %s after a 300ms timeout", d) // a hang bound, not a speed target
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(20 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the timed-out command still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive: a zombie waiting for its reaper counts as dead.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust kill
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func TestExecContextCancelKills(t *testing.T) {
	sh := needSh(t)
	f := execWith(t, ExecOptions{Command: []string{sh, "-c", "sleep 60"}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := f.FormatContext(ctx, goldenBatch())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestExecOutputBound(t *testing.T) {
	sh := needSh(t)
	f := execWith(t, ExecOptions{Command: []string{sh, "-c", "cat /dev/zero"}, Timeout: config.D(30 * time.Second)})
	f.maxOut = 1 << 20
	if _, err := f.Format(goldenBatch()); err == nil || !strings.Contains(err.Error(), "stdout exceeds") {
		t.Errorf("got %v, want the output bound", err)
	}
}

func TestExecConfigure(t *testing.T) {
	for _, tc := range []struct {
		opts string
		key  string
	}{
		{``, KeyCommand},
		{`command = [""]`, KeyCommand},
		{"command = [\"x\"]\nexec_timeout = \"1ms\"", KeyExecTimeout},
		{"command = [\"x\"]\nexec_timeout = \"2h\"", KeyExecTimeout},
		{"command = [\"x\"]\ntemplate = \"t\"", KeyTemplate},
		{"command = [\"x\"]\ncsv_header = false", KeyCSVHeader},
	} {
		_, err := configureTOML("exec", tc.opts, nil)
		var fe config.FieldErrors
		if !errors.As(err, &fe) || fe[0].Key != tc.key {
			t.Errorf("%+v: got %v, want an error on %s", tc.opts, err, tc.key)
		}
	}
	if f := execWith(t, ExecOptions{Command: []string{"x"}}); f.timeout != DefaultExecTimeout {
		t.Errorf("default timeout %s", f.timeout)
	}
	if !IsLocalOnly("exec") || IsLocalOnly("json") || IsLocalOnly("template") || IsLocalOnly("nosuch") {
		t.Error("only exec is local-only")
	}
	if _, err := (Exec{}).Format(goldenBatch()); err == nil {
		t.Error("the unconfigured registry instance runs something")
	}
}

// TestExecOutputBoundMemory: a command that writes without end (yes(1),
// cat /dev/zero) costs about the cap in memory, not the doublings of one
// growing buffer (a 64 MiB cap drove a box to ~205 MB), and is refused with
// an error naming the cap.
func TestExecOutputBoundMemory(t *testing.T) {
	sh := needSh(t)
	const limit = 4 << 20
	f := execWith(t, ExecOptions{Command: []string{sh, "-c", "cat /dev/zero"}, Timeout: config.D(30 * time.Second)})
	f.maxOut = limit
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := f.Format(goldenBatch())
	runtime.ReadMemStats(&after)
	if err == nil || out != nil || !strings.Contains(err.Error(), "stdout exceeds 4194304 bytes") {
		t.Fatalf("got %d bytes, %v; want no payload and the error naming the 4194304-byte cap", len(out), err)
	}
	// the cap, plus slack for the batch's JSON, exec's own bookkeeping and
	// the 32 KiB copy buffer
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit+512<<10 {
		t.Errorf("formatting allocated %d bytes under a %d-byte cap, want at most the cap plus 512 KiB", alloc, limit)
	}
}
