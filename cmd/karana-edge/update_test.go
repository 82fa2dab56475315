package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/update"
)

// Self-update end to end: real binaries (test builds, -tags
// karana_testhooks, so that a release can be made to misbehave and a step
// of the install can be cut by SIGKILL), a real Mosquitto, and a
// supervisor in place of systemd's Restart=always.

// mosq is a Mosquitto on a free loopback port, logging subscriptions.
type mosq struct {
	t          *testing.T
	bin, conf  string
	addr, port string
	logPath    string
	cmd        *exec.Cmd
}

func startMosq(t *testing.T) *mosq {
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
		t.Skip("mosquitto is not installed (apt-get install -y mosquitto); skipping the self-update tests")
	}
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Skip("mosquitto_pub is not installed (apt-get install -y mosquitto-clients)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	m := &mosq{t: t, bin: bin, addr: addr, port: port, conf: filepath.Join(dir, "mosquitto.conf"), logPath: filepath.Join(dir, "mosquitto.log")}
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest file %s\nlog_type all\n", port, m.logPath)
	if os.Geteuid() == 0 {
		// Else it drops to its own user, which cannot write the test's
		// private temporary directory.
		conf += "user root\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosq) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", m.addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %s", m.addr)
		}
	}
}

func (m *mosq) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

// term stops Mosquitto with SIGTERM, so that its log file is flushed.
func (m *mosq) term() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Signal(syscall.SIGTERM)
		m.cmd.Wait()
		m.cmd = nil
	}
}

// subscribes counts the SUBSCRIBEs Mosquitto logged for topic (after term).
func (m *mosq) subscribes(topic string) int {
	b, _ := os.ReadFile(m.logPath)
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasSuffix(strings.TrimRight(line, "\n"), "\t"+topic+" (QoS 1)") {
			n++
		}
	}
	return n
}

// pub publishes with mosquitto_pub, as an operator would.
func (m *mosq) pub(t *testing.T, topic string, payload []byte, retained bool) {
	t.Helper()
	args := []string{"-h", "127.0.0.1", "-p", m.port, "-q", "1", "-t", topic, "-s"}
	if retained {
		args = append(args, "-r")
	}
	cmd := exec.Command("mosquitto_pub", args...)
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", topic, err, out)
	}
}

// builds: one per (version, behaviour), made once per test binary run;
// different variants build concurrently.
var (
	buildsMu sync.Mutex
	builds   = map[string]*variantBuild{}
	buildDir string
)

type variantBuild struct {
	once sync.Once
	path string
	err  error
}

