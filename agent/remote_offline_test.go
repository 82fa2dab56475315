package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// Remote work sent while the box is offline, against a real Mosquitto with
// persistence on: the box's default persistent session (clean_session =
// false, client id = device id, QoS 1 subscriptions) makes Mosquitto queue
// config/set and cmd/* for it, through a broker restart too.

// backend is the operator's side: a paho client with its own persistent
// session, recording config/result and cmd/+/result.
type backend struct {
	t      *testing.T
	c      mqtt.Client
	prefix string

	mu      sync.Mutex
	results []SetResult
	cmds    map[string][]cmdReply
}

func newBackend(t *testing.T, broker, prefix string) *backend {
	t.Helper()
	be := &backend{t: t, prefix: prefix, cmds: map[string][]cmdReply{}}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("backend").SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetProtocolVersion(4).SetOrderMatters(true)
	o.SetDefaultPublishHandler(be.handle)
	be.c = mqtt.NewClient(o)
	if tok := be.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("backend connect: %v", tok.Error())
	}
	for _, f := range []string{prefix + "/config/result", prefix + "/cmd/+/result"} {
		if tok := be.c.Subscribe(f, 1, be.handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("backend subscribe %s: %v", f, tok.Error())
		}
	}
	t.Cleanup(func() { be.c.Disconnect(0) })
	return be
}

func (be *backend) handle(_ mqtt.Client, m mqtt.Message) {
	be.mu.Lock()
	defer be.mu.Unlock()
	if m.Topic() == be.prefix+"/config/result" {
		var res SetResult
		if err := json.Unmarshal(m.Payload(), &res); err != nil {
			be.t.Errorf("config/result is not JSON: %v: %s", err, m.Payload())
		}
		be.results = append(be.results, res)
		return
	}
	var r cmdReply
	if err := json.Unmarshal(m.Payload(), &r); err != nil {
		be.t.Errorf("%s is not JSON: %v: %s", m.Topic(), err, m.Payload())
	}
	be.cmds[m.Topic()] = append(be.cmds[m.Topic()], r)
}

func (be *backend) publish(topic, payload string, retained bool) {
	be.t.Helper()
	tok := be.c.Publish(be.prefix+"/"+topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		be.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (be *backend) replies(name string) []cmdReply {
	be.mu.Lock()
	defer be.mu.Unlock()
	return append([]cmdReply(nil), be.cmds[be.prefix+"/cmd/"+name+"/result"]...)
}

func (be *backend) setResults() []SetResult {
	be.mu.Lock()
	defer be.mu.Unlock()
	return append([]SetResult(nil), be.results...)
}

// replyFor returns the replies to the command with id (a JSON string).
func replyFor(rs []cmdReply, id string) []cmdReply {
	var out []cmdReply
	for _, r := range rs {
		if string(r.ID) == `"`+id+`"` {
			out = append(out, r)
		}
	}
	return out
}

// takeOver connects and leaves with the box's client id: the broker
// drops the box's connection (session takeover), and the box reconnects.
func takeOver(t *testing.T, broker string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(rigDevice).SetCleanSession(true).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("take-over connect: %v", tok.Error())
	}
	c.Disconnect(0)
}

// startAgentFile starts an agent on file and returns its stop function.
func startAgentFile(t *testing.T, file string) (*Agent, func()) {
	t.Helper()
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
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("agent did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingUntilAnswered proves the agent's subscriptions are in place.
func pingUntilAnswered(t *testing.T, be *backend, id string) {
	t.Helper()
	waitUntil(t, "the agent answering "+id, func() bool {
		if len(replyFor(be.replies("ping"), id)) > 0 {
			return true
		}
		be.publish("cmd/ping", `{"id":"`+id+`"}`, false)
		time.Sleep(150 * time.Millisecond)
		return len(replyFor(be.replies("ping"), id)) > 0
	})
}

func TestOfflineRemoteWorkQueuedByMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoOptions{Persistence: true})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(m.Log())
		}
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	// the local file sets no clean_session: the default must do
	must(t, os.WriteFile(file, []byte(localFile(dir, m.URL(), "")), 0o600))
	prefix := "karana/" + rigDevice
	be := newBackend(t, m.URL(), prefix)

	// First contact creates the box's session and its subscriptions.
	a, stop := startAgentFile(t, file)
	pingUntilAnswered(t, be, "first")
	if a.Config().MQTT.CleanSession {
		t.Fatal("clean_session defaults to true")
	}
	stop()

	// Offline, the broker up all along: the command waits for the box.
	be.publish("cmd/ping", `{"id":"offline-no-restart"}`, false)
	_, stop = startAgentFile(t, file)
	waitUntil(t, "the command queued while offline", func() bool { return len(replyFor(be.replies("ping"), "offline-no-restart")) > 0 })
	stop()

	// Offline: a command and a config/set, then a broker restart.
	be.publish("cmd/ping", `{"id":"while-offline"}`, false)
	be.publish("config/set", fmt.Sprintf(twoFastSensors, 1), false)
	// the same set again, as a resending backend would: one version is
	// applied once, the second copy is a replay
	be.publish("config/set", fmt.Sprintf(twoFastSensors, 1), false)
	m.Stop()
	m.Start()

	a, stop = startAgentFile(t, file)
	waitUntil(t, "the queued command's reply", func() bool { return len(replyFor(be.replies("ping"), "while-offline")) > 0 })
	waitUntil(t, "the queued config/set's results", func() bool { return len(be.setResults()) >= 2 })
	rs := be.setResults()
	if rs[0].Version != 1 || rs[0].Status != StatusApplied {
		t.Errorf("first result %+v, want version 1 applied", rs[0])
	}
	if rs[1].Version != 1 || rs[1].Status != StatusRejected || !strings.Contains(fmt.Sprint(rs[1].Errors), "replay") {
		t.Errorf("second result %+v, want version 1 rejected as a replay", rs[1])
	}
	if got := len(a.Config().Sensors); got != 2 {
		t.Errorf("%d sensors after the queued set, want 2", got)
	}
	if r := replyFor(be.replies("ping"), "while-offline"); len(r) != 1 || !r[0].OK {
		t.Errorf("replies to the queued ping: %+v, want one ok", r)
	}

	// At most once per id: the same command id again, in this process
	// and after a restart (the ring is on the card), is answered and not
	// run; a new id runs.
	be.publish("cmd/ping", `{"id":"while-offline"}`, false)
	waitUntil(t, "the duplicate's reply", func() bool { return len(replyFor(be.replies("ping"), "while-offline")) == 2 })
	stop()
	_, stop = startAgentFile(t, file)
	be.publish("cmd/ping", `{"id":"while-offline"}`, false)
	waitUntil(t, "the duplicate's reply after a restart", func() bool { return len(replyFor(be.replies("ping"), "while-offline")) == 3 })
	for i, r := range replyFor(be.replies("ping"), "while-offline")[1:] {
		if r.OK || !strings.Contains(r.Error, "already ran") {
			t.Errorf("duplicate %d: %+v, want refused as already run", i+1, r)
		}
	}
	pingUntilAnswered(t, be, "fresh-id")
	if r := replyFor(be.replies("ping"), "fresh-id"); !r[0].OK {
		t.Errorf("a new id: %+v", r[0])
	}
	stop()
}

