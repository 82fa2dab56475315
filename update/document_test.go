package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestVersionOrder(t *testing.T) {
	// git describe's shapes, in ascending order.
	order := []string{"v0.9.9", "v1.0.0", "1.0.0-1-gabc1234", "v1.0.0-12-gdeadbee-dirty", "v1.0.1", "v1.2.0", "v10.0.0"}
	for i := range order {
		for j := range order {
			if got, want := Newer(order[i], order[j]), i > j; got != want {
				t.Errorf("Newer(%q, %q) = %v, want %v", order[i], order[j], got, want)
			}
		}
	}
	// A development build is below every release, and never above one.
	for _, dev := range []string{"dev", "bf30ecb", ""} {
		if !Newer("v0.0.1", dev) || Newer(dev, "v0.0.1") {
			t.Errorf("dev build %q must be below v0.0.1", dev)
		}
	}
	for _, bad := range []string{"v1.0", "v1.0.0-rc1", "1.x.0", "v1.0.0-3"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

// TestTargetOfMatchesBuildinfo checks the small build-info reader against
// the standard library's debug/buildinfo on this test binary.
func TestTargetOfMatchesBuildinfo(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range bi.Settings {
		want[s.Key] = s.Value
	}
	got, err := TargetOf(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got.GOOS != want["GOOS"] || got.GOARCH != want["GOARCH"] || got.GOARM != want["GOARM"] {
		t.Errorf("TargetOf = %+v, debug/buildinfo says GOOS=%s GOARCH=%s GOARM=%s", got, want["GOOS"], want["GOARCH"], want["GOARM"])
	}
	if _, err := TargetOf([]byte("#!/bin/sh\necho hi\n")); err == nil {
		t.Error("a shell script was taken for a Go binary")
	}
}

// fakeBinary is this test binary with a version string appended: a real
// Go binary (build info included) that release accepts.
func fakeBinary(t *testing.T, version string) []byte {
	t.Helper()
	exe, _ := os.Executable()
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return append(bin, []byte("\x00version="+version+"\x00")...)
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestReleaseSignOpenAccept(t *testing.T) {
	pub, priv := newKey(t)
	old := fakeBinary(t, "v1.0.0")
	bin := fakeBinary(t, "v1.1.0")
	rel, err := NewRelease(bin, ReleaseOptions{Version: "v1.1.0", ChunkSize: 64 << 10, Bases: [][]byte{old}, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	d := &rel.Doc
	sum := sha256.Sum256(bin)
	if d.Size != int64(len(bin)) || d.SHA256 != hexSum(sum) {
		t.Fatalf("document size/sha %d %s, binary %d %x", d.Size, d.SHA256, len(bin), sum)
	}
	if len(d.Payloads) != 2 || d.Payloads[1].Encoding != EncZstdDelta || d.Payloads[1].Size >= d.Payloads[0].Size {
		t.Fatalf("want a full payload and a smaller delta, got %+v", d.Payloads)
	}
	checkPayloads(t, rel, bin, old)

	env, err := Sign(priv, d)
	if err != nil {
		t.Fatal(err)
	}
	checkAccept(t, env, pub, d)
}

// checkPayloads: each chunk hash is the SHA-256 of the chunk bytes, and
// each payload gives the binary back.
func checkPayloads(t *testing.T, rel *Release, bin, old []byte) {
	t.Helper()
	d := &rel.Doc
	for i, p := range d.Payloads {
		joined := bytes.Join(rel.Chunks[i], nil)
		if int64(len(joined)) != p.Size {
			t.Errorf("payload %d: chunks hold %d bytes, document says %d", i, len(joined), p.Size)
		}
		for j, c := range rel.Chunks[i] {
			if hexSum(sha256.Sum256(c)) != p.Chunks[j] || len(c) != p.ChunkLen(j) {
				t.Errorf("payload %d chunk %d: hash or length differs from the document", i, j)
			}
		}
		var base []byte
		if p.Encoding == EncZstdDelta {
			base = old
		}
		got, err := DecompressBytes(&p, joined, base, d.Size, d.SHA256)
		if err != nil || !bytes.Equal(got, bin) {
			t.Errorf("payload %d does not give the binary back: %v", i, err)
		}
	}
	// A delta applied to another base is refused before decoding.
	if _, err := DecompressBytes(&d.Payloads[1], bytes.Join(rel.Chunks[1], nil), bin, d.Size, d.SHA256); err == nil {
		t.Error("delta decoded against the wrong base")
	}

}

// checkAccept: what a box accepts of the signed document env.
func checkAccept(t *testing.T, env []byte, pub ed25519.PublicKey, d *Document) {
	t.Helper()
	got, err := Open(env, pub)
	if err != nil {
		t.Fatal(err)
	}
	box := Box{Target: d.Target, Version: "v1.0.0"}
	if err := box.Accept(got); err != nil {
		t.Errorf("box v1.0.0 refused v1.1.0: %v", err)
	}
	if p := got.Choose(d.Payloads[1].Base); p.Encoding != EncZstdDelta {
		t.Errorf("a box running the base chose %s", p.Encoding)
	}
	if p := got.Choose(hexSum(sha256.Sum256([]byte("other")))); p.Encoding != EncZstd {
		t.Errorf("a box running another build chose %s", p.Encoding)
	}

	cases := []struct {
		name string
		box  Box
		want string
	}{
		{"lower version", Box{Target: d.Target, Version: "v1.2.0"}, "not above"},
		{"same version", Box{Target: d.Target, Version: "v1.1.0"}, "the one running"},
		{"wrong target", Box{Target: Target{GOOS: "linux", GOARCH: "arm", GOARM: "6"}, Version: "v1.0.0"}, "is for"},
	}
	for _, c := range cases {
		err := c.box.Accept(got)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Accept = %v, want an error with %q", c.name, err, c.want)
		}
	}
	if err := (Box{Target: d.Target, Version: "v1.2.0", AllowDowngrade: true}).Accept(got); err != nil {
		t.Errorf("allow_downgrade: %v", err)
	}

	other, _ := newKey(t)
	if _, err := Open(env, other); err == nil {
		t.Error("a document signed by another key was accepted")
	}
	tampered := bytes.Replace(env, []byte(`"sig":"`), []byte(`"sig":"AAAA`), 1)
	if _, err := Open(tampered, pub); err == nil {
		t.Error("a tampered signature was accepted")
	}
	if _, err := Open(env, nil); err == nil {
		t.Error("a document was accepted with no key configured")
	}
	if _, err := Open([]byte(`{"kind":"karana-edge-update"}`), pub); err == nil {
		t.Error("an unsigned document was accepted")
	}
}

func TestReleaseRefusesUnstampedBinary(t *testing.T) {
	bin := fakeBinary(t, "v1.0.0")
	v := fmt.Sprintf("v%d.%d.%d", 9, 8, 7) // not a literal: the test binary would contain it
	if _, err := NewRelease(bin, ReleaseOptions{Version: v}); err == nil || !strings.Contains(err.Error(), "does not contain the version") {
		t.Errorf("NewRelease of a binary without its version string: %v", err)
	}
}

func TestChunkWire(t *testing.T) {
	// MQTT 3.1.1: PUBLISH QoS 1 = 1 + remaining-length bytes + (2 + topic
	// + 2 + payload); PUBACK 4; SUBSCRIBE 1+1+(2+2+topic+1), SUBACK 5;
	// UNSUBSCRIBE 1+1+(2+2+topic), UNSUBACK 4. Topic "a/0" (3 bytes),
	// payload 100: remaining 107 < 128, one length byte.
	want := int64((1 + 1 + 2 + 3 + 2 + 100) + 4 + (1 + 1 + 2 + 2 + 3 + 1) + 5 + (1 + 1 + 2 + 2 + 3) + 4)
	if got := ChunkWire("a/0", 100); got != want {
		t.Errorf("ChunkWire = %d, want %d", got, want)
	}
	// 200 payload bytes: remaining 207 needs two length bytes.
	if got := publishCost("a/0", 200); got != 1+2+207+4 {
		t.Errorf("publishCost = %d, want %d", got, 1+2+207+4)
	}
}

func hexSumBytes(b []byte) string { return hexSum(sha256.Sum256(b)) }