func buildVariant(t *testing.T, version, behaviour string) string {
	t.Helper()
	p, err := buildVariantErr(version, behaviour)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func buildVariantErr(version, behaviour string) (string, error) {
	key := version + "-" + behaviour
	buildsMu.Lock()
	if buildDir == "" {
		d, err := os.MkdirTemp("", "karana-edge-update-bins-")
		if err != nil {
			buildsMu.Unlock()
			return "", err
		}
		buildDir = d
	}
	vb := builds[key]
	if vb == nil {
		vb = &variantBuild{}
		builds[key] = vb
	}
	buildsMu.Unlock()
	vb.once.Do(func() {
		out := filepath.Join(buildDir, "karana-edge-"+key)
		// Stripped like a release: smaller, so releases and installs go faster.
		ld := "-s -w -X main.version=" + version + " -X main.testBehaviour=" + behaviour
		if b, err := exec.Command("go", "build", "-trimpath", "-tags", "karana_testhooks", "-ldflags", ld, "-o", out, ".").CombinedOutput(); err != nil {
			vb.err = fmt.Errorf("go build %s: %v\n%s", key, err, b)
			return
		}
		vb.path = out
	})
	return vb.path, vb.err
}

// sharedTempDirs are the directories made for the whole package run.
func sharedTempDirs() []string {
	buildsMu.Lock()
	defer buildsMu.Unlock()
	dirs := []string{buildDir, multiDir}
	if binPath != "" {
		dirs = append(dirs, filepath.Dir(binPath)) // crash_test.go's build
	}
	var out []string
	for _, d := range dirs {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// prebuild builds variants concurrently.
func prebuild(t *testing.T, variants ...[2]string) {
	t.Helper()
	errs := make([]error, len(variants))
	var wg sync.WaitGroup
	for i, v := range variants {
		wg.Go(func() { _, errs[i] = buildVariantErr(v[0], v[1]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// release runs `karana-edge release` (the real CLI) and returns its
// directory.
func release(t *testing.T, tool, keyFile, version, bin, base string, chunk int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rel-"+version)
	args := []string{"release", "-key", keyFile, "-version", version, "-chunk", fmt.Sprint(chunk), "-fast", "-out", dir}
	if base != "" {
		args = append(args, "-base", base)
	}
	out, err := exec.Command(tool, append(args, bin)...).CombinedOutput()
	if err != nil {
		t.Fatalf("release %s: %v\n%s", version, err, out)
	}
	t.Logf("release %s:\n%s", version, out)
	return dir
}

// publishRelease publishes a release directory with its publish.sh.
func (m *mosq) publishRelease(t *testing.T, dir string, what ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "publish.sh"), what...)
	cmd.Env = append(os.Environ(), "MQTT_PUB=mosquitto_pub -h 127.0.0.1 -p "+m.port)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("publish.sh %v: %v\n%s", what, err, out)
	}
}

// sbox is a box under a supervisor that restarts it like systemd's
// Restart=always (100 ms instead of 15 s).
type sbox struct {
	t       *testing.T
	dir     string
	bin     string // the packaged binary: what systemd starts
	cfg     string
	log     *os.File
	extra   func(start int) []string // environment per start
	mu      sync.Mutex
	cmd     *exec.Cmd
	stopped bool
	starts  int
	done    chan struct{}
}

const updateConfig = `
[device]
id = %q
data_dir = %q
[buffer]
commit_interval = "100ms"
[mqtt]
broker = "tcp://%s"
reconnect_min = "100ms"
reconnect_max = "300ms"
[update]
enabled = true
public_key = %q
confirm_timeout = "4s"
max_trial_starts = 2
[[sensor]]
name = "a"
driver = "sim"
waveform = "counter"
interval = "50ms"
[[stream]]
name = "raw"
period = "200ms"
`

func newSBox(t *testing.T, id, pkgBin, broker string, pub ed25519.PublicKey) *sbox {
	t.Helper()
	dir := t.TempDir()
	b := &sbox{t: t, dir: dir, done: make(chan struct{})}
	// The packaged binary lives in its own directory, like /usr/bin.
	b.bin = filepath.Join(dir, "usr-bin", "karana-edge")
	os.MkdirAll(filepath.Dir(b.bin), 0o755)
	data, err := os.ReadFile(pkgBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	b.cfg = filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(updateConfig, id, filepath.Join(dir, "data"), broker, base64.StdEncoding.EncodeToString(pub))
	if err := os.WriteFile(b.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if b.log, err = os.Create(filepath.Join(dir, "box.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			out, _ := os.ReadFile(b.log.Name())
			t.Logf("box log:\n%s", out)
		}
	})
	return b
}

func (b *sbox) run() {
	go func() {
		defer close(b.done)
		for {
			b.mu.Lock()
			if b.stopped {
				b.mu.Unlock()
				return
			}
			b.starts++
			n := b.starts
			cmd := exec.Command(b.bin, "run", "-config", b.cfg)
			cmd.Env = os.Environ()
			if b.extra != nil {
				cmd.Env = append(cmd.Env, b.extra(n)...)
			}
			cmd.Stdout, cmd.Stderr = b.log, b.log
			err := cmd.Start()
			b.cmd = cmd
			b.mu.Unlock()
			if err != nil {
				b.t.Errorf("start: %v", err)
				return
			}
			err = cmd.Wait()
			fmt.Fprintf(b.log, "=== supervisor: start %d ended: %v\n", n, err)
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// startCount is how many times the supervisor started the box.
func (b *sbox) startCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.starts
}

// kill sends sig to the running process.
func (b *sbox) kill(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(sig)
	}
}

func (b *sbox) stop() {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(syscall.SIGTERM)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		b.kill(syscall.SIGKILL)
		<-b.done
	}
}

// watcher follows the box's update/state and data batches.
type watcher struct {
	mu    sync.Mutex
	state update.StateDoc
	seen  int
	got   *received
}

func watch(t *testing.T, broker, id string) *watcher {
	t.Helper()
	w := &watcher{got: &received{seqs: map[uint64]int{}}}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano()))
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	c.Subscribe("karana/"+id+"/update/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var st update.StateDoc
		if json.Unmarshal(m.Payload(), &st) == nil {
			w.mu.Lock()
			w.state = st
			w.seen++
			w.mu.Unlock()
		}
	}).WaitTimeout(5 * time.Second)
	c.Subscribe("karana/"+id+"/data/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		w.got.onMessage(m.Topic(), m.Payload())
	}).WaitTimeout(5 * time.Second)
	return w
}

// wait polls the state until ok holds.
func (w *watcher) wait(t *testing.T, what string, timeout time.Duration, ok func(update.StateDoc) bool) update.StateDoc {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		st := w.state
		w.mu.Unlock()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(st)
			t.Fatalf("%s: not reached within %s; last update/state %s", what, timeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastIs(version, result, reason string) func(update.StateDoc) bool {
	return func(st update.StateDoc) bool {
		return st.Last != nil && st.Last.Version == version && st.Last.Result == result && strings.Contains(st.Last.Reason, reason)
	}
}

func genKey(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	f, pub, err := genKeyFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f, pub
}

// genKeyFiles writes a new operator key into dir.
func genKeyFiles(dir string) (string, ed25519.PublicKey, error) {
	priv, pubB64, err := remote.GenerateKey()
	if err != nil {
		return "", nil, err
	}
	f := filepath.Join(dir, "op.key")
	if err := os.WriteFile(f, priv, 0o600); err != nil {
		return "", nil, err
	}
	pub, _ := base64.StdEncoding.DecodeString(pubB64)
	return f, ed25519.PublicKey(pub), nil
}

// pubKeyOf is the public half of the key in keyFile.
func pubKeyOf(t *testing.T, keyFile string) ed25519.PublicKey {
	t.Helper()
	k, err := remote.ParsePrivateKey(readFile(t, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().(ed25519.PublicKey)
}

// binDirEmpty reports whether no update binary is installed.
func (b *sbox) binaries() []string {
	ents, _ := os.ReadDir(filepath.Join(b.dir, "data", "update", "bin"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkSeqs stops the box and checks that every committed reading reached
// the broker: seq continuous over every switch of binary, nothing dropped.
func (b *sbox) checkSeqs(t *testing.T, w *watcher) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond) // a few batches after the last switch
	b.stop()
	ring, err := buffer.OpenReadOnly(filepath.Join(b.dir, "data", "buffer.db"), 2*time.Second)
	if err != nil {
		t.Fatalf("buffer does not reopen: %v", err)
	}
	st, err := ring.Stats()
	ring.Close()
	if err != nil {
		t.Fatal(err)
	}
	w.got.mu.Lock()
	defer w.got.mu.Unlock()
	cursor := st.Cursors["raw"]
	if cursor < 20 {
		t.Fatalf("only %d readings delivered; the test proves nothing", cursor)
	}
	var missing []uint64
	for s := uint64(1); s <= cursor; s++ {
		if w.got.seqs[s] == 0 {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 || w.got.dropped != 0 || st.DroppedTotal != 0 {
		t.Errorf("%d readings up to the cursor %d never reached the broker (first %v); dropped announced %d, buffer dropped %d",
			len(missing), cursor, missing[:min(10, len(missing))], w.got.dropped, st.DroppedTotal)
	}
	t.Logf("seq 1..%d all delivered across %d starts (last committed %d)", cursor, b.startCount(), st.LastSeq)
}
