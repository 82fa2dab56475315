package modbus

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The independent peer: Debian's python3-pymodbus (the system python, not
// a pyenv one on PATH) and socat's pseudo-terminal pairs standing in for
// an RS-485 adapter.
const systemPython = "/usr/bin/python3"

func needPymodbus(t testing.TB) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import pymodbus").Run(); err != nil {
		t.Skipf("Debian's python3-pymodbus is not installed (%s -c 'import pymodbus': %v): apt-get install python3-pymodbus", systemPython, err)
	}
}

func needSocat(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat is not installed: apt-get install socat")
	}
}

// image is a register image for the pymodbus server: unit → table name →
// address → value.
type pyImage map[int]map[string]map[int]uint16

// startPymodbus runs testdata/pymodbus_server.py in mode "tcp" (where is
// host:port) or "rtu" (where is a serial device) until the test ends.
func startPymodbus(t testing.TB, mode, where string, img pyImage) {
	t.Helper()
	startPymodbusArgs(t, mode, where, img)
}

// startPymodbusDump is startPymodbus with the server's image dumped after
// every write it takes: the returned func reads what the server holds at
// unit's table addr (ok false: not written yet, or no such register).
func startPymodbusDump(t testing.TB, mode, where string, img pyImage) func(unit int, tab string, addr int) (uint16, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.json")
	startPymodbusArgs(t, mode, where, img, path)
	return func(unit int, tab string, addr int) (uint16, bool) {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, false
		}
		var js map[string]map[string]map[string]uint16
		if err := json.Unmarshal(data, &js); err != nil {
			t.Fatalf("pymodbus dump: %v", err)
		}
		v, ok := js[fmt.Sprint(unit)][tab][fmt.Sprint(addr)]
		return v, ok
	}
}

func startPymodbusArgs(t testing.TB, mode, where string, img pyImage, extra ...string) {
	t.Helper()
	js := map[string]map[string]map[string]uint16{}
	for u, tabs := range img {
		js[fmt.Sprint(u)] = map[string]map[string]uint16{}
		for tab, regs := range tabs {
			m := map[string]uint16{}
			for a, v := range regs {
				m[fmt.Sprint(a)] = v
			}
			js[fmt.Sprint(u)][tab] = m
		}
	}
	path := filepath.Join(t.TempDir(), "image.json")
	data, _ := json.Marshal(js)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, append([]string{"testdata/pymodbus_server.py", mode, where, path}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("pymodbus server exited: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("pymodbus server not ready after 20s: %s", stderr.String())
	}
}

// ptyPair is a socat pseudo-terminal pair with stable names (symlinks a
// and b), which Stop and Start take away and bring back as an unplugged
// and re-plugged USB adapter would.
type ptyPair struct {
	t    testing.TB
	a, b string
	cmd  *exec.Cmd
}

func newPtyPair(t testing.TB, dir, a, b string) *ptyPair {
	t.Helper()
	p := &ptyPair{t: t, a: filepath.Join(dir, a), b: filepath.Join(dir, b)}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

func (p *ptyPair) Start() {
	p.t.Helper()
	p.cmd = exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+p.a, "pty,raw,echo=0,link="+p.b)
	p.cmd.Stderr = io.Discard
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errA := os.Stat(p.a)
		_, errB := os.Stat(p.b)
		if errA == nil && errB == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("socat made no ptys at %s, %s", p.a, p.b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *ptyPair) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	p.cmd = nil
	// socat removes its links on SIGTERM; make sure, so the path is gone
	// as an unplugged adapter's is.
	_ = os.Remove(p.a)
	_ = os.Remove(p.b)
}

// relay joins the client's pty pair to the server's, passing each frame
// on after the time it takes on a wire at baud (10 bits a byte, 8N1), so
// that a benchmark sees a real bus's transmission times; it can garble
// the next answer (a CRC error) and survive the client side going away.
type relay struct {
	t        testing.TB
	client   string // path of the client pair's far end
	server   *os.File
	byteTime time.Duration
	garble   atomic.Int32 // answers still to corrupt

	mu  sync.Mutex
	cf  *os.File
	wg  sync.WaitGroup
	end chan struct{}
}

func newRelay(t testing.TB, clientEnd, serverEnd string, baud int) *relay {
	t.Helper()
	sf, err := openRaw(serverEnd)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, client: clientEnd, server: sf, end: make(chan struct{})}
	if baud > 0 {
		r.byteTime = 10 * time.Second / time.Duration(baud)
	}
	r.reopen()
	r.wg.Add(1)
	go r.answers()
	t.Cleanup(r.close)
	return r
}

func openRaw(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
}

// reopen (re)attaches the client side, after Start of its pty pair.
func (r *relay) reopen() {
	cf, err := openRaw(r.client)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.cf = cf
	r.mu.Unlock()
	r.wg.Add(1)
	go r.requests(cf)
}

func (r *relay) pace(n int) {
	if r.byteTime > 0 {
		time.Sleep(time.Duration(n) * r.byteTime)
	}
}

// requests carries client → server until the client side goes.
func (r *relay) requests(cf *os.File) {
	defer r.wg.Done()
	buf := make([]byte, 512)
	for {
		n, err := cf.Read(buf)
		if err != nil {
			return
		}
		r.pace(n)
		if _, err := r.server.Write(buf[:n]); err != nil {
			return
		}
	}
}

// answers carries server → client.
func (r *relay) answers() {
	defer r.wg.Done()
	buf := make([]byte, 512)
	for {
		n, err := r.server.Read(buf)
		if err != nil {
			return
		}
		r.pace(n)
		if r.garble.Load() > 0 && n > 3 {
			r.garble.Add(-1)
			buf[n-1] ^= 0x5A // the CRC's high byte: the frame no longer checks
		}
		r.mu.Lock()
		cf := r.cf
		r.mu.Unlock()
		if cf != nil {
			_, _ = cf.Write(buf[:n])
		}
	}
}

func (r *relay) close() {
	r.mu.Lock()
	if r.cf != nil {
		r.cf.Close()
	}
	r.mu.Unlock()
	r.server.Close()
	r.wg.Wait()
}

// detach forgets the client side (its pty pair was stopped).
func (r *relay) detach() {
	r.mu.Lock()
	if r.cf != nil {
		r.cf.Close()
		r.cf = nil
	}
	r.mu.Unlock()
}

var errPeer = errors.New("peer")
