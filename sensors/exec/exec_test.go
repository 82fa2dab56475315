package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

func run(t *testing.T, ctx context.Context, argv ...string) ([]sensors.Value, error) {
	t.Helper()
	s, err := New("probe", &Options{Command: argv, Unit: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Read(ctx)
}

func TestSingleNumber(t *testing.T) {
	vals, err := run(t, context.Background(), "/bin/echo", "42.5")
	if err != nil || len(vals) != 1 || vals[0] != (sensors.Value{Field: "value", Value: 42.5, Unit: "u"}) {
		t.Errorf("echo 42.5: %+v, %v", vals, err)
	}
}

func TestKeyValuePairs(t *testing.T) {
	vals, err := run(t, context.Background(), "/bin/sh", "-c", "echo 'ac_power=2310.5 dc.voltage=412.2'; echo temp-1=-4")
	if err != nil {
		t.Fatal(err)
	}
	want := []sensors.Value{{Field: "ac_power", Value: 2310.5, Unit: "u"}, {Field: "dc.voltage", Value: 412.2, Unit: "u"}, {Field: "temp-1", Value: -4, Unit: "u"}}
	if len(vals) != len(want) {
		t.Fatalf("got %+v", vals)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, vals[i], want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	for out, want := range map[string]string{
		"":               "no output",
		"hello":          `output "hello" is not a number`,
		"a=1 b":          `output token "b" is not key=value`,
		"a/b=1":          `output key "a/b"`,
		"a=1 a=2":        `output key "a" appears twice`,
		"a=x":            `output "a": "x" is not a number`,
		".a=1":           `output key ".a"`,
		"1 2":            `output token "1" is not key=value`,
		"=3":             `output key ""`,
		"v=1\nv2=2\nv=3": "appears twice",
	} {
		if _, err := Parse(out, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", out, err, want)
		}
	}
	_, err := run(t, context.Background(), "/bin/echo", "garbage", "out")
	// The program names the error; the sensor's name is the caller's to add.
	if err == nil || !strings.HasPrefix(err.Error(), `/bin/echo: output token "garbage" is not key=value`) {
		t.Errorf("garbage output: %v", err)
	}
}

func TestNonZeroExit(t *testing.T) {
	_, err := run(t, context.Background(), "/bin/sh", "-c", "echo value=1; echo 'modbus: no response from unit 3' >&2; echo second line >&2; exit 3")
	if err == nil || !strings.HasPrefix(err.Error(), "/bin/sh exited with exit status 3: modbus: no response from unit 3") || strings.Contains(err.Error(), "second") {
		t.Errorf("exit 3: %v", err)
	}
	_, err = run(t, context.Background(), "/bin/false")
	if err == nil || !strings.Contains(err.Error(), "exit status 1: (nothing on standard error)") {
		t.Errorf("false: %v", err)
	}
	_, err = run(t, context.Background(), "/nonexistent/read-meter")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/read-meter: no such program") {
		t.Errorf("missing program: %v", err)
	}
}

// A run that outlives its timeout is killed with its children, and the read
// returns soon after the deadline.
func TestTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := run(t, ctx, "/bin/sh", "-c", "/bin/sleep 30 & echo $! > "+pidFile+"; wait")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "killed (with its process group)") {
		t.Errorf("timeout: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("read returned %s after a 300ms deadline", el)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the program's child %d still runs after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A background child that keeps the output open does not hold the read
// beyond the wait delay, and is ended with the group.
func TestLingeringChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	vals, err := run(t, context.Background(), "/bin/sh", "-c", "echo 7; /bin/sleep 30 & echo $! > "+pidFile)
	if err != nil || len(vals) != 1 || vals[0].Value != 7 {
		t.Fatalf("read: %+v, %v", vals, err)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for pid > 0 && alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d outlived the read", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper is dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func TestOutputCapped(t *testing.T) {
	_, err := run(t, context.Background(), "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' 1")
	if err == nil || !strings.Contains(err.Error(), "more than 64 KiB") {
		t.Errorf("large output: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "command: must be set"},
		{Options{Command: []string{"read-meter"}}, `the program must be an absolute path (it runs without a shell or $PATH), got "read-meter"`},
		{Options{Command: []string{"/bin/x", "a\x00b"}}, "command[1]: contains a NUL byte"},
	} {
		_, err := New("e", &tc.o)
		var fe config.FieldErrors
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	var o any = &Options{}
	if _, ok := o.(sensors.LocalOnly); !ok {
		t.Error("exec options do not implement sensors.LocalOnly")
	}
}

// BenchmarkRead is one read of a trivial program: the fork/exec cost that an
// exec sensor's interval should be weighed against on a small board.
func BenchmarkRead(b *testing.B) {
	s, err := New("bench", &Options{Command: []string{"/bin/echo", "a=1", "b=2"}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/read")
}
