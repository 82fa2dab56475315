package format

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Exec is the "exec" format: it pipes the batch, as the json format's
// document, into a local command and publishes what the command writes to
// stdout, byte for byte. It lets a site speak a backend's protocol that no
// built-in format covers, with a script.
//
//	format = "exec"
//	command = ["/usr/local/bin/to-acme", "--site", "kisumu-3"]
//	exec_timeout = "10s"
//
// How it runs:
//
//   - command is an argv run directly, without a shell: quoting and
//     globbing are not interpreted. Its environment is the daemon's plus
//     KARANA_DEVICE, KARANA_STREAM, KARANA_FIRST_SEQ and KARANA_LAST_SEQ.
//   - A run that exits non-zero, is killed, or outlasts exec_timeout
//     (default 10s; the command's whole process group is killed then) fails
//     the batch: nothing is published, the stream's cursor stays, and the
//     batch is formatted again from the cursor after a second, doubling per
//     failure up to 5 minutes (the stream's backoff), so a broken script
//     delays data but never loses it. The error carries the exit status and
//     the end of the command's stderr.
//   - stdout may be empty (an empty payload is published) and is bounded by
//     MaxExecOutput: past it the command is killed and the batch fails, and
//     no more than MaxExecOutput bytes are held.
//   - Local config only: Exec implements LocalOnly, and the remote config
//     must refuse to set format = "exec" or change command. Whoever can
//     publish a config to the broker must not be able to run programs on
//     every box.
//
// A run costs a fork and exec per batch (a few ms on a Pi): fine for a
// batch a minute, not for period = "0s" on a busy box.
type Exec struct {
	argv    []string
	timeout time.Duration
	maxOut  int
}

// ExecOptions are the exec format's keys in a [[stream]] table.
type ExecOptions struct {
	// Command is the argv run, without a shell. Required.
	Command []string `toml:"command"`
	// Timeout bounds one run; 0 means DefaultExecTimeout.
	Timeout config.Duration `toml:"exec_timeout"`
}

// The exec format's keys, as its errors name them.
const (
	KeyCommand     = "command"
	KeyExecTimeout = "exec_timeout"
)

func init() {
	RegisterOptions("exec", Exec{}, func() ExecOptions { return ExecOptions{Timeout: config.D(DefaultExecTimeout)} }, configureExec)
}

// DefaultExecTimeout bounds one run when exec_timeout is not set.
const DefaultExecTimeout = 10 * time.Second

// MaxExecOutput bounds what a command may write to stdout for one batch.
const MaxExecOutput = 64 << 20

// LocalOnly implements LocalOnly: exec runs local programs.
func (Exec) LocalOnly() bool { return true }

// ContentType implements Formatter: the command decides.
func (Exec) ContentType() string { return "application/octet-stream" }

