package testbroker

import (
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func connect(t *testing.T, b *Broker, id string, will bool) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetAutoReconnect(false).SetProtocolVersion(4)
	if will {
		o.SetWill("dev/status", "offline", 1, true)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (i *inbox) add(topic string, p []byte) {
	i.mu.Lock()
	i.msgs = append(i.msgs, topic+"="+string(p))
	i.mu.Unlock()
}

func (i *inbox) list() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.msgs...)
}

func TestPublishSubscribeRestart(t *testing.T) {
	b, err := Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	var in inbox
	if err := b.Subscribe("dev/#", in.add); err != nil {
		t.Fatal(err)
	}
	c := connect(t, b, "c1", false)
	if tok := c.Publish("dev/a", 1, true, "1"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	// Inline subscribers are called by the broker's own goroutine, which
	// may run just after the PUBACK went out.
	waitFor(t, "delivery", func() bool { return len(in.list()) >= 1 })
	if got := in.list(); len(got) != 1 || got[0] != "dev/a=1" {
		t.Fatalf("subscriber got %v", got)
	}
	if p, ok := b.Retained("dev/a"); !ok || string(p) != "1" {
		t.Fatalf("retained %q %v", p, ok)
	}
	addr := b.Addr()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != addr {
		t.Fatalf("restart moved from %s to %s", addr, b.Addr())
	}
	waitFor(t, "old client to see the restart", func() bool { return !c.IsConnectionOpen() })
	if _, ok := b.Retained("dev/a"); ok {
		t.Error("retained message survived a restart of an in-memory broker")
	}
	c2 := connect(t, b, "c2", false)
	if tok := c2.Publish("dev/b", 1, false, "2"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish after restart: %v", tok.Error())
	}
	waitFor(t, "delivery after restart", func() bool { return len(in.list()) >= 2 })
	if got := in.list(); len(got) != 2 || got[1] != "dev/b=2" {
		t.Fatalf("subscription did not survive restart: %v", got)
	}
}

func TestDropClientsFiresWill(t *testing.T) {
	b, err := Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	connect(t, b, "dev1", true)
	if n := b.DropClients("dev1"); n != 1 {
		t.Fatalf("dropped %d clients, want 1", n)
	}
	waitFor(t, "the will", func() bool { p, ok := b.Retained("dev/status"); return ok && string(p) == "offline" })
}

func TestHoldAndDropOnPublish(t *testing.T) {
	b, err := Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, b, "c1", false)
	release := b.HoldPublishes("dev/")
	tok := c.Publish("dev/x", 1, false, "x")
	waitFor(t, "the publish to be held", func() bool { return b.Held() == 1 })
	if tok.WaitTimeout(50 * time.Millisecond) {
		t.Fatal("PUBACK arrived while the broker held the publish")
	}
	release()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish after release: %v", tok.Error())
	}

	b.DropOnPublish("dev/", 2)
	if tok := c.Publish("dev/1", 1, false, "1"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("first publish: %v", tok.Error())
	}
	tok = c.Publish("dev/2", 1, false, "2")
	tok.WaitTimeout(10 * time.Second)
	waitFor(t, "the connection to drop", func() bool { return !c.IsConnectionOpen() })
	if tok.Error() == nil {
		t.Error("the dropped publish was acknowledged")
	}
}

func TestCredentials(t *testing.T) {
	b, err := Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	b.SetCredentials("u", "p")
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("x").SetUsername("u").SetPassword("wrong").SetProtocolVersion(4))
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		t.Fatal("connected with a wrong password")
	}
}
