package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
)

func setDoc(v int64) []byte {
	return fmt.Appendf(nil, "version = %d\n[[stream]]\nname = \"raw\"\nperiod = \"150ms\"\n", v)
}

// TestRemoteVersionBounds: a version that would use up the range is
// refused, naming the key and the limit; the box keeps taking documents.
func TestRemoteVersionBounds(t *testing.T) {
	a := idleAgent(t)
	ctx := context.Background()
	for _, v := range []int64{1<<63 - 1, remote.MaxVersion + 1, remote.MaxVersionStep + 1} {
		res := a.handleSet(ctx, setDoc(v))
		if res.Status != StatusRejected || !hasErr(res, "version", 1) {
			t.Errorf("version %d: %+v, want rejected at version, line 1", v, res)
		}
	}
	if a.RemoteVersion() != 0 {
		t.Errorf("refused versions moved the current version to %d", a.RemoteVersion())
	}
	if res := a.handleSet(ctx, setDoc(2026112101)); res.Status != StatusApplied { // YYYYMMDDnn from 0
		t.Errorf("a YYYYMMDDnn version: %+v", res)
	}
	if res := a.handleSet(ctx, setDoc(20261121010)); res.Status != StatusRejected || !strings.Contains(res.Errors[0].Message, "step limit") {
		t.Errorf("a digit too many: %+v", res)
	}
}

