package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func dpkgDeb(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Skip("dpkg-deb not installed (apt-get install dpkg): the .deb is not checked")
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// buildDeb runs scripts/build-deb.sh with a stand-in binary (the package's
// layout is under test, not the binary) and returns the .deb's path.
func buildDeb(t *testing.T, arch, version string) (deb, bin string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "karana-edge")
	os.WriteFile(bin, []byte("#!/bin/sh\necho karana-edge stand-in\n"), 0o755)
	out := filepath.Join(dir, "out")
	code, log := script(t, []string{"VERSION=" + version}, "build-deb.sh", arch, bin, out)
	if code != 0 {
		t.Fatalf("build-deb.sh %s: exit %d\n%s", arch, code, log)
	}
	deb = strings.TrimSpace(log[strings.LastIndex(strings.TrimSpace(log), "\n")+1:])
	if !exists(deb) {
		t.Fatalf("build-deb.sh printed %q, which does not exist", deb)
	}
	return deb, bin
}

func TestDebPackage(t *testing.T) {
	dpkg := dpkgDeb(t)
	for _, arch := range []string{"armhf", "arm64", "amd64"} {
		t.Run(arch, func(t *testing.T) {
			deb, bin := buildDeb(t, arch, "v1.2.0-3-gabc")
			if filepath.Base(deb) != "karana-edge_1.2.0+3+gabc_"+arch+".deb" {
				t.Errorf("file name %s", filepath.Base(deb))
			}
			fields := map[string]string{
				"Package":      "karana-edge",
				"Version":      "1.2.0+3+gabc",
				"Architecture": arch,
				"Depends":      "passwd",
			}
			for k, want := range fields {
				if got := strings.TrimSpace(run(t, dpkg, "--field", deb, k)); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			info := run(t, dpkg, "--info", deb)
			for _, s := range []string{"conffiles", "postinst", "prerm", "postrm", "Installed-Size:"} {
				if !strings.Contains(info, s) {
					t.Errorf("--info lacks %q:\n%s", s, info)
				}
			}

			// --contents: every file where it belongs, root-owned, with its mode.
			want := map[string]string{
				"./":                    "drwxr-xr-x",
				"./usr/bin/karana-edge": "-rwxr-xr-x",
				"./usr/lib/systemd/system/karana-edge.service": "-rw-r--r--",
				"./usr/lib/udev/rules.d/99-karana-edge.rules":  "-rw-r--r--",
				"./etc/karana-edge/config.toml":                "-rw-r--r--",
				"./usr/share/doc/karana-edge/README.md":        "-rw-r--r--",
			}
			for _, line := range strings.Split(strings.TrimSpace(run(t, dpkg, "--contents", deb)), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("--contents line %q", line)
				}
				path := f[len(f)-1]
				if f[1] != "root/root" {
					t.Errorf("%s owned by %s", path, f[1])
				}
				if m, ok := want[path]; ok {
					if f[0] != m {
						t.Errorf("%s: mode %s, want %s", path, f[0], m)
					}
					delete(want, path)
				}
			}
			for path := range want {
				t.Errorf("package lacks %s", path)
			}

			// Control files: the config is a conffile; the scripts run.
			ctrl := t.TempDir()
			run(t, dpkg, "--control", deb, ctrl)
			if got := readFile(t, filepath.Join(ctrl, "conffiles")); got != "/etc/karana-edge/config.toml\n" {
				t.Errorf("conffiles %q", got)
			}
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				p := filepath.Join(ctrl, s)
				if mode, _, _ := stat(t, p); mode != 0o755 {
					t.Errorf("%s mode %#o", s, mode)
				}
				if readFile(t, p) != readFile(t, filepath.Join(repo, "packaging/deb", s)) {
					t.Errorf("%s differs from packaging/deb/%s", s, s)
				}
				run(t, "sh", "-n", p)
			}

			// The payload is the repository's files.
			x := t.TempDir()
			run(t, dpkg, "--extract", deb, x)
			for inDeb, src := range map[string]string{
				"usr/lib/systemd/system/karana-edge.service": "systemd/karana-edge.service",
				"usr/lib/udev/rules.d/99-karana-edge.rules":  "packaging/udev/99-karana-edge.rules",
			} {
				if readFile(t, filepath.Join(x, inDeb)) != readFile(t, filepath.Join(repo, src)) {
					t.Errorf("%s differs from %s", inDeb, src)
				}
			}
			if readFile(t, filepath.Join(x, "usr/bin/karana-edge")) != readFile(t, bin) {
				t.Error("packaged binary differs from the one given")
			}
			cfg := readFile(t, filepath.Join(x, "etc/karana-edge/config.toml"))
			if strings.Contains(cfg, "\nid = ") || strings.Replace(cfg, "\n# id = ", "\nid = ", 1) != readFile(t, filepath.Join(repo, "examples/config.toml")) {
				t.Error("packaged config is not the example with its device id commented out")
			}
		})
	}
}

// The first install enables the unit but never starts it (the packaged
// config has a localhost broker and simulated sensors); purge removes data.
func TestDebMaintainerScripts(t *testing.T) {
	var code []string // postinst without comments and messages
	for _, l := range strings.Split(readFile(t, filepath.Join(repo, "packaging/deb/postinst")), "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "echo ") {
			code = append(code, l)
		}
	}
	postinst := strings.Join(code, "\n") + "\n"
	for _, bad := range []string{"systemctl start", "enable --now", "systemctl restart"} {
		if strings.Contains(postinst, bad) {
			t.Errorf("postinst contains %q: a fresh install must not start the daemon", bad)
		}
	}
	for _, want := range []string{"systemctl enable karana-edge.service", "try-restart", "useradd --system", "chown -R", "/etc/karana-edge/identity"} {
		if !strings.Contains(postinst, want) {
			t.Errorf("postinst lacks %q", want)
		}
	}
	if prerm := readFile(t, filepath.Join(repo, "packaging/deb/prerm")); !strings.Contains(prerm, "systemctl stop") || !strings.Contains(prerm, "systemctl disable") {
		t.Error("prerm does not stop and disable the unit")
	}
	if postrm := readFile(t, filepath.Join(repo, "packaging/deb/postrm")); !strings.Contains(postrm, "purge)") || !strings.Contains(postrm, "rm -rf /var/lib/karana-edge /etc/karana-edge") {
		t.Error("postrm purge does not remove the data and the config")
	}
}

// Debian versions from git describe: a release tag keeps its number, a bare
// commit sorts before every release (even one starting with a digit).
func TestDebVersion(t *testing.T) {
	dpkg := dpkgDeb(t)
	for in, want := range map[string]string{
		"v1.2.0":        "1.2.0",
		"1.2.0-rc1":     "1.2.0+rc1",
		"1c317af-dirty": "0.0.0~1c317af+dirty",
		"dev":           "0.0.0~dev",
	} {
		deb, _ := buildDeb(t, "amd64", in)
		if got := strings.TrimSpace(run(t, dpkg, "--field", deb, "Version")); got != want {
			t.Errorf("VERSION=%s: package version %q, want %q", in, got, want)
		}
	}
	if code, out := script(t, nil, "build-deb.sh", "i386", "/bin/true", t.TempDir()); code != 2 || !strings.Contains(out, "unsupported architecture") {
		t.Errorf("i386: exit %d\n%s", code, out)
	}
}
