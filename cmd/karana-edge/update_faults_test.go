package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/update"
)

// A release with a full payload only (a box that runs no base it knows),
// tens of chunks, built once for the resume and SIGKILL tests.
var (
	multiOnce sync.Once
	multiRel  string
	multiV1   string
	multiKey  string
	multiDir  string
)

func multiChunkRelease(t *testing.T) (rel, v1, keyFile string) {
	t.Helper()
	multiOnce.Do(func() {
		multiV1 = buildVariant(t, "v1.0.0", "")
		v2 := buildVariant(t, "v2.2.0", "")
		dir, err := os.MkdirTemp("", "karana-edge-update-rel-")
		if err != nil {
			t.Fatal(err)
		}
		buildsMu.Lock()
		multiDir = dir
		buildsMu.Unlock()
		priv, _, err := genKeyFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		multiKey = priv
		out := filepath.Join(dir, "rel")
		b, err := exec.Command(multiV1, "release", "-key", priv, "-version", "v2.2.0", "-chunk", "131072", "-fast", "-out", out, v2).CombinedOutput()
		if err != nil {
			t.Fatalf("release: %v\n%s", err, b)
		}
		multiRel = out
	})
	if multiRel == "" {
		t.Fatal("the multi-chunk release was not built")
	}
	return multiRel, multiV1, multiKey
}

// chunkLines are the release's "topic file" lines of payload i.
func chunkLines(t *testing.T, rel string, i int) [][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rel, "chunks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for line := range strings.Lines(string(b)) {
		topic, file, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(file, fmt.Sprintf("chunks/%d/", i)) {
			out = append(out, [2]string{topic, file})
		}
	}
	return out
}

func (m *mosq) pubChunks(t *testing.T, rel string, lines [][2]string) {
	t.Helper()
	for _, l := range lines {
		data, err := os.ReadFile(filepath.Join(rel, l[1]))
		if err != nil {
			t.Fatal(err)
		}
		m.pub(t, l[0], data, true)
	}
}

// verified reads the box's download progress file (-1: none).
func (b *sbox) verified() int {
	raw, err := os.ReadFile(filepath.Join(b.dir, "data", update.Dir, update.DownloadProg))
	if err != nil {
		return -1
	}
	var p struct{ Verified int }
	if json.Unmarshal(raw, &p) != nil {
		return -1
	}
	return p.Verified
}

// TestUpdateResumeAfterLinkCut: half the chunks are on the broker; the box
// fetches them, then the broker dies (a link cut) and comes back with
// every chunk. The box goes on from the first chunk it had not verified:
// the new broker never sees a subscription to an earlier one.
func TestUpdateResumeAfterLinkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	t.Parallel()
	m := startMosq(t)
	rel, v1, keyFile := multiChunkRelease(t)
	pub := pubKeyOf(t, keyFile)
	delta := chunkLines(t, rel, 0)
	if len(delta) < 8 {
		t.Fatalf("the payload has %d chunks; the test needs several", len(delta))
	}
	half := len(delta) / 2

	w := watch(t, m.addr, "rbox")
	b := newSBox(t, "rbox", v1, m.addr, pub)
	b.run()
	w.wait(t, "box online", 20*time.Second, func(s update.StateDoc) bool { return s.Running == "v1.0.0" })
	m.pubChunks(t, rel, delta[:half])
	m.pub(t, "karana/rbox/update/doc", readFile(t, filepath.Join(rel, "doc.json")), true)
	for deadline := time.Now().Add(20 * time.Second); b.verified() < half; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the box verified %d of the %d chunks published", b.verified(), half)
		}
	}
	if got := b.verified(); got != half {
		t.Fatalf("verified %d chunks, only %d were published", got, half)
	}

	// The link is cut: a new broker process, with a fresh log.
	m.stop()
	first := m.logPath
	m.logPath = filepath.Join(filepath.Dir(first), "mosquitto-2.log")
	conf := readFile(t, m.conf)
	os.WriteFile(m.conf, []byte(strings.Replace(string(conf), first, m.logPath, 1)), 0o644)
	m.start()
	w2 := watch(t, m.addr, "rbox")
	m.pubChunks(t, rel, delta)
	m.pub(t, "karana/rbox/update/doc", readFile(t, filepath.Join(rel, "doc.json")), true)
	st := w2.wait(t, "v2.2.0 applied after the cut", 30*time.Second, func(s update.StateDoc) bool {
		return s.Running == "v2.2.0" && lastIs("v2.2.0", update.Applied, "")(s)
	})
	b.stop()
	m.term()
	for i, l := range delta {
		n := m.subscribes(l[0])
		switch {
		case i < half && n != 0:
			t.Errorf("chunk %d was verified before the cut but fetched again %d times", i, n)
		case i >= half && n == 0:
			t.Errorf("chunk %d never fetched after the cut", i)
		}
	}
	once := releaseWire(t, rel, 0)
	if st.BytesTransferred < once || st.BytesTransferred > once+once/10 {
		t.Errorf("bytes_transferred %d; fetching each chunk once costs %d", st.BytesTransferred, once)
	}
	t.Logf("%d chunks, cut after %d; %d bytes on the wire (each chunk once: %d)", len(delta), half, st.BytesTransferred, once)
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUpdateSIGKILL cuts the power (SIGKILL) at each step of an install:
// mid-download, mid-write of the binary, right after its rename, after the
// trial is recorded, and during the trial just before it confirms. Each
// time the supervisor starts the box again, which must come back on a
// working binary and end on v2.2.0 with every reading delivered.
func TestUpdateSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	t.Parallel()
	m := startMosq(t)
	rel, v1, keyFile := multiChunkRelease(t)
	pub := pubKeyOf(t, keyFile)
	m.publishRelease(t, rel, "chunks")
	for i, step := range []string{"chunk:3", "write", "rename", "installed", "confirm"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("kbox%d", i)
			w := watch(t, m.addr, id)
			b := newSBox(t, id, v1, m.addr, pub)
			// Only the first start (and what it execs) carries the fault.
			b.extra = func(start int) []string {
				if start == 1 {
					return []string{agent.FaultEnv + "=" + step}
				}
				return nil
			}
			b.run()
			w.wait(t, "box online", 20*time.Second, func(s update.StateDoc) bool { return s.Running == "v1.0.0" })
			m.publishRelease(t, rel, "doc", "karana/"+id)
			w.wait(t, "v2.2.0 applied", 40*time.Second, func(s update.StateDoc) bool {
				return s.Running == "v2.2.0" && s.From == "update" && lastIs("v2.2.0", update.Applied, "")(s)
			})
			log := string(readFile(t, b.log.Name()))
			if !strings.Contains(log, "TEST FAULT: SIGKILL at "+step) {
				t.Fatalf("the fault %s never fired", step)
			}
			if n := b.startCount(); n < 2 {
				t.Errorf("%d starts: the SIGKILL did not restart the box", n)
			}
			b.checkSeqs(t, w)
		})
	}
}