// TestVersionReset: a box whose remote version was poisoned (2^63-1, from
// before versions were bounded) is taken back by the local file:
// [remote] version_reset forgets the overlay and the version, once.
func TestVersionReset(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	write := func(remoteKeys string) {
		must(t, os.WriteFile(file, []byte(localFile(dir, "tcp://127.0.0.1:1", remoteKeys)), 0o600))
	}
	write("")
	must(t, os.WriteFile(filepath.Join(dir, RemoteVersionFile), []byte("9223372036854775807\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, RemoteFile), []byte("version = 9007199254740992\n[[stream]]\nname = \"poison\"\n"), 0o600))
	cfg, err := LoadEffective(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.remoteVersion != 1<<63-1 || cfg.Streams[0].Name != "poison" {
		t.Fatalf("poisoned box: version %d, stream %q", cfg.remoteVersion, cfg.Streams[0].Name)
	}

	write("version_reset = 0")
	cfg, err = LoadEffective(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.remoteVersion != 0 || cfg.Streams[0].Name != "raw" {
		t.Errorf("after version_reset = 0: version %d, stream %q; want 0 and the local file's", cfg.remoteVersion, cfg.Streams[0].Name)
	}
	if _, err := os.Stat(filepath.Join(dir, RemoteFile)); err == nil {
		t.Error("the poisoned overlay is still there")
	}
	a, err := New(cfg, Info{Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := a.handleSet(context.Background(), setDoc(1)); res.Status != StatusApplied {
		t.Errorf("version 1 after the reset: %+v", res)
	}
	a.stopConfirm()
	a.ring.Close()

	// the next start keeps the version taken since: the reset was once
	cfg, err = LoadEffective(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.remoteVersion != 1 {
		t.Errorf("restart with the same version_reset: version %d, want 1 (no second reset)", cfg.remoteVersion)
	}
	// a new value resets again
	write("version_reset = 100")
	if cfg, err = LoadEffective(file, nil); err != nil || cfg.remoteVersion != 100 {
		t.Errorf("version_reset = 100: version %d, %v", cfg.remoteVersion, err)
	}
}

// TestVersionResetReload: SIGHUP honours version_reset on a running box,
// and a remote document may not set it.
func TestVersionResetReload(t *testing.T) {
	r := newRemoteRig(t, `allow = ["sensor", "stream", "remote"]`)
	res := r.set("version = 1\n[remote]\nenabled = true\nallow = [\"sensor\", \"stream\", \"remote\"]\nversion_reset = 0\n")
	if res.Status != StatusRejected || !hasErr(res, "remote.version_reset", -1) {
		t.Errorf("a remote document setting version_reset: %+v, want rejected at remote.version_reset", res)
	}
	// poisoned, as a box that took 2^63-1 before versions were bounded
	r.a.remote.mu.Lock()
	r.a.remote.version = 1<<63 - 1
	r.a.remote.mu.Unlock()
	if res := r.set(string(setDoc(5))); res.Status != StatusRejected {
		t.Fatalf("version 5 on a poisoned box: %+v", res)
	}
	local := strings.Replace(localFile(r.dir, r.b.URL(), `allow = ["sensor", "stream", "remote"]`), "[remote]\n", "[remote]\nversion_reset = 4\n", 1)
	must(t, os.WriteFile(r.file, []byte(local), 0o600))
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if v := r.a.RemoteVersion(); v != 4 {
		t.Errorf("version after the reset reload: %d, want 4", v)
	}
	if res := r.set(string(setDoc(5))); res.Status != StatusApplied {
		t.Errorf("version 5 after the reset: %+v", res)
	}
}

// TestRemoteSetHostileBounded: the whole path (size, depth, decode, key
// location, merge, validation) stays bounded on the hostile documents:
// each is refused naming what it broke, for a bounded amount of memory.
// (The 240 KB one cost 21 GB and 110 s of CPU.) The worst documents that
// pass the depth check are timed by BenchmarkRemoteSetWorst.
func TestRemoteSetHostileBounded(t *testing.T) {
	a := idleAgent(t)
	ctx := context.Background()
	for i, doc := range hostileDocs() {
		var res SetResult
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res = a.handleSet(ctx, []byte(doc))
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("hostile %d (%d bytes): %d bytes allocated: %+v", i, len(doc), alloc, res.Errors)
		if res.Status != StatusRejected || len(res.Errors) == 0 {
			t.Errorf("hostile %d: %+v", i, res)
		}
		if msg := res.Errors[0].Message; !strings.Contains(msg, "limit") {
			t.Errorf("hostile %d: %q names no limit", i, msg)
		}
		if alloc > 16<<20 {
			t.Errorf("hostile %d: %d bytes allocated", i, alloc)
		}
	}
}

// worstDocs fill the size limit with what passes the depth check and
// costs the decoder most: inline tables and dotted keys at the depth
// limit, and a flat document of keys.
func worstDocs() map[string][]byte {
	fill := func(unit func(i int) string) []byte {
		var b strings.Builder
		b.WriteString("version = 1\n[[stream]]\nname = \"raw\"\n")
		for i := 0; ; i++ {
			u := unit(i)
			if b.Len()+len(u) > remote.MaxDocument {
				return []byte(b.String())
			}
			b.WriteString(u)
		}
	}
	d := config.MaxDepth - 3 // stream, [0], x<i>
	return map[string][]byte{
		"inline tables": fill(func(i int) string {
			return fmt.Sprintf("x%d = %s1%s\n", i, strings.Repeat("{a=", d), strings.Repeat("}", d))
		}),
		"dotted keys": fill(func(i int) string { return fmt.Sprintf("x%d.%sb = 1\n", i, strings.Repeat("a.", d-1)) }),
		"flat keys":   fill(func(i int) string { return fmt.Sprintf("x%d = 1\n", i) }),
		"arrays": fill(func(i int) string {
			return fmt.Sprintf("x%d = %s%s\n", i, strings.Repeat("[", d), strings.Repeat("]", d))
		}),
	}
}

// BenchmarkRemoteSetWorst times config/set handling of the most expensive
// documents the limits let through (each is rejected, for its unknown keys).
func BenchmarkRemoteSetWorst(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(localFile(dir, "tcp://127.0.0.1:1", "")), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := LoadEffective(file, nil)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(cfg, Info{Version: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer a.ring.Close()
	for name, doc := range worstDocs() {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if res := a.handleSet(context.Background(), doc); res.Status != StatusRejected {
					b.Fatalf("%+v", res)
				}
			}
		})
	}
}
