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

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/testbroker"
	"github.com/karana-energy/karana-edge/remote"

	_ "github.com/karana-energy/karana-edge/sensors/exec"
)

// remoteRig is a running agent with [remote] enabled, its local file, and a
// real broker recording what the agent publishes.
type remoteRig struct {
	t      *testing.T
	b      *testbroker.Broker
	dir    string
	file   string
	a      *Agent
	stop   func()
	prefix string

	mu      sync.Mutex
	results []SetResult
	cmds    map[string][]json.RawMessage
	names   map[string]int // series name → readings seen
}

const rigDevice = "rt"

// localFile is a small local config: one slow sensor "a", one fast stream.
func localFile(dir, broker, remoteSection string) string {
	return fmt.Sprintf(`[device]
id = %q
data_dir = %q
[buffer]
commit_interval = "50ms"
[mqtt]
broker = %q
reconnect_min = "100ms"
reconnect_max = "300ms"
publish_timeout = "5s"
[remote]
enabled = true
%s
[[stream]]
name = "raw"
period = "100ms"

[[sensor]]
name = "a"
driver = "sim"
waveform = "counter"
interval = "200ms"
`, rigDevice, dir, broker, remoteSection)
}

func newRemoteRig(t *testing.T, remoteSection string) *remoteRig {
	t.Helper()
	b, err := testbroker.Start(t, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &remoteRig{t: t, b: b, dir: dir, file: filepath.Join(dir, "config.toml"),
		prefix: "karana/" + rigDevice, cmds: map[string][]json.RawMessage{}, names: map[string]int{}}
	if err := os.WriteFile(r.file, []byte(localFile(dir, b.URL(), remoteSection)), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, b.Subscribe(r.prefix+"/config/result", func(_ string, p []byte) {
		var res SetResult
		if err := json.Unmarshal(p, &res); err != nil {
			t.Errorf("config/result is not JSON: %v: %s", err, p)
			return
		}
		r.mu.Lock()
		r.results = append(r.results, res)
		r.mu.Unlock()
	}))
	must(t, b.Subscribe(r.prefix+"/cmd/+/result", func(topic string, p []byte) {
		r.mu.Lock()
		r.cmds[topic] = append(r.cmds[topic], json.RawMessage(p))
		r.mu.Unlock()
	}))
	must(t, b.Subscribe(r.prefix+"/data/+", func(_ string, p []byte) {
		var batch jsonBatch
		if json.Unmarshal(p, &batch) != nil {
			return
		}
		r.mu.Lock()
		for _, rd := range batch.Readings {
			r.names[rd.Name]++
		}
		r.mu.Unlock()
	}))
	r.start()
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (r *remoteRig) start() {
	t := r.t
	cfg, err := LoadEffective(r.file, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop")
		}
	}
	t.Cleanup(r.stop)
	// The subscription follows the connect asynchronously: ping until a
	// reply proves the agent listens.
	r.waitFor("agent answering commands", func() bool {
		_ = r.b.Publish(r.prefix+"/cmd/ping", []byte(`{"id":"hello"}`), false)
		time.Sleep(100 * time.Millisecond)
		return len(r.cmdReplies("ping")) > 0
	})
}

func (r *remoteRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// set publishes a config/set and returns the result(s) that arrive for it:
// the first one, once it is there.
func (r *remoteRig) set(payload string) SetResult {
	r.t.Helper()
	r.mu.Lock()
	n := len(r.results)
	r.mu.Unlock()
	must(r.t, r.b.Publish(r.prefix+"/config/set", []byte(payload), false))
	var res SetResult
	r.waitFor("config/result", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.results) > n {
			res = r.results[n]
			return true
		}
		return false
	})
	return res
}

func (r *remoteRig) allResults() []SetResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SetResult(nil), r.results...)
}

func (r *remoteRig) cmdReplies(name string) []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage(nil), r.cmds[r.prefix+"/cmd/"+name+"/result"]...)
}

func (r *remoteRig) seen(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.names[name]
}

