package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
)

// The control socket protocol: the client writes one JSON request line; the
// daemon answers with "ok\n" followed by the raw output, or "error: …\n",
// and closes. It is deliberately tiny: the CLI renders, the daemon only
// serves the same Stats and Export a stopped buffer would.
type controlRequest struct {
	Op     string `json:"op"` // "stats" | "export"
	Format string `json:"format,omitempty"`
	From   uint64 `json:"from,omitempty"`
	To     uint64 `json:"to,omitempty"`
}

type control struct {
	ln   net.Listener
	ring *buffer.Ring
	log  *slog.Logger
}

func listenControl(path string, ring *buffer.Ring, log *slog.Logger) (*control, error) {
	// A socket left by a killed daemon would make Listen fail; no other
	// daemon can be running, since we hold the buffer's lock.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	os.Chmod(path, 0o660)
	c := &control{ln: ln, ring: ring, log: log}
	go c.serve()
	return c, nil
}

func (c *control) Close() error { return c.ln.Close() }

// controlRetry is how often a control socket that could not be created is
// tried again.
var controlRetry = 10 * time.Second

// serveControl listens on the control socket at path. While that fails (a
// data directory that refuses writes at start, a full disk) it tries again
// every controlRetry until ctx ends: the daemon runs on, and once the card
// is writable again (the buffer then reopens its file for writing too)
// `buffer stats|export` reach it. stop closes the socket and ends the
// retries.
func serveControl(ctx context.Context, path string, ring *buffer.Ring, log *slog.Logger) (stop func()) {
	c, err := listenControl(path, ring, log)
	if err == nil {
		return func() { c.Close() }
	}
	// The daemon's job is sampling; a missing control socket only costs
	// the technician the live `buffer stats`.
	log.Warn("control socket unavailable; trying again until it can be created", "err", err, "every", controlRetry)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(controlRetry)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-quit:
				return
			case <-t.C:
			}
			if c, err = listenControl(path, ring, log); err == nil {
				log.Info("control socket up", "path", path)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		if c != nil {
			c.Close()
		}
	}
}

func (c *control) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		go c.handle(conn)
	}
}

func (c *control) handle(conn net.Conn) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return
	}
	conn.SetReadDeadline(time.Time{})
	var req controlRequest
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(conn, "error: bad request: %v\n", err)
		return
	}
	w := bufio.NewWriter(conn)
	defer w.Flush()
	switch req.Op {
	case "stats":
		st, err := c.ring.Stats()
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
			return
		}
		io.WriteString(w, "ok\n")
		json.NewEncoder(w).Encode(st)
	case "export":
		io.WriteString(w, "ok\n")
		if err := c.ring.Export(w, req.Format, req.From, req.To); err != nil {
			// The header is gone already; the CLI sees the trailer line.
			fmt.Fprintf(w, "\nerror: %v\n", err)
			c.log.Warn("export over control socket failed", "err", err)
		}
	default:
		fmt.Fprintf(w, "error: unknown op %q\n", req.Op)
	}
}

// ErrNoDaemon means no daemon answers on the control socket.
var ErrNoDaemon = errors.New("no running daemon")

// control sends one request to a running daemon and copies its answer to w.
func controlCall(dataDir string, req controlRequest, w io.Writer) error {
	path := filepath.Join(dataDir, ControlSocket)
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%w (%s: %v)", ErrNoDaemon, path, err)
	}
	defer conn.Close()
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	r := bufio.NewReader(conn)
	head, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if head != "ok\n" {
		return fmt.Errorf("daemon: %s", head[:len(head)-1])
	}
	_, err = io.Copy(w, r)
	return err
}

// readOnlyTimeout bounds the wait for the buffer's file lock when no daemon
// answers on the socket (a daemon starting up, or one without its socket).
const readOnlyTimeout = 3 * time.Second

// BufferStats returns the buffer's stats from the running daemon, or from the
// file when the daemon is stopped.
func BufferStats(cfg *Config) (buffer.Stats, error) {
	var out bytes.Buffer
	err := controlCall(cfg.Device.DataDir, controlRequest{Op: "stats"}, &out)
	if err == nil {
		var st buffer.Stats
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			return st, fmt.Errorf("daemon stats: %w", err)
		}
		return st, nil
	}
	if !errors.Is(err, ErrNoDaemon) {
		return buffer.Stats{}, err
	}
	ring, err := openStopped(cfg)
	if err != nil {
		return buffer.Stats{}, err
	}
	defer ring.Close()
	return ring.Stats()
}

// BufferExport writes readings from..to (to 0: up to the newest) as jsonl or
// csv, from the running daemon or from the file when it is stopped.
func BufferExport(cfg *Config, w io.Writer, format string, from, to uint64) error {
	err := controlCall(cfg.Device.DataDir, controlRequest{Op: "export", Format: format, From: from, To: to}, w)
	if err == nil || !errors.Is(err, ErrNoDaemon) {
		return err
	}
	ring, err := openStopped(cfg)
	if err != nil {
		return err
	}
	defer ring.Close()
	return ring.Export(w, format, from, to)
}

func openStopped(cfg *Config) (*buffer.Ring, error) {
	path := filepath.Join(cfg.Device.DataDir, BufferFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("buffer %s: %w (has the daemon run with this data_dir?)", path, err)
	}
	return buffer.OpenReadOnly(path, readOnlyTimeout)
}
