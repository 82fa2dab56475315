package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureRoot is a box's /etc before install: a pi user already in an i2c
// group (as on Pi OS) and in dialout (gid 20, from Debian's base-passwd),
// shadow files, a machine-id.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000::/home/pi:/bin/bash\n",
		"etc/group":      "root:x:0:\ndialout:x:20:pi\ni2c:x:998:pi\npi:x:1000:\n",
		"etc/shadow":     "root:*:19000:0:99999:7:::\n",
		"etc/gshadow":    "root:*::\ni2c:!::pi\n",
		"etc/machine-id": "0123456789abcdef0123456789abcdef\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestInstallIntoDestdir(t *testing.T) {
	bin := hostBinary(t)
	root := fixtureRoot(t)
	env := []string{"DESTDIR=" + root}
	code, out := script(t, env, "install.sh", bin)
	if code != 0 {
		t.Fatalf("install.sh: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "DESTDIR set: not calling udevadm or systemctl") {
		t.Errorf("no log line about skipping systemctl:\n%s", out)
	}

	// Accounts, written into the tree's own files.
	pw, n := entry(t, filepath.Join(root, "etc/passwd"), "karana")
	if n != 1 || len(pw) != 7 {
		t.Fatalf("passwd: %d karana lines %q", n, pw)
	}
	uid, _ := strconv.Atoi(pw[2])
	if uid < 100 || uid > 999 || pw[5] != "/var/lib/karana-edge" || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("karana user %q: want a system uid, home /var/lib/karana-edge, no login", pw)
	}
	kg, n := entry(t, filepath.Join(root, "etc/group"), "karana")
	if n != 1 || kg[2] != pw[3] {
		t.Errorf("karana group %q (x%d) is not the user's primary group %s", kg, n, pw[3])
	}
	if g, _ := entry(t, filepath.Join(root, "etc/group"), "i2c"); g[2] != "998" || g[3] != "pi,karana" {
		t.Errorf("existing i2c group %q: want gid kept and karana added after pi", g)
	}
	if g, n := entry(t, filepath.Join(root, "etc/group"), "dialout"); n != 1 || g[2] != "20" || g[3] != "pi,karana" {
		t.Errorf("existing dialout group %q x%d: want gid 20 kept and karana added after pi (serial ports)", g, n)
	}
	for _, name := range []string{"spi", "gpio"} {
		if g, n := entry(t, filepath.Join(root, "etc/group"), name); n != 1 || g[3] != "karana" {
			t.Errorf("group %s: %q x%d", name, g, n)
		}
	}
	if g, _ := entry(t, filepath.Join(root, "etc/gshadow"), "i2c"); len(g) != 4 || g[3] != "pi,karana" {
		t.Errorf("gshadow i2c %q", g)
	}
	if _, n := entry(t, filepath.Join(root, "etc/shadow"), "karana"); n != 1 {
		t.Errorf("shadow has %d karana lines", n)
	}
	kgid, _ := strconv.Atoi(kg[2])

	// Files, modes, owners.
	files := []struct {
		path string
		mode os.FileMode
		uid  int
		gid  int
		same string // repository file it must equal
	}{
		{"usr/bin/karana-edge", 0o755, 0, 0, ""},
		{"etc/systemd/system/karana-edge.service", 0o644, 0, 0, "systemd/karana-edge.service"},
		{"etc/udev/rules.d/99-karana-edge.rules", 0o644, 0, 0, "packaging/udev/99-karana-edge.rules"},
		{"etc/karana-edge", 0o750, 0, kgid, ""},
		{"etc/karana-edge/config.toml", 0o640, 0, kgid, ""},
		{"etc/karana-edge/identity", 0o700, uid, kgid, ""},
		{"etc/karana-edge/identity/device.key", 0o600, uid, kgid, ""},
	}
	for _, f := range files {
		mode, u, g := stat(t, filepath.Join(root, f.path))
		if mode != f.mode {
			t.Errorf("%s: mode %#o, want %#o", f.path, mode, f.mode)
		}
		if os.Geteuid() == 0 && (int(u) != f.uid || int(g) != f.gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", f.path, u, g, f.uid, f.gid)
		}
		if f.same != "" && readFile(t, filepath.Join(root, f.path)) != readFile(t, filepath.Join(repo, f.same)) {
			t.Errorf("%s differs from %s", f.path, f.same)
		}
	}
	if readFile(t, filepath.Join(root, "usr/bin/karana-edge")) != readFile(t, bin) {
		t.Error("installed binary differs from the one given")
	}
	// The config is init's, for this tree's machine, and the daemon takes it.
	cfgPath := filepath.Join(root, "etc/karana-edge/config.toml")
	checked := check(t, bin, cfgPath)
	if !strings.Contains(checked, `id = "karana-0123456789ab"`) {
		t.Errorf("installed config's device id is not from the tree's machine-id:\n%s", checked)
	}

	// Twice: nothing changes, an edited config survives.
	edited := readFile(t, cfgPath) + "# edited on site\n"
	os.WriteFile(cfgPath, []byte(edited), 0o640)
	before := snapshot(t, root, "etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/karana-edge/identity/device.key")
	if code, out := script(t, env, "install.sh", bin); code != 0 {
		t.Fatalf("second install.sh: exit %d\n%s", code, out)
	}
	if got := readFile(t, cfgPath); got != edited {
		t.Error("second install overwrote the config")
	}
	if after := snapshot(t, root, "etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/karana-edge/identity/device.key"); !bytes.Equal(before, after) {
		t.Errorf("second install changed the accounts or the key:\n%s\n---\n%s", before, after)
	}

	// Uninstall keeps the data, the config and the identity.
	data := filepath.Join(root, "var/lib/karana-edge/buffer.db")
	os.MkdirAll(filepath.Dir(data), 0o750)
	os.WriteFile(data, []byte("readings"), 0o600)
	if code, out := script(t, env, "install.sh", "--uninstall"); code != 0 {
		t.Fatalf("--uninstall: exit %d\n%s", code, out)
	}
	for _, gone := range []string{"usr/bin/karana-edge", "etc/systemd/system/karana-edge.service", "etc/udev/rules.d/99-karana-edge.rules"} {
		if exists(filepath.Join(root, gone)) {
			t.Errorf("--uninstall left %s", gone)
		}
	}
	if _, n := entry(t, filepath.Join(root, "etc/passwd"), "karana"); n != 0 {
		t.Error("--uninstall left the karana user")
	}
	if _, n := entry(t, filepath.Join(root, "etc/group"), "karana"); n != 0 {
		t.Error("--uninstall left the karana group")
	}
	if g, _ := entry(t, filepath.Join(root, "etc/group"), "i2c"); g[3] != "pi" {
		t.Errorf("--uninstall: i2c members %q, want pi only", g[3])
	}
	if g, _ := entry(t, filepath.Join(root, "etc/group"), "dialout"); g[3] != "pi" {
		t.Errorf("--uninstall: dialout members %q, want pi only", g[3])
	}
	if readFile(t, data) != "readings" || readFile(t, cfgPath) != edited || !exists(filepath.Join(root, "etc/karana-edge/identity/device.key")) {
		t.Error("--uninstall removed data, config or identity")
	}

	// --purge removes them too.
	if code, out := script(t, env, "install.sh", "--uninstall", "--purge"); code != 0 {
		t.Fatalf("--purge: exit %d\n%s", code, out)
	}
	if exists(filepath.Join(root, "var/lib/karana-edge")) || exists(filepath.Join(root, "etc/karana-edge")) {
		t.Error("--purge kept the data or the config")
	}
}

