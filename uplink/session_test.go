package uplink

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSessionConfig(t *testing.T) {
	c := DefaultMQTTConfig()
	if c.CleanSession {
		t.Error("clean_session defaults to true; want false, so the broker queues config/set and cmd/* for an offline box")
	}
	for _, tc := range []struct {
		broker, name, want string
	}{
		{"tls://10.0.0.1:8883", "broker.example.com", ""},
		{"wss://10.0.0.1/mqtt", "broker.example.com", ""},
		{"tcp://10.0.0.1:1883", "broker.example.com", "needs a TLS broker"},
		{"tls://10.0.0.1:8883", "broker.example.com:8883", "no scheme or port"},
		{"tls://10.0.0.1:8883", "tls://broker", "no scheme or port"},
	} {
		c := DefaultMQTTConfig()
		c.Broker, c.ServerName = tc.broker, tc.name
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.broker, tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "server_name") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: error %v, want server_name: …%s", tc.broker, tc.name, err, tc.want)
		}
	}
	c.Broker, c.ServerName = "tls://10.0.0.1:8883", "broker.example.com"
	tr, err := loadTransport(&c)
	if err != nil {
		t.Fatal(err)
	}
	if tr.tls.ServerName != "broker.example.com" || tr.tls.MinVersion != tls.VersionTLS12 {
		t.Errorf("tls config: server name %q, min version %x", tr.tls.ServerName, tr.tls.MinVersion)
	}
	u := &Uplink{cfg: c, tr: tr}
	if o := u.clientOptions(newSession(c.Broker)); o.CleanSession {
		t.Error("clean_session = false not passed to the client")
	}
	u.cfg.CleanSession = true
	if o := u.clientOptions(newSession(c.Broker)); !o.CleanSession {
		t.Error("clean_session = true not passed to the client")
	}
}

// TestServerNameVerified: the certificate is checked against server_name,
// not the URL's host: the test broker's certificate is for 127.0.0.1, so a
// different name must fail the handshake.
func TestServerNameVerified(t *testing.T) {
	dir := t.TempDir()
	b, err := testbroker.StartTLS(t, "", testPKI(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(b.URL())
	cfg.ServerName = "broker.example.com"
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	u, err := New(cfg, nil, newMemSource(1), Options{DeviceID: dev, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, b: b, src: newMemSource(1), u: u, col: &collector{batches: map[string][]gotBatch{}}}
	h.run()
	waitFor(t, "the refusal", func() bool { return u.Stats().LastError != "" })
	if st := u.Stats(); st.Connected || !strings.Contains(st.LastError, "broker.example.com") {
		t.Errorf("with a wrong server_name: %+v", st)
	}
}

// TestTLSMinimum12 refuses a broker that offers TLS 1.1 at most.
func TestTLSMinimum12(t *testing.T) {
	dir := t.TempDir()
	srv := testPKI(t, dir)
	srv.MinVersion, srv.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	b, err := testbroker.StartTLS(t, "", srv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(b.URL())
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	u, err := New(cfg, nil, newMemSource(1), Options{DeviceID: dev, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, b: b, src: newMemSource(1), u: u, col: &collector{batches: map[string][]gotBatch{}}}
	h.run()
	waitFor(t, "the refusal", func() bool { return u.Stats().LastError != "" })
	if st := u.Stats(); st.Connected || !strings.Contains(strings.ToLower(st.LastError), "version") {
		t.Errorf("against a TLS 1.1 broker: %+v", st)
	}
}

// TestPasswordNeverLogged runs a refused and an accepted connection with
// every log line captured: the password appears in none, nor in the stats.
func TestPasswordNeverLogged(t *testing.T) {
	const secret = "pa55-Z9xQ-never-print"
	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	b.SetCredentials("edge", secret)
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	var logs lockedBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i, content := range []string{secret + "-wrong\n", secret + "\n"} {
		if err := os.WriteFile(pw, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(b.URL())
		cfg.Username, cfg.PasswordFile = "edge", pw
		src := newMemSource(1)
		src.Append(10)
		u, err := New(cfg, []StreamConfig{streamCfg("raw", 0, 100)}, src, Options{DeviceID: dev, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, b: b, src: src, u: u, col: &collector{batches: map[string][]gotBatch{}}}
		h.run()
		if i == 0 {
			waitFor(t, "the refusal", func() bool { return u.Stats().LastError != "" })
		} else {
			waitFor(t, "delivery", func() bool { return src.Cursor("raw") == 10 })
		}
		if err := u.Shutdown(5 * time.Second); err != nil {
			t.Log(err)
		}
		if st := u.Stats(); strings.Contains(st.LastError, secret) {
			t.Errorf("stats carry the password: %+v", st)
		}
	}
	if l := logs.String(); strings.Contains(l, secret) || !strings.Contains(l, "connected") {
		t.Errorf("logs (password must not appear):\n%s", l)
	}
}
