package provision

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteNewFileNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := WriteNewFile(path, []byte("first\n"), 0o640, Owner{}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o640 {
		t.Errorf("mode %#o, want 0640", m)
	}
	err := WriteNewFile(path, []byte("second\n"), 0o640, Owner{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first\n" {
		t.Errorf("file replaced: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestLookupAccounts(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if _, ok, err := LookupUser(root, "karana"); ok || err != nil {
		t.Errorf("no passwd: ok %v err %v", ok, err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nkarana:x:997:995:Karana:/var/lib/karana-edge:/usr/sbin/nologin\nbad:x:zz:1::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\ni2c:x:998:karana\nkarana:x:995:\n"), 0o644)
	o, ok, err := LookupUser(root, "karana")
	if err != nil || !ok || o != (Owner{UID: 997, GID: 995, Set: true}) {
		t.Errorf("karana: %+v %v %v", o, ok, err)
	}
	if _, ok, _ := LookupUser(root, "kara"); ok {
		t.Error("prefix matched a user")
	}
	if _, _, err := LookupUser(root, "bad"); err == nil {
		t.Error("malformed uid accepted")
	}
	if gid, ok, err := LookupGroup(root, "i2c"); gid != 998 || !ok || err != nil {
		t.Errorf("i2c: %d %v %v", gid, ok, err)
	}

	owner, dirPerm, filePerm, err := ConfigDirOwner(root)
	if err != nil || owner != (Owner{UID: 0, GID: 995, Set: true}) || dirPerm != 0o750 || filePerm != 0o640 {
		t.Errorf("ConfigDirOwner with a karana group: %+v %#o %#o %v", owner, dirPerm, filePerm, err)
	}
	path := filepath.Join(root, "etc/karana-edge/config.toml")
	if err := WriteConfig(root, path, []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if mode(t, filepath.Dir(path)) != 0o750 || mode(t, path) != 0o640 {
		t.Errorf("modes dir %#o file %#o, want 0750 0640", mode(t, filepath.Dir(path)), mode(t, path))
	}
	if os.Geteuid() == 0 {
		fi, _ := os.Stat(path)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 995 {
			t.Errorf("config owned by %d:%d, want 0:995", st.Uid, st.Gid)
		}
	}
}