func (r *remoteRig) state() StateDoc {
	r.t.Helper()
	var st StateDoc
	b, ok := r.b.Retained(r.prefix + "/config/state")
	if !ok {
		return st
	}
	if err := json.Unmarshal(b, &st); err != nil {
		r.t.Fatalf("config/state: %v", err)
	}
	return st
}

func hasErr(res SetResult, key string, line int) bool {
	for _, e := range res.Errors {
		if e.Key == key && (line < 0 || e.Line == line) {
			return true
		}
	}
	return false
}

const twoFastSensors = `version = %d

[[sensor]]
name = "a"
driver = "sim"
waveform = "counter"
interval = "20ms"

[[sensor]]
name = "b"
driver = "sim"
waveform = "ramp"
interval = "20ms"
`

func TestRemoteSetAppliedPersistedAndRebooted(t *testing.T) {
	r := newRemoteRig(t, "")
	r.waitFor("sensor a's readings", func() bool { return r.seen("a.value") > 0 })
	if n := r.seen("b.value"); n != 0 {
		t.Fatalf("b.value before the set: %d", n)
	}
	res := r.set(fmt.Sprintf(twoFastSensors, 1))
	if res.Status != StatusApplied || res.Version != 1 {
		t.Fatalf("result %+v, want applied version 1", res)
	}
	// The new sensor shows up in the data, and a re-timed a runs 10x faster.
	r.waitFor("sensor b's readings", func() bool { return r.seen("b.value") >= 20 })
	if got := r.a.Config().Sensors[0].Interval.Duration; got != 20*time.Millisecond {
		t.Errorf("sensor a interval %s after the set", got)
	}
	r.waitFor("state version 1", func() bool { return r.state().Version == 1 })
	st := r.state()
	if st.Sources["sensor"] != "remote" || st.Sources["mqtt"] != "file" || st.Hash == "" ||
		!strings.Contains(st.Config, `name = "b"`) {
		t.Errorf("state %+v", st)
	}
	// Confirmed (connected, producing): the overlay is what boot loads.
	r.waitFor("confirmed overlay", func() bool {
		_, err := os.Stat(filepath.Join(r.dir, RemoteFile))
		return err == nil
	})
	local, _ := os.ReadFile(r.file)
	if strings.Contains(string(local), `"b"`) {
		t.Error("the local file was changed")
	}
	r.stop()
	cfg, err := LoadEffective(r.file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sensors) != 2 || cfg.remoteVersion != 1 {
		t.Errorf("after reboot: %d sensors, version %d; want 2, 1", len(cfg.Sensors), cfg.remoteVersion)
	}
}

func TestRemoteSetRejected(t *testing.T) {
	r := newRemoteRig(t, "")
	// invalid: positioned errors, the old config keeps running
	res := r.set("version = 1\n\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\ninterval = \"soon\"\n\n[[sensor]]\nname = \"c\"\ndriver = \"nosuch\"\n")
	if res.Status != StatusRejected || !hasErr(res, "sensor[0].interval", 6) || !hasErr(res, "sensor[1].driver", 10) {
		t.Fatalf("invalid set: %+v", res)
	}
	if r.a.Config().Sensors[0].Interval.Duration != 200*time.Millisecond || r.a.RemoteVersion() != 0 {
		t.Error("a rejected set changed the running config")
	}
	before := r.seen("a.value")
	r.waitFor("readings after the rejected set", func() bool { return r.seen("a.value") > before+2 })

	// syntax error: line of the document
	res = r.set("version = 1\n[[sensor]\n")
	if res.Status != StatusRejected || len(res.Errors) != 1 || res.Errors[0].Line < 2 {
		t.Errorf("syntax error: %+v", res)
	}
	// forbidden: [mqtt] is not in the default allow list and the broker is guarded
	res = r.set("version = 1\n[mqtt]\nbroker = \"tcp://10.0.0.1:1883\"\n")
	if res.Status != StatusRejected || !hasErr(res, "mqtt", 2) || !hasErr(res, "mqtt.broker", 3) {
		t.Errorf("forbidden broker: %+v", res)
	}
	// forbidden: exec drivers run programs
	res = r.set("version = 1\n[[sensor]]\nname = \"x\"\ndriver = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"1s\"\n")
	if res.Status != StatusRejected || !hasErr(res, "sensor[0].driver", -1) {
		t.Errorf("forbidden exec: %+v", res)
	}
	// JSON of the same shape is accepted; then its version is a replay
	js := `{"version":5,"sensor":[{"name":"a","driver":"sim","interval":"50ms"}]}`
	if res = r.set(js); res.Status != StatusApplied || res.Version != 5 {
		t.Fatalf("json set: %+v", res)
	}
	if res = r.set(fmt.Sprintf(twoFastSensors, 5)); res.Status != StatusRejected || !hasErr(res, "version", 1) {
		t.Errorf("replayed version: %+v", res)
	}
	if res = r.set(fmt.Sprintf(twoFastSensors, 4)); res.Status != StatusRejected || !hasErr(res, "version", 1) {
		t.Errorf("older version: %+v", res)
	}
	if got := r.a.Config().Sensors; len(got) != 1 || got[0].Interval.Duration != 50*time.Millisecond {
		t.Errorf("after replays: %+v", got)
	}
}

