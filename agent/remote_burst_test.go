package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// burstSets is how many config/set messages TestRemoteSetBurst publishes
// back to back: the report counted 7-8 of 20 never answered.
const burstSets = 20

// operator is the backend side of a burst: a paho client on the broker
// that records config/result in arrival order.
type operator struct {
	c       mqtt.Client
	mu      sync.Mutex
	results []SetResult
}

func newOperator(t *testing.T, broker, prefix string) *operator {
	t.Helper()
	o := &operator{}
	o.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("operator").
		SetProtocolVersion(4).SetOrderMatters(true))
	if tok := o.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("operator connect: %v", tok.Error())
	}
	t.Cleanup(func() { o.c.Disconnect(0) })
	tok := o.c.Subscribe(prefix+"/config/result", 1, func(_ mqtt.Client, m mqtt.Message) {
		var res SetResult
		if err := json.Unmarshal(m.Payload(), &res); err != nil {
			t.Errorf("config/result is not JSON: %v: %s", err, m.Payload())
			return
		}
		o.mu.Lock()
		o.results = append(o.results, res)
		o.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("operator subscribe: %v", tok.Error())
	}
	return o
}

func (o *operator) got() []SetResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]SetResult(nil), o.results...)
}

// runBurst runs an agent against broker and publishes burstSets config/set
// messages back to back, each changing the stream; every one must be
// answered once, in order, applied, on the one MQTT connection.
func runBurst(t *testing.T, broker string) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(file, []byte(localFile(dir, broker, "")), 0o600))
	cfg, err := LoadEffective(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	prefix := "karana/" + rigDevice
	op := newOperator(t, broker, prefix)
	// the agent listens once a ping is answered
	pong := make(chan struct{}, 1)
	op.c.Subscribe(prefix+"/cmd/ping/result", 1, func(mqtt.Client, mqtt.Message) {
		select {
		case pong <- struct{}{}:
		default:
		}
	}).WaitTimeout(10 * time.Second)
	for answered := false; !answered; {
		op.c.Publish(prefix+"/cmd/ping", 1, false, `{"id":1}`).WaitTimeout(10 * time.Second)
		select {
		case <-pong:
			answered = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	_, _, up := a.parts()

	for v := 1; v <= burstSets; v++ {
		doc := fmt.Sprintf("version = %d\n[[stream]]\nname = \"raw\"\nperiod = \"%dms\"\n", v, 100+10*v)
		op.c.Publish(prefix+"/config/set", 1, false, doc) // back to back: no wait for the PUBACK
	}
	// one more, after the burst: when its result is in, every earlier one
	// had its turn
	last := burstSets + 1
	op.c.Publish(prefix+"/config/set", 1, false, fmt.Sprintf("version = %d\n[[stream]]\nname = \"raw\"\nperiod = \"1s\"\n", last))
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := op.got()
		if n := len(res); n > 0 && res[n-1].Version == int64(last) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res := op.got()
	var versions []int64
	for _, r := range res {
		versions = append(versions, r.Version)
	}
	if len(res) != last {
		t.Fatalf("%d results for %d config/set messages: versions %v", len(res), last, versions)
	}
	for i, r := range res {
		if r.Version != int64(i+1) || r.Status != StatusApplied {
			t.Errorf("result %d: %+v, want version %d applied (all: %v)", i, r, i+1, versions)
		}
	}
	if got := a.Config().Streams[0].Period.Duration; got != time.Second {
		t.Errorf("stream period %s after the burst, want 1s", got)
	}
	_, _, after := a.parts()
	if after != up || up.Stats().Connects != 1 || up.Stats().Disconnects != 0 {
		t.Errorf("the stream changes reconnected: same uplink %v, connects %d, disconnects %d",
			after == up, after.Stats().Connects, after.Stats().Disconnects)
	}
}

// TestRemoteSetBurst: config/set messages sent close together are all
// processed, each answered exactly once, in order.
func TestRemoteSetBurst(t *testing.T) {
	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	runBurst(t, b.URL())
}

// TestRemoteSetBurstMosquitto is the burst against a real Mosquitto; it is
// skipped when Mosquitto is not installed (CI: apt-get install -y mosquitto).
func TestRemoteSetBurstMosquitto(t *testing.T) {
	runBurst(t, "tcp://"+testbroker.StartMosquitto(t, testbroker.MosquittoOptions{}).Addr())
}
