package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "exec",
		Doc:  "runs a program (no shell) and parses a number or key=value pairs from its output; local config only",
	}, DefaultOptions, New)
}

const (
	maxStdout = 64 << 10
	maxStderr = 4 << 10
	// waitDelay bounds the wait for the output pipes after the program
	// exited or was killed (a child that escaped the group may hold them).
	waitDelay = time.Second
)

// Options are the exec driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Command is the program and its arguments; the program is an absolute
	// path. Required.
	Command []string `toml:"command"`
	// Unit is the unit of every value. Default "".
	Unit string `toml:"unit"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{} }

// LocalOnly implements sensors.LocalOnly: exec runs programs.
func (*Options) LocalOnly() {}

// Sensor runs one command per read.
type Sensor struct {
	o  Options
	mu sync.Mutex // one run at a time, whoever calls
}

// New validates opts and returns the sensor; it runs nothing and does not
// look for the program.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	switch {
	case len(o.Command) == 0 || o.Command[0] == "":
		errs.Add("command", `must be set: the program and its arguments, e.g. ["/usr/local/bin/read-meter", "--port", "/dev/ttyUSB0"]`)
	case !filepath.IsAbs(o.Command[0]):
		errs.Add("command", "the program must be an absolute path (it runs without a shell or $PATH), got %q", o.Command[0])
	}
	for i, a := range o.Command {
		if strings.IndexByte(a, 0) >= 0 {
			errs.Add(config.IndexKey("command", i), "contains a NUL byte")
		}
	}
	if len(o.Unit) > 32 || strings.ContainsAny(o.Unit, "\n\r\t") {
		errs.Add("unit", "must be at most 32 printable characters, got %q", o.Unit)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	o.Command = append([]string(nil), o.Command...)
	return &Sensor{o: o}, nil
}

// Read runs the command once, within ctx.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prog := s.o.Command[0]
	cmd := osexec.CommandContext(ctx, prog, s.o.Command[1:]...)
	cmd.Dir = "/"
	// A group of its own, so that a timeout kills the program's children
	// too and nothing of this run outlives the read.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	stdout, stderr := &capped{max: maxStdout}, &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	if errors.Is(err, osexec.ErrWaitDelay) {
		// The program exited but something it started still holds its
		// output: end the group, so nothing of this run overlaps the next.
		// (Linux does not reuse a pid while it names a live group.)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = nil
	}
	var exitErr *osexec.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s killed (with its process group) after %s: %w", prog, took, ctx.Err())
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such program on this box", prog)
	case errors.As(err, &exitErr):
		return nil, fmt.Errorf("%s exited with %s: %s", prog, exitErr.ProcessState, firstLine(stderr.String()))
	case err != nil:
		return nil, fmt.Errorf("%s: %w", prog, err)
	case stdout.over:
		return nil, fmt.Errorf("%s wrote more than %d KiB to standard output", prog, maxStdout>>10)
	}
	vals, err := Parse(stdout.String(), s.o.Unit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prog, err)
	}
	return vals, nil
}

// Close does nothing: each read runs its own process.
func (s *Sensor) Close() error { return nil }

// Parse turns a program's output into values: a lone number is field
// "value"; otherwise every whitespace-separated token must be key=value.
func Parse(out, unit string) ([]sensors.Value, error) {
	tokens := strings.Fields(out)
	if len(tokens) == 0 {
		return nil, errors.New("no output (want a number or key=value pairs)")
	}
	if len(tokens) == 1 && !strings.Contains(tokens[0], "=") {
		v, err := strconv.ParseFloat(tokens[0], 64)
		if err != nil {
			return nil, fmt.Errorf("output %s is not a number or key=value pairs", quote(tokens[0]))
		}
		return []sensors.Value{{Field: "value", Value: v, Unit: unit}}, nil
	}
	vals := make([]sensors.Value, 0, len(tokens))
	seen := map[string]bool{}
	for _, tok := range tokens {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return nil, fmt.Errorf("output token %s is not key=value", quote(tok))
		}
		if !reading.ValidName(k) {
			return nil, fmt.Errorf("output key %s: use ASCII letters, digits, '-', '_' and '.'", quote(k))
		}
		if seen[k] {
			return nil, fmt.Errorf("output key %s appears twice", quote(k))
		}
		seen[k] = true
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("output %s: %s is not a number", quote(k), quote(v))
		}
		vals = append(vals, sensors.Value{Field: k, Value: f, Unit: unit})
	}
	return vals, nil
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return strconv.Quote(s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(nothing on standard error)"
	}
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:197] + "..."
	}
	return strings.TrimSpace(line)
}

// capped keeps the first max bytes written and notes that more came; the
// program is never blocked on a full pipe.
type capped struct {
	max  int
	buf  bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.over = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) String() string { return c.buf.String() }
