package uplink

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mosquitto runs a real Mosquitto on a free loopback port; the test is
// skipped when it is not installed (CI: apt-get install -y mosquitto).
type mosquitto struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, err2 := os.Stat(p); err2 == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		t.Skip("mosquitto is not installed (apt-get install -y mosquitto); skipping the interop test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &mosquitto{t: t, bin: bin, conf: conf, addr: addr}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stderr = &m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %s: %v\n%s", m.addr, err, m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mosquitto) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

func TestMosquittoInterop(t *testing.T) {
	m := startMosquitto(t)
	col := &collector{batches: map[string][]gotBatch{}}
	subscribe := func() mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + m.addr).SetClientID("backend").
			SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).SetProtocolVersion(4))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscriber connect: %v", tok.Error())
		}
		if tok := c.Subscribe("karana/#", 1, func(_ mqtt.Client, msg mqtt.Message) { col.add(msg.Topic(), msg.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		return c
	}
	sub := subscribe()
	defer func() { sub.Disconnect(0) }()

	src := newMemSource(10)
	src.Append(5000)
	u, err := New(testConfig("tcp://"+m.addr), []StreamConfig{streamCfg("raw", 20*time.Millisecond, 500)}, src,
		Options{DeviceID: dev, Version: "interop", Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, src: src, u: u, col: col}
	h.run()
	h.waitCursor("raw", 5000)
	h.check("raw", 5000, nil)
	waitFor(t, "the online status", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return len(col.status) > 0 && col.status[0]["state"] == "online" && col.status[0]["version"] == "interop"
	})

	// a Mosquitto restart (no persistence) while sampling goes on
	stop := sampler(src, 20, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	m.stop()
	waitFor(t, "the uplink to see the restart", func() bool { return !u.Connected() })
	sub.Disconnect(0)
	m.start()
	sub = subscribe() // the broker forgot the subscription: anything sent before this is unseen
	waitFor(t, "reconnect", u.Connected)
	time.Sleep(50 * time.Millisecond)
	stop()
	last := src.Last()
	h.waitCursor("raw", last)
	waitFor(t, "the last batch", func() bool {
		b := col.get("raw")
		return len(b) > 0 && b[len(b)-1].LastSeq == last
	})
	if u.Stats().Connects < 2 {
		t.Error("no reconnect recorded across the Mosquitto restart")
	}
	if err := u.Shutdown(5 * time.Second); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
