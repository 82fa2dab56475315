package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/karana-energy/karana-edge/agent"
)

// freshRoot is an empty box: only what init reads to derive the device id.
func freshRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func pemBlock(t *testing.T, path, typ string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		t.Fatalf("%s: no %q PEM block", path, typ)
	}
	return b.Bytes
}

// verifyIdentity checks the key and CSR init left under root for deviceID.
func verifyIdentity(t *testing.T, root, deviceID string) {
	t.Helper()
	dir := filepath.Join(root, "etc/karana-edge/identity")
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("identity dir mode %#o, want 0700", m)
	}
	keyPath := filepath.Join(dir, "device.key")
	if m := fileMode(t, keyPath); m != 0o600 {
		t.Errorf("key mode %#o, want 0600", m)
	}
	k, err := x509.ParsePKCS8PrivateKey(pemBlock(t, keyPath, "PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(pemBlock(t, filepath.Join(dir, "device.csr"), "CERTIFICATE REQUEST"))
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Errorf("CSR signature does not verify: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if !k.(crypto.Signer).Public().(equaler).Equal(csr.PublicKey) {
		t.Error("the CSR's public key is not the device key's")
	}
	if csr.Subject.CommonName != deviceID {
		t.Errorf("CSR CN %q, want %q", csr.Subject.CommonName, deviceID)
	}
}

func TestInitFreshRoot(t *testing.T) {
	root := freshRoot(t, map[string]string{"etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n"})
	code, out, errs := runArgs("init", "-root", root)
	if code != exitOK {
		t.Fatalf("init: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	cfgPath := filepath.Join(root, "etc/karana-edge/config.toml")
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if cfg.Device.ID != "karana-3d1219c7c4c5" {
		t.Errorf("device id %q, want karana-3d1219c7c4c5 (from etc/machine-id)", cfg.Device.ID)
	}
	for _, s := range cfg.Sensors {
		if s.Driver != "sim" {
			t.Errorf("sim board got a %q sensor", s.Driver)
		}
	}
	// No karana group in the fresh root: world-readable so the daemon's
	// user, made later, can read it.
	if m := fileMode(t, cfgPath); m != 0o644 {
		t.Errorf("config mode %#o, want 0644", m)
	}
	verifyIdentity(t, root, "karana-3d1219c7c4c5")
	for _, want := range []string{"public key sha256: ", filepath.Join(root, "etc/karana-edge/identity/device.csr"), "created", "karana-3d1219c7c4c5"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	// A second init overwrites nothing and says why it exits 1.
	cfgBefore, _ := os.ReadFile(cfgPath)
	keyBefore, _ := os.ReadFile(filepath.Join(root, "etc/karana-edge/identity/device.key"))
	csrBefore, _ := os.ReadFile(filepath.Join(root, "etc/karana-edge/identity/device.csr"))
	os.WriteFile(cfgPath, append(cfgBefore, "# edited on site\n"...), 0o644)
	code, out, errs = runArgs("init", "-root", root)
	if code != exitFailure || !strings.Contains(errs, "exists; not overwritten") {
		t.Fatalf("second init: exit %d, stderr %q; want 1 and a clear message", code, errs)
	}
	if got, _ := os.ReadFile(cfgPath); !bytes.HasSuffix(got, []byte("# edited on site\n")) {
		t.Error("second init overwrote the config")
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/karana-edge/identity/device.key")); !bytes.Equal(got, keyBefore) {
		t.Error("second init replaced the key")
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/karana-edge/identity/device.csr")); !bytes.Equal(got, csrBefore) {
		t.Error("second init rewrote a matching CSR")
	}
	if !strings.Contains(out, "reused") {
		t.Errorf("second init should report the reused key:\n%s", out)
	}
}

// On a Raspberry Pi the id comes from the board serial, the config is
// for the board, and with the service user present the identity is its.
func TestInitPiWithServiceUser(t *testing.T) {
	root := freshRoot(t, map[string]string{
		"proc/device-tree/model":         "Raspberry Pi 4 Model B Rev 1.4\x00",
		"proc/device-tree/serial-number": "10000000d2f3a4b5\x00",
		"etc/machine-id":                 "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
		"etc/passwd":                     "root:x:0:0:root:/root:/bin/sh\nkarana:x:4242:4243:karana-edge:/var/lib/karana-edge:/usr/sbin/nologin\n",
		"etc/group":                      "root:x:0:\ni2c:x:998:karana\nkarana:x:4243:\n",
	})
	code, out, errs := runArgs("init", "-root", root)
	if code != exitOK {
		t.Fatalf("init: exit %d\n%s\n%s", code, out, errs)
	}
	cfgPath := filepath.Join(root, "etc/karana-edge/config.toml")
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if cfg.Device.ID != "karana-0000d2f3a4b5" {
		t.Errorf("device id %q, want karana-0000d2f3a4b5 (last 12 hex digits of the serial)", cfg.Device.ID)
	}
	text, _ := os.ReadFile(cfgPath)
	if !bytes.Contains(text, []byte("Raspberry Pi 4 Model B Rev 1.4")) || !bytes.Contains(text, []byte(`"rpi4b"`)) {
		t.Error("config does not name the detected board")
	}
	if m := fileMode(t, cfgPath); m != 0o640 {
		t.Errorf("config mode %#o, want 0640 with a karana group", m)
	}
	if m := fileMode(t, filepath.Dir(cfgPath)); m != 0o750 {
		t.Errorf("config dir mode %#o, want 0750", m)
	}
	verifyIdentity(t, root, "karana-0000d2f3a4b5")
	if os.Geteuid() == 0 {
		fi, _ := os.Stat(filepath.Join(root, "etc/karana-edge/identity/device.key"))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4243 {
			t.Errorf("key owned by %d:%d, want the karana user 4242:4243", st.Uid, st.Gid)
		}
		fi, _ = os.Stat(cfgPath)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 4243 {
			t.Errorf("config owned by %d:%d, want root:karana 0:4243", st.Uid, st.Gid)
		}
	}
}

func TestInitDeviceIDAndFlags(t *testing.T) {
	// Nothing to derive an id from: a clear error, no files.
	root := freshRoot(t, nil)
	code, _, errs := runArgs("init", "-root", root)
	if code != exitFailure || !strings.Contains(errs, "pass -id") {
		t.Fatalf("no id source: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/karana-edge")); err == nil {
		t.Error("a failed init left files behind")
	}
	// -id sets it; -config puts the file (and the identity beside it) elsewhere.
	code, out, errs := runArgs("init", "-root", root, "-id", "site-042", "-config", "/opt/karana/site.toml")
	if code != exitOK {
		t.Fatalf("init -id: exit %d\n%s\n%s", code, out, errs)
	}
	cfg, err := agent.LoadConfig(filepath.Join(root, "opt/karana/site.toml"))
	if err != nil || cfg.Device.ID != "site-042" {
		t.Fatalf("config: %v, id %v", err, cfg)
	}
	text, _ := os.ReadFile(filepath.Join(root, "opt/karana/site.toml"))
	if !bytes.Contains(text, []byte(`# key_file = "/opt/karana/identity/device.key"`)) {
		t.Error("the [mqtt] hint does not name the key as the box sees it")
	}
	verifyIdentityAt(t, filepath.Join(root, "opt/karana/identity"))

	for _, args := range [][]string{
		{"init", "-root", root, "-config", "relative.toml"},
		{"init", "-root", root, "extra"},
		{"init", "-nope"},
	} {
		if code, _, _ := runArgs(args...); code != exitConfig {
			t.Errorf("%q: exit %d, want %d", args, code, exitConfig)
		}
	}
	// An -id that contradicts the existing config's is refused.
	if code, _, errs := runArgs("init", "-root", root, "-id", "other", "-config", "/opt/karana/site.toml"); code != exitConfig || !strings.Contains(errs, "differs") {
		t.Errorf("conflicting -id: exit %d, stderr %q", code, errs)
	}
}

func verifyIdentityAt(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"device.key", "device.csr", "device.pub"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// A box whose config came from the package (no [device] id: derived at
// run time) gets an identity for the id derived under -root, not from the
// machine running init; the config is left alone.
func TestInitExistingConfigWithoutID(t *testing.T) {
	root := freshRoot(t, map[string]string{
		"etc/machine-id":              "0123456789abcdef0123456789abcdef\n",
		"etc/karana-edge/config.toml": "[[sensor]]\nname = \"c\"\ndriver = \"sim\"\n",
	})
	code, _, errs := runArgs("init", "-root", root)
	if code != exitFailure || !strings.Contains(errs, "not overwritten") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	verifyIdentity(t, root, "karana-0123456789ab")

	// A config that does not load gets no identity.
	bad := freshRoot(t, map[string]string{"etc/karana-edge/config.toml": "[devcie]\n"})
	code, _, errs = runArgs("init", "-root", bad)
	if code != exitFailure || !strings.Contains(errs, "does not load") {
		t.Errorf("broken config: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(bad, "etc/karana-edge/identity")); err == nil {
		t.Error("identity made for a config that does not load")
	}
}