// The alternative for brokers without persistent sessions: the backend
// publishes config/set retained. The box applies each version once; at
// every later subscribe the broker sends it again, retained, and the box
// neither applies it again nor answers it.
func TestRetainedConfigSetAppliedOnce(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoOptions{})
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(file, []byte(strings.Replace(localFile(dir, m.URL(), ""), "[mqtt]\n", "[mqtt]\nclean_session = true\n", 1)), 0o600))
	prefix := "karana/" + rigDevice
	be := newBackend(t, m.URL(), prefix)

	// retained while the box was never connected; a retained command too,
	// which nobody should send, but which must not run at every reconnect
	be.publish("config/set", fmt.Sprintf(twoFastSensors, 1), true)
	be.publish("cmd/ping", `{"id":"retained-cmd"}`, true)
	a, stop := startAgentFile(t, file)
	waitUntil(t, "the retained set's result", func() bool { return len(be.setResults()) >= 1 })
	if rs := be.setResults(); rs[0].Version != 1 || rs[0].Status != StatusApplied {
		t.Fatalf("result %+v, want version 1 applied", rs[0])
	}
	// three reconnects of the running box, one restart of the process
	for range 3 {
		_, _, up := a.parts()
		n := up.Stats().Connects
		takeOver(t, m.URL())
		waitUntil(t, "a reconnect", func() bool { return up.Stats().Connects > n && up.Connected() })
	}
	stop()
	_, stop = startAgentFile(t, file)
	// a later ping and its reply prove the retained set had its turn
	// (one queue, in order) after the last subscribe
	pingUntilAnswered(t, be, "after-reconnects")
	if rs := be.setResults(); len(rs) != 1 {
		t.Errorf("config/result %+v: want the one result of the first application", rs)
	}
	if r := replyFor(be.replies("ping"), "retained-cmd"); len(r) != 1 || !r[0].OK {
		t.Errorf("replies to the retained command: %+v, want the one of its single run", r)
	}
	// a new version, retained, is applied once too
	be.publish("config/set", fmt.Sprintf(twoFastSensors, 2), true)
	waitUntil(t, "version 2's result", func() bool { return len(be.setResults()) >= 2 })
	if rs := be.setResults(); rs[1].Version != 2 || rs[1].Status != StatusApplied {
		t.Errorf("result %+v, want version 2 applied", rs[1])
	}
	stop()
	if t.Failed() {
		t.Log(m.Log())
	}
}
