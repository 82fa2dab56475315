package uplink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir, and returns the server's tls.Config.
func testPKI(t testing.TB, dir string) *tls.Config {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue("broker", 2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := issue(dev, 3, x509.ExtKeyUsageClientAuth)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	write("client.pem", "CERTIFICATE", cliDER)
	write("client.key", "EC PRIVATE KEY", cliKeyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// TLS with a private CA, a client certificate and a password file that
// ends with a newline, end to end against the embedded broker.
func TestTLSClientCertAndPassword(t *testing.T) {
	dir := t.TempDir()
	srvTLS := testPKI(t, dir)
	b, err := testbroker.StartTLS(t, "", srvTLS)
	if err != nil {
		t.Fatal(err)
	}
	b.SetCredentials("edge", "s3cret")
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	col := &collector{batches: map[string][]gotBatch{}}
	if err := b.Subscribe("karana/#", col.add); err != nil {
		t.Fatal(err)
	}
	src := newMemSource(2)
	src.Append(250)
	cfg := testConfig(b.URL())
	cfg.Username, cfg.PasswordFile = "edge", pw
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	u, err := New(cfg, []StreamConfig{streamCfg("raw", time.Hour, 100)}, src, Options{DeviceID: dev, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, b: b, src: src, u: u, col: col}
	h.run()
	h.waitCursor("raw", 250)
	h.check("raw", 250, nil)

	// a wrong password keeps it out, and says why
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u2, err := New(cfg, nil, newMemSource(1), Options{DeviceID: "other", Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h2 := &harness{t: t, b: b, src: newMemSource(1), u: u2, col: col}
	h2.run()
	waitFor(t, "the refusal", func() bool { return u2.Stats().LastError != "" })
	if st := u2.Stats(); st.Connected || !strings.Contains(st.LastError, "not Authorized") {
		t.Errorf("with a wrong password: %+v", st)
	}
}

func TestNewErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	testPKI(t, dir)
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := file("empty", "\n")
	garbage := file("garbage.pem", "not a certificate")
	pw := file("pw", "x\n")
	missing := filepath.Join(dir, "missing")
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")

	for _, tc := range []struct {
		name   string
		mod    func(*MQTTConfig)
		want   []string
		stream []StreamConfig
		dev    string
	}{
		{"missing password file", func(c *MQTTConfig) { c.Username, c.PasswordFile = "u", missing }, []string{"password_file", missing}, nil, dev},
		{"empty password file", func(c *MQTTConfig) { c.Username, c.PasswordFile = "u", empty }, []string{empty, "empty"}, nil, dev},
		{"password without user", func(c *MQTTConfig) { c.PasswordFile = pw }, []string{pw, "username"}, nil, dev},
		{"ca on plain tcp", func(c *MQTTConfig) { c.CAFile = ca }, []string{"ca_file", ca, "not TLS"}, nil, dev},
		{"missing ca", func(c *MQTTConfig) { c.Broker, c.CAFile = "tls://127.0.0.1:8883", missing }, []string{"ca_file", missing}, nil, dev},
		{"garbage ca", func(c *MQTTConfig) { c.Broker, c.CAFile = "mqtts://127.0.0.1", garbage }, []string{garbage, "no PEM"}, nil, dev},
		{"missing cert", func(c *MQTTConfig) { c.Broker, c.CertFile, c.KeyFile = "ssl://h:8883", missing, key }, []string{missing}, nil, dev},
		{"cert and key mismatch", func(c *MQTTConfig) { c.Broker, c.CertFile, c.KeyFile = "wss://h/mqtt", cert, garbage }, []string{cert, garbage}, nil, dev},
		{"bad broker", func(c *MQTTConfig) { c.Broker = "http://h" }, []string{"broker", "scheme"}, nil, dev},
		{"duplicate stream", nil, []string{"duplicate", "raw"}, []StreamConfig{streamCfg("raw", 0, 10), streamCfg("raw", 0, 10)}, dev},
		{"unknown format", nil, []string{"stream[0]", "unknown format", "protobuf"}, []StreamConfig{func() StreamConfig { s := streamCfg("raw", 0, 10); s.Format = "protobuf"; return s }()}, dev},
		{"no device", nil, []string{"device"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("tcp://127.0.0.1:1883")
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			_, err := New(cfg, tc.stream, newMemSource(1), Options{DeviceID: tc.dev})
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// and the good TLS files load
	cfg := testConfig("tls://127.0.0.1:8883")
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = ca, cert, key
	if _, err := New(cfg, nil, newMemSource(1), Options{DeviceID: dev}); err != nil {
		t.Errorf("valid TLS files: %v", err)
	}
}

func TestHostPortDefaults(t *testing.T) {
	for in, want := range map[string]string{
		"broker.example.com":      "broker.example.com:1883",
		"broker.example.com:1884": "broker.example.com:1884",
		"[::1]":                   "[::1]:1883",
		"[::1]:8883":              "[::1]:8883",
	} {
		if got := hostPort(in, "1883"); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(time.Second, time.Minute)
	for attempt, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if got := b.ceiling(attempt); got != want {
			t.Errorf("ceiling(%d) = %s, want %s", attempt, got, want)
		}
	}
	if got := newBackoff(time.Hour, 1<<62).ceiling(100); got != 1<<62 {
		t.Errorf("ceiling does not saturate at max: %s", got)
	}
	// the draw spans the whole window above the floor, at every attempt
	for _, attempt := range []int{0, 3, 20} {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 2000 {
			d := b.wait(attempt)
			lo, hi = min(lo, d), max(hi, d)
		}
		c := b.ceiling(attempt)
		if lo < b.min || hi > c {
			t.Errorf("attempt %d: waits %s..%s outside [%s, %s]", attempt, lo, hi, b.min, c)
		}
		span := c - b.min
		if lo > b.min+span/10 || hi < c-span/10 {
			t.Errorf("attempt %d: waits %s..%s do not spread over [%s, %s]", attempt, lo, hi, b.min, c)
		}
	}
	if d := newBackoff(time.Second, time.Second).wait(5); d != time.Second {
		t.Errorf("min == max: wait %s", d)
	}
}