func TestRemoteSignature(t *testing.T) {
	privPEM, pub, err := remote.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := remote.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, _, _ := remote.GenerateKey()
	other, _ := remote.ParsePrivateKey(otherPEM)

	r := newRemoteRig(t, fmt.Sprintf("public_key = %q", pub))
	doc := []byte(fmt.Sprintf(twoFastSensors, 1))
	if res := r.set(string(doc)); res.Status != StatusRejected || !strings.Contains(res.Errors[0].Message, "not signed") {
		t.Errorf("unsigned: %+v", res)
	}
	bad, _ := remote.Sign(other, doc)
	if res := r.set(string(bad)); res.Status != StatusRejected || !strings.Contains(res.Errors[0].Message, "does not verify") {
		t.Errorf("wrong key: %+v", res)
	}
	good, _ := remote.Sign(priv, doc)
	tampered := strings.Replace(string(good), `"doc":"`, `"doc":"I`, 1)
	if res := r.set(tampered); res.Status != StatusRejected {
		t.Errorf("tampered: %+v", res)
	}
	if res := r.set(string(good)); res.Status != StatusApplied {
		t.Errorf("signed: %+v", res)
	}
}

func TestRemoteRollback(t *testing.T) {
	r := newRemoteRig(t, `allow = ["sensor", "stream", "mqtt", "mqtt.broker"]
confirm_timeout = "1s"`)
	good := r.a.Config().MQTT.Broker
	// The "applied" reply may wait for a link the new broker never gives;
	// the rollback then supersedes it.
	res := r.set("version = 3\n[mqtt]\nbroker = \"tcp://127.0.0.1:1\"\nreconnect_min = \"100ms\"\nreconnect_max = \"300ms\"\n")
	if res.Status == StatusRejected {
		t.Fatalf("broker change: %+v", res)
	}
	r.waitFor("rolled_back", func() bool {
		for _, res := range r.allResults() {
			if res.Status == StatusRolledBack && res.Version == 3 {
				return true
			}
		}
		return false
	})
	if got := r.a.Config().MQTT.Broker; got != good {
		t.Errorf("broker after rollback %q, want %q", got, good)
	}
	// "applied" may precede "rolled_back" (it was applied, then rolled
	// back), never follow it.
	rolledBack := false
	for _, res := range r.allResults() {
		if res.Version != 3 {
			continue
		}
		if res.Status == StatusRolledBack {
			rolledBack = true
		} else if res.Status == StatusApplied && rolledBack {
			t.Errorf("\"applied\" came after \"rolled_back\" for version 3: %+v", r.allResults())
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, RemotePendingFile)); err == nil {
		t.Error("the rolled-back overlay is still pending")
	}
	// the version is burned
	if res := r.set("version = 3\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\ninterval = \"1s\"\n"); res.Status != StatusRejected {
		t.Errorf("resent rolled-back version: %+v", res)
	}
	before := r.seen("a.value")
	r.waitFor("data after the rollback", func() bool { return r.seen("a.value") > before })
}