func snapshot(t *testing.T, root string, files ...string) []byte {
	var b bytes.Buffer
	for _, f := range files {
		b.WriteString("== " + f + "\n" + readFile(t, filepath.Join(root, f)))
	}
	return b.Bytes()
}

// An ARM binary installed into an image from a PC cannot run init: the
// example config goes in, with the device id left to be derived per box.
func TestInstallForeignBinary(t *testing.T) {
	root := fixtureRoot(t)
	bin := filepath.Join(t.TempDir(), "karana-edge-linux-armv6")
	// Not executable on this machine: the ELF magic, then nothing usable.
	os.WriteFile(bin, append([]byte("\x7fELF\x01\x01\x01"), make([]byte, 64)...), 0o755)
	code, out := script(t, []string{"DESTDIR=" + root}, "install.sh", bin)
	if code != 0 {
		t.Fatalf("install.sh: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "cannot run here") {
		t.Errorf("no log line about the fallback:\n%s", out)
	}
	cfg := readFile(t, filepath.Join(root, "etc/karana-edge/config.toml"))
	if strings.Contains(cfg, "\nid = ") || !strings.Contains(cfg, "\n# id = ") {
		t.Error("fallback config pins the example's device id")
	}
	if mode, _, _ := stat(t, filepath.Join(root, "etc/karana-edge/config.toml")); mode != 0o640 {
		t.Errorf("config mode %#o, want 0640", mode)
	}
	if exists(filepath.Join(root, "etc/karana-edge/identity")) {
		t.Error("an identity appeared without init")
	}
	// Apart from the id it is the example.
	example := readFile(t, filepath.Join(repo, "examples/config.toml"))
	if strings.Replace(cfg, "\n# id = ", "\nid = ", 1) != example {
		t.Error("fallback config differs from the example beyond the id line")
	}
}

func TestInstallUsage(t *testing.T) {
	root := t.TempDir()
	env := []string{"DESTDIR=" + root}
	for _, args := range [][]string{{}, {"--uninstall", "--everything"}, {"-x"}, {"a", "b"}} {
		if code, out := script(t, env, "install.sh", args...); code != 2 || !strings.Contains(out, "usage") {
			t.Errorf("%q: exit %d, want 2 with usage\n%s", args, code, out)
		}
	}
	if code, out := script(t, env, "install.sh", filepath.Join(root, "missing")); code != 1 || !strings.Contains(out, "no such file") {
		t.Errorf("missing binary: exit %d\n%s", code, out)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a failed install left files: %v", entries)
	}
}

// check runs `karana-edge check` on a config and returns the effective
// config it prints; the daemon would refuse what check refuses.
func check(t *testing.T, bin, path string) string {
	t.Helper()
	cmd := exec.Command(bin, "check", "-config", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("karana-edge check %s: %v\n%s", path, err, out)
	}
	return string(out)
}
