package testbroker

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a real Mosquitto broker on a free loopback port, for tests
// that need an independent implementation: persistent sessions kept
// across a broker restart, TLS session resumption by OpenSSL. The test is
// skipped when mosquitto is not installed (CI: apt-get install -y
// mosquitto).
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	addr string
	tls  bool

	mu  sync.Mutex
	cmd *exec.Cmd
	log bytes.Buffer
}

// MosquittoOptions configure StartMosquitto.
type MosquittoOptions struct {
	// Persistence keeps sessions and queued messages in a file that a
	// graceful Stop writes and Start reads back.
	Persistence bool
	// CAFile, CertFile and KeyFile make the listener TLS; with CAFile the
	// broker requires a client certificate signed by it.
	CAFile, CertFile, KeyFile string
	// Extra lines for mosquitto.conf.
	Extra string
}

// MosquittoPath returns the mosquitto binary, or "" when it is missing.
func MosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// StartMosquitto starts Mosquitto; it stops with the test.
func StartMosquitto(t testing.TB, o MosquittoOptions) *Mosquitto {
	t.Helper()
	bin := MosquittoPath()
	if bin == "" {
		t.Skip("mosquitto is not installed (apt-get install -y mosquitto); skipping the interop test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n", port)
	if os.Geteuid() == 0 {
		// started as root, Mosquitto drops to user "mosquitto", which
		// cannot write the test's directory
		conf += "user root\n"
	}
	if o.Persistence {
		conf += fmt.Sprintf("persistence true\npersistence_location %s/\n", dir)
	} else {
		conf += "persistence false\n"
	}
	if o.CertFile != "" {
		conf += fmt.Sprintf("certfile %s\nkeyfile %s\n", o.CertFile, o.KeyFile)
		if o.CAFile != "" {
			conf += fmt.Sprintf("cafile %s\nrequire_certificate true\n", o.CAFile)
		}
	}
	conf += o.Extra
	m := &Mosquitto{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), addr: addr, tls: o.CertFile != ""}
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Addr is host:port.
func (m *Mosquitto) Addr() string { return m.addr }

// URL is the broker URL for the uplink (tls:// for a TLS listener).
func (m *Mosquitto) URL() string {
	if m.tls {
		return "tls://" + m.addr
	}
	return "tcp://" + m.addr
}

// Log is what Mosquitto wrote so far.
func (m *Mosquitto) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

type lockedWriter struct{ m *Mosquitto }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	return w.m.log.Write(p)
}

// Start starts the broker (again) and waits until it listens.
func (m *Mosquitto) Start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stderr = lockedWriter{m}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %s: %v\n%s", m.addr, err, m.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the broker gracefully (SIGTERM: with persistence on, it
// writes its database first), killing it after 10 s.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	cmd := m.cmd
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