// configureExec checks the options: command is required, exec_timeout
// optional.
func configureExec(o *ExecOptions, _ map[string]string) (Formatter, error) {
	var errs config.FieldErrors
	switch {
	case len(o.Command) == 0:
		errs.Add(KeyCommand, `format "exec" needs a command, e.g. command = ["/usr/local/bin/to-backend", "--site", "x"]`)
	case o.Command[0] == "":
		errs.Add(KeyCommand, "the program (first element) must not be empty")
	}
	for i, a := range o.Command {
		if strings.IndexByte(a, 0) >= 0 {
			errs.Add(KeyCommand, "argument %d holds a NUL byte", i)
		}
	}
	timeout := o.Timeout.Duration
	if timeout == 0 {
		timeout = DefaultExecTimeout
	}
	if timeout < 100*time.Millisecond || timeout > time.Hour {
		errs.Add(KeyExecTimeout, "must be between 100ms and 1h, got %s", o.Timeout.Duration)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return Exec{argv: append([]string(nil), o.Command...), timeout: timeout, maxOut: MaxExecOutput}, nil
}

// Format implements Formatter; see FormatContext.
func (e Exec) Format(b *Batch) ([]byte, error) { return e.FormatContext(context.Background(), b) }

// FormatContext runs the command on b; ctx ending (the daemon stopping)
// kills it like the timeout does.
func (e Exec) FormatContext(ctx context.Context, b *Batch) ([]byte, error) {
	if len(e.argv) == 0 {
		return nil, errors.New("exec: no command configured")
	}
	in, err := JSON{}.Format(b)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	// over the cap the command is killed at once (its process group, like
	// the timeout does) instead of left to die of SIGPIPE on its next write
	stdout := &capBuffer{max: e.maxOut, onOver: cancel}
	stderr := &tailBuffer{max: 1024}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(),
		"KARANA_DEVICE="+b.Device,
		"KARANA_STREAM="+b.Stream,
		"KARANA_FIRST_SEQ="+strconv.FormatUint(b.FirstSeq, 10),
		"KARANA_LAST_SEQ="+strconv.FormatUint(b.LastSeq, 10))
	// a grandchild holding stdout open must not hold the stream past the
	// kill: Wait gives up on the pipes this long after the process exits
	cmd.WaitDelay = time.Second
	killProcessGroup(cmd)

	err = cmd.Run()
	switch {
	case stdout.over:
		return nil, fmt.Errorf("exec %s: stdout exceeds %d bytes", e.argv[0], e.maxOut)
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("exec %s: no result within exec_timeout %s (killed)%s", e.argv[0], e.timeout, stderr.suffix())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("exec %s: %w", e.argv[0], ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("exec %s: %w%s", e.argv[0], err, stderr.suffix())
	}
	return stdout.bytes(), nil
}

// capBuffer keeps up to max bytes and notes whether more came. It stores
// them in chunks of its own, each sized to what may still come: one growing
// slice reallocates by doubling, which cost a 64 MiB cap ~5 times the cap
// in allocations and ~205 MB resident for a command printing 100 MB, on a
// box with 512 MB, again at each retry of the batch. Chunks cost at most
// max bytes however much the command writes, and the joined result (only
// for output that fits) at most as much again.
type capBuffer struct {
	chunks [][]byte
	n      int // bytes kept
	max    int
	over   bool
	onOver func() // called once, when the output first exceeds max
}

// Chunk sizes: small first (most payloads are a few KiB), doubling to
// maxChunk so a large output costs few allocations.
const (
	minChunk = 4 << 10
	maxChunk = 1 << 20
)

var errOutputLimit = errors.New("output limit exceeded")

func (c *capBuffer) Write(p []byte) (int, error) {
	if c.over {
		return 0, errOutputLimit
	}
	if len(p) > c.max-c.n {
		c.over = true
		if c.onOver != nil {
			c.onOver()
		}
		return 0, errOutputLimit
	}
	written := len(p)
	for len(p) > 0 {
		last := len(c.chunks) - 1
		if last < 0 || len(c.chunks[last]) == cap(c.chunks[last]) {
			size := minChunk
			if last >= 0 {
				size = min(2*cap(c.chunks[last]), maxChunk)
			}
			// never more room than max allows: that bounds the memory
			size = min(max(size, len(p)), maxChunk, c.max-c.n)
			c.chunks = append(c.chunks, make([]byte, 0, size))
			last++
		}
		k := min(len(p), cap(c.chunks[last])-len(c.chunks[last]))
		c.chunks[last] = append(c.chunks[last], p[:k]...)
		c.n += k
		p = p[k:]
	}
	return written, nil
}

// bytes returns what was kept, as one slice (never nil).
func (c *capBuffer) bytes() []byte {
	switch len(c.chunks) {
	case 0:
		return []byte{}
	case 1:
		return c.chunks[0]
	}
	out := make([]byte, 0, c.n)
	for _, ch := range c.chunks {
		out = append(out, ch...)
	}
	return out
}

// tailBuffer keeps the last max bytes written: the end of stderr is where a
// script says why it failed.
type tailBuffer struct {
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// suffix is ": <stderr tail>" for an error message, or "".
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.b), "?"))
	if s == "" {
		return ""
	}
	return ": stderr: " + s
}