func TestReload(t *testing.T) {
	r := newRemoteRig(t, "")
	good := strings.Replace(localFile(r.dir, r.b.URL(), ""), `interval = "200ms"`, `interval = "30ms"`, 1)
	must(t, os.WriteFile(r.file, []byte(good), 0o600))
	if err := r.a.Reload(); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	if got := r.a.Config().Sensors[0].Interval.Duration; got != 30*time.Millisecond {
		t.Errorf("interval after reload %s", got)
	}
	bad := good + "\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\ninterval = \"-1s\"\n"
	must(t, os.WriteFile(r.file, []byte(bad), 0o600))
	err := r.a.Reload()
	errs, ok := config.AsErrors(err)
	if !ok || len(errs) == 0 || errs[0].Line == 0 || errs[0].File != r.file {
		t.Fatalf("bad reload: %v", err)
	}
	if got := r.a.Config().Sensors; len(got) != 1 || got[0].Interval.Duration != 30*time.Millisecond {
		t.Errorf("bad reload changed the config: %+v", got)
	}
	before := r.seen("a.value")
	r.waitFor("data after the bad reload", func() bool { return r.seen("a.value") > before+2 })
}

func TestCommands(t *testing.T) {
	r := newRemoteRig(t, "")
	cmd := func(name, body string) map[string]any {
		t.Helper()
		n := len(r.cmdReplies(name))
		must(t, r.b.Publish(r.prefix+"/cmd/"+name, []byte(body), false))
		var got map[string]any
		r.waitFor("cmd/"+name+" reply", func() bool {
			rs := r.cmdReplies(name)
			if len(rs) > n {
				return json.Unmarshal(rs[n], &got) == nil
			}
			return false
		})
		return got
	}
	if got := cmd("ping", `{"id":42}`); got["id"] != 42.0 || got["ok"] != true {
		t.Errorf("ping: %v", got)
	}
	got := cmd("read", `{"id":"r1","sensors":["a"]}`)
	res, _ := got["result"].(map[string]any)
	if rd, _ := res["readings"].([]any); got["ok"] != true || len(rd) == 0 {
		t.Errorf("read: %v", got)
	}
	if got := cmd("read", `{"id":"r2","sensors":["nosuch"]}`); got["ok"] != false || !strings.Contains(got["error"].(string), "nosuch") {
		t.Errorf("read unknown sensor: %v", got)
	}
	if got := cmd("buffer", `{"id":1}`); got["ok"] != true || got["result"] == nil {
		t.Errorf("buffer: %v", got)
	}
	if got := cmd("status", `{"id":1}`); got["ok"] != true || got["result"].(map[string]any)["connected"] != true {
		t.Errorf("status: %v", got)
	}
	if got := cmd("flush", `{"id":1}`); got["ok"] != true {
		t.Errorf("flush: %v", got)
	}
	if got := cmd("reboot", `{"id":1}`); got["ok"] != false || !strings.Contains(got["error"].(string), "unknown command") {
		t.Errorf("unknown: %v", got)
	}
	if got := cmd("ping", `{"id":`); got["ok"] != false || got["id"] != nil {
		t.Errorf("malformed: %v", got)
	}
	if got := cmd("ping", `{}`); got["ok"] != false {
		t.Errorf("no id: %v", got)
	}
	// restart: a clean stop of Run
	if got := cmd("restart", `{"id":"bye"}`); got["ok"] != true {
		t.Errorf("restart: %v", got)
	}
	r.waitFor("Run to return after restart", func() bool {
		r.a.applyMu.Lock()
		defer r.a.applyMu.Unlock()
		return r.a.stopped
	})
}
