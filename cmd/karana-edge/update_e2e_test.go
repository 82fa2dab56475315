package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/update"
)

// resign returns the release's document changed by edit and signed with
// the key in keyFile.
func resign(t *testing.T, relDir, keyFile string, edit func(*update.Document)) []byte {
	t.Helper()
	env, err := os.ReadFile(filepath.Join(relDir, "doc.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := remote.Open(bytes.TrimSpace(env), nil)
	if err != nil {
		t.Fatal(err)
	}
	var d update.Document
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	edit(&d)
	pem, _ := os.ReadFile(keyFile)
	key, err := remote.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	out, err := update.Sign(key, &d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpdateEndToEnd: a box on v1.0.0 refuses bad documents, rolls back
// three bad releases, then runs v2.1.0; no reading is lost across the
// switches.
func TestUpdateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs several binaries")
	}
	t.Parallel()
	m := startMosq(t)
	keyFile, pub := genKey(t)
	otherKey, _ := genKey(t)
	prebuild(t, [2]string{"v1.0.0", ""}, [2]string{"v2.1.0", ""}, [2]string{"v2.0.9", ""},
		[2]string{"v2.0.1", "exit"}, [2]string{"v2.0.2", "hang"}, [2]string{"v2.0.3", "noconnect"}, [2]string{"v3.0.0", ""})
	v1 := buildVariant(t, "v1.0.0", "")
	v2 := buildVariant(t, "v2.1.0", "")
	good := release(t, v1, keyFile, "v2.1.0", v2, v1, 16<<10)

	w := watch(t, m.addr, "ubox")
	b := newSBox(t, "ubox", v1, m.addr, pub)
	b.run()
	w.wait(t, "box v1 online", 20*time.Second, func(s update.StateDoc) bool { return s.Running == "v1.0.0" })

	// Refusals: nothing downloaded, nothing installed.
	docTopic := "karana/ubox/update/doc"
	m.pub(t, docTopic, resign(t, good, otherKey, func(*update.Document) {}), true)
	w.wait(t, "bad signature rejected", 10*time.Second, lastIs("", update.Rejected, "signature does not verify"))
	m.pub(t, docTopic, resign(t, good, keyFile, func(d *update.Document) { d.Target = update.Target{GOOS: "linux", GOARCH: "arm", GOARM: "6"} }), true)
	w.wait(t, "wrong target rejected", 10*time.Second, lastIs("v2.1.0", update.Rejected, "is for linux/armv6"))
	m.pub(t, docTopic, resign(t, good, keyFile, func(d *update.Document) { d.Version = "v0.9.0" }), true)
	w.wait(t, "lower version rejected", 10*time.Second, lastIs("v0.9.0", update.Rejected, "not above the running v1.0.0"))

	// A tampered chunk: the broker holds other bytes than the document.
	v209 := buildVariant(t, "v2.0.9", "")
	tampered := release(t, v1, keyFile, "v2.0.9", v209, "", 16<<10)
	m.publishRelease(t, tampered, "chunks")
	m.pub(t, "karana/updates/v2.0.9/"+targetDir()+"/full/1", []byte("not the chunk the document names"), true)
	m.publishRelease(t, tampered, "doc", "karana/ubox")
	w.wait(t, "tampered chunk rejected", 20*time.Second, lastIs("v2.0.9", update.Rejected, "chunk 1"))
	if bins := b.binaries(); len(bins) != 0 {
		t.Errorf("refused documents left binaries installed: %v", bins)
	}

	// Three bad releases, each rolled back to v1.0.0.
	bad := []struct{ version, behaviour, reason string }{
		{"v2.0.1", "exit", "started 2 times without confirming"},
		{"v2.0.2", "hang", "not healthy within confirm_timeout 4s"},
		{"v2.0.3", "noconnect", "not healthy within confirm_timeout 4s"},
	}
	for _, c := range bad {
		rel := release(t, v1, keyFile, c.version, buildVariant(t, c.version, c.behaviour), v1, 16<<10)
		m.publishRelease(t, rel, "chunks")
		start := time.Now()
		m.publishRelease(t, rel, "doc", "karana/ubox")
		// The stated time: confirm_timeout (4 s) and the guard's 10 s grace
		// after its SIGTERM, plus a download and two restarts; the bound is
		// a failure guard, the log line gives the time taken.
		st := w.wait(t, c.behaviour+" rolled back", 25*time.Second, func(s update.StateDoc) bool {
			return lastIs(c.version, update.RolledBack, c.reason)(s) && s.Running == "v1.0.0"
		})
		t.Logf("%s (%s): rolled back after %s: %s", c.version, c.behaviour, time.Since(start).Round(100*time.Millisecond), st.Last.Reason)
		if st.From != "package" || st.Trial != "" {
			t.Errorf("after the rollback of %s: from %q trial %q, want the package and no trial", c.version, st.From, st.Trial)
		}
	}

	// The good release: delta against v1.0.0.
	m.publishRelease(t, good, "chunks")
	m.publishRelease(t, good, "doc", "karana/ubox")
	st := w.wait(t, "v2.1.0 confirmed", 30*time.Second, func(s update.StateDoc) bool {
		return s.Running == "v2.1.0" && lastIs("v2.1.0", update.Applied, "")(s)
	})
	if st.From != "update" || st.BytesTransferred <= 0 {
		t.Errorf("v2.1.0 state: from %q, bytes %d", st.From, st.BytesTransferred)
	}
	want := releaseWire(t, good, 1) // the delta
	if st.BytesTransferred != want {
		t.Errorf("bytes_transferred %d, want %d (the delta's chunks, each fetched once)", st.BytesTransferred, want)
	}
	t.Logf("v2.1.0 applied: %d bytes on the wire (%d for the full payload)", st.BytesTransferred, releaseWire(t, good, 0))

	cmd := exec.Command(b.bin, "version")
	cmd.Env = append(os.Environ(), "KARANA_EDGE_CONFIG="+b.cfg)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "self-update: v2.1.0") || !strings.Contains(string(out), "karana-edge v1.0.0") {
		t.Errorf("version: %v\n%s", err, out)
	}

	// The same document again (retained, seen at each reconnect) changes
	// nothing.
	b.kill(syscall.SIGTERM)
	w.wait(t, "v2.1.0 after a restart", 20*time.Second, func(s update.StateDoc) bool { return s.Running == "v2.1.0" && s.From == "update" })

	// A dpkg upgrade to v3.0.0 (new file renamed over the old, then the
	// postinst's restart) wins over the self-update.
	pkg := readFile(t, buildVariant(t, "v3.0.0", ""))
	tmp := b.bin + ".dpkg-new"
	if err := os.WriteFile(tmp, pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, b.bin); err != nil {
		t.Fatal(err)
	}
	b.kill(syscall.SIGTERM)
	w.wait(t, "the package v3.0.0 runs", 20*time.Second, func(s update.StateDoc) bool { return s.Running == "v3.0.0" && s.From == "package" })
	if bins := b.binaries(); len(bins) != 0 {
		t.Errorf("the self-update was not forgotten after the package took over: %v", bins)
	}
	b.checkSeqs(t, w)
}

func targetDir() string {
	t := update.Running()
	return t.GOOS + "-" + t.GOARCH + t.GOARM
}

// releaseWire is what fetching payload i of a release costs on the wire,
// from its chunk files.
func releaseWire(t *testing.T, dir string, i int) int64 {
	t.Helper()
	list, err := os.ReadFile(filepath.Join(dir, "chunks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	prefix := filepath.Join("chunks", string(rune('0'+i))) + "/"
	for line := range strings.Lines(string(list)) {
		topic, file, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(file, prefix) {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		n += update.ChunkWire(topic, int(fi.Size()))
	}
	return n
}
