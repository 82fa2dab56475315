package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// tlsMosquitto starts Mosquitto with a TLS listener that requires a
// client certificate from testPKI's CA, and returns the uplink's config
// for it (the broker URL to be set by the caller).
func tlsMosquitto(t testing.TB, dir string) (*testbroker.Mosquitto, MQTTConfig) {
	t.Helper()
	srv := testPKI(t, dir)
	cert, key := brokerFiles(t, dir, srv)
	m := testbroker.StartMosquitto(t, testbroker.MosquittoOptions{CAFile: filepath.Join(dir, "ca.pem"), CertFile: cert, KeyFile: key})
	cfg := testConfig(m.URL())
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	return m, cfg
}

// statusWatcher is a backend client on the broker, straight (not through
// the relay), keeping the device's last status document.
type statusWatcher struct {
	mu    sync.Mutex
	docs  []map[string]any
	sizes []int
}

func watchStatus(t testing.TB, m *testbroker.Mosquitto, dir, device string) *statusWatcher {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	w := &statusWatcher{}
	o := mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("watcher").SetProtocolVersion(4).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	tok := c.Subscribe("karana/"+device+"/status", 1, func(_ mqtt.Client, msg mqtt.Message) {
		var d map[string]any
		if json.Unmarshal(msg.Payload(), &d) == nil {
			w.mu.Lock()
			w.docs = append(w.docs, d)
			w.sizes = append(w.sizes, len(msg.Payload()))
			w.mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher subscribe: %v", tok.Error())
	}
	return w
}

// online counts the online documents seen.
func (w *statusWatcher) online() int { return len(w.onlineSizes()) }

// onlineSizes are the payload sizes of the online documents seen (the
// offline ones are the broker's wills: they never cross the box's link).
func (w *statusWatcher) onlineSizes() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for i, d := range w.docs {
		if d["state"] == "online" {
			out = append(out, w.sizes[i])
		}
	}
	return out
}

func (w *statusWatcher) last() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.docs) == 0 {
		return nil
	}
	return w.docs[len(w.docs)-1]
}

func runUplink(t testing.TB, u *Uplink) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("uplink did not stop")
		}
	})
}

// The byte count at the socket against an independent count: a relay
// between the box and Mosquitto, over TLS, with a reconnect (the relay
// cuts the link) and a clean shutdown. The status document the box leaves
// at the shutdown must carry the relay's figure within 2 %.
func TestWireBytesMatchRelay(t *testing.T) {
	dir := t.TempDir()
	m, cfg := tlsMosquitto(t, dir)
	r := startRelay(t, m.Addr())
	cfg.Broker = "tls://" + r.addr()
	w := watchStatus(t, m, dir, dev)

	src := newMemSource(10)
	src.Append(3000)
	u, err := New(cfg, []StreamConfig{streamCfg("raw", 20*time.Millisecond, 500)}, src, Options{DeviceID: dev, Version: "wire", Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	waitFor(t, "the first 3000 readings", func() bool { return src.Cursor("raw") == 3000 })
	waitFor(t, "an online status with wire bytes", func() bool {
		d := w.last()
		return d != nil && d["state"] == "online" && d["wire_bytes_today"] != nil && d["wire_bytes_month"] != nil
	})
	r.cut()
	waitFor(t, "the reconnect", func() bool { return u.Stats().Connects >= 2 && u.Connected() })
	src.Append(2000)
	waitFor(t, "the next 2000 readings", func() bool { return src.Cursor("raw") == 5000 })
	if err := u.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shutdown document", func() bool { d := w.last(); return d != nil && d["reason"] == "shutdown" })
	r.drain() // every byte either side sent is counted now

	d := w.last()
	today, ok1 := d["wire_bytes_today"].(float64)
	got, ok2 := d["wire_bytes_month"].(float64) // fresh counters: the month holds the whole test even across a UTC midnight
	if !ok1 || !ok2 || today > got {
		t.Fatalf("shutdown document %v: want wire_bytes_today <= wire_bytes_month", d)
	}
	want := float64(r.total())
	t.Logf("relay %d B (up %d, down %d), status document %d B, %d connections", r.total(), r.up.Load(), r.down.Load(), int64(got), r.accepts.Load())
	if math.Abs(got-want) > 0.02*want {
		t.Errorf("status document says %d B on the wire, the relay counted %d B: more than 2%% apart", int64(got), int64(want))
	}
	if sent := d["bytes_sent_month"].(float64); sent >= got {
		t.Errorf("bytes_sent_month %d is not below the wire figure %d: the socket carries the payloads and more", int64(sent), int64(got))
	}
	if st := u.Stats(); math.Abs(float64(st.Wire.In+st.Wire.Out)-want) > 0.02*want || st.Wire.In == 0 || st.Wire.Out == 0 {
		t.Errorf("Stats.Wire %+v against the relay's %d", st.Wire, r.total())
	}
}

// A reconnect resumes the TLS session (a ticket from Mosquitto/OpenSSL):
// no certificate chain again, a fraction of the first handshake's bytes.
func TestTLSReconnectResumes(t *testing.T) {
	dir := t.TempDir()
	m, cfg := tlsMosquitto(t, dir)
	r := startRelay(t, m.Addr())
	cfg.Broker = "tls://" + r.addr()
	u, err := New(cfg, nil, newMemSource(1), Options{DeviceID: dev, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, u)
	var first *tls.ConnectionState
	waitFor(t, "the first connection", func() bool {
		s, _ := u.current()
		if s == nil {
			return false
		}
		first = s.tlsState()
		return first != nil
	})
	if first.DidResume {
		t.Fatal("the first connection resumed a session it cannot have")
	}
	for i := range 2 {
		before := r.total()
		prev, _ := u.current()
		r.cut()
		var st *tls.ConnectionState
		waitFor(t, "a reconnect", func() bool {
			s, _ := u.current()
			if s == nil || s == prev {
				return false
			}
			st = s.tlsState()
			return st != nil && u.Connected()
		})
		if !st.DidResume {
			t.Errorf("reconnect %d: TLS session not resumed (version %x)", i+1, st.Version)
		}
		t.Logf("reconnect %d: resumed %v, TLS version %x, %d B on the wire since the cut", i+1, st.DidResume, st.Version, r.total()-before)
	}
	if t.Failed() {
		t.Log(m.Log())
	}
}
