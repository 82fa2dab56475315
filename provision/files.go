package provision

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// ServiceUser is the system user (and group) the daemon runs as; see
// systemd/karana-edge.service and scripts/install.sh.
const ServiceUser = "karana"

// Owner is who new files belong to. The zero Owner leaves them to the
// caller; ownership is only changed when running as root.
type Owner struct {
	UID, GID int
	Set      bool
}

// chown applies o to an open file.
func (o Owner) chown(f *os.File) error {
	if !o.Set || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(o.UID, o.GID)
}

// chownPath applies o to a path.
func (o Owner) chownPath(path string) error {
	if !o.Set || os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(path, o.UID, o.GID)
}

// LookupUser finds name in root's etc/passwd and returns its uid and
// primary gid. ok is false when the file or the user does not exist.
func LookupUser(root, name string) (o Owner, ok bool, err error) {
	f, ok, err := lookupEntry(filepath.Join(root, "etc/passwd"), name, 4)
	if !ok || err != nil {
		return Owner{}, ok, err
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return Owner{}, false, fmt.Errorf("provision: %s: user %q has a malformed uid or gid", filepath.Join(root, "etc/passwd"), name)
	}
	return Owner{UID: uid, GID: gid, Set: true}, true, nil
}

// LookupGroup finds name in root's etc/group and returns its gid.
func LookupGroup(root, name string) (gid int, ok bool, err error) {
	f, ok, err := lookupEntry(filepath.Join(root, "etc/group"), name, 3)
	if !ok || err != nil {
		return 0, ok, err
	}
	gid, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, false, fmt.Errorf("provision: %s: group %q has a malformed gid", filepath.Join(root, "etc/group"), name)
	}
	return gid, true, nil
}

// lookupEntry returns the colon-separated fields of the line in path whose
// first field is name, if it has at least minFields fields.
func lookupEntry(path, name string, minFields int) ([]string, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("provision: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if fields[0] == name && len(fields) >= minFields {
			return fields, true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("provision: read %s: %w", path, err)
	}
	return nil, false, nil
}

// WriteNewFile writes data to path with perm and owner unless path already
// exists, in which case it returns an error matching fs.ErrExist and leaves
// the file alone. The file appears whole or not at all: it is written to a
// temporary file in the same directory, synced, then hard-linked to path
// (which, unlike rename, never replaces an existing file).
func WriteNewFile(path string, data []byte, perm fs.FileMode, owner Owner) error {
	tmp, err := writeTemp(path, data, perm, owner)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("provision: %w", err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// replaceFile writes data to path atomically, replacing what is there; for
// derived, public files only (the CSR, the public key).
func replaceFile(path string, data []byte, perm fs.FileMode, owner Owner) error {
	tmp, err := writeTemp(path, data, perm, owner)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("provision: %w", err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// writeTemp writes a synced temporary file beside path with its final
// mode and owner already set, so it is never visible with looser ones.
func writeTemp(path string, data []byte, perm fs.FileMode, owner Owner) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("provision: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("provision: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := owner.chown(f); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("provision: write %s: %w", path, err)
	}
	return name, nil
}

// ensureDir creates dir (and its parents with 0755) with perm and owner if
// it does not exist; an existing dir is left as it is. created reports
// whether it was made.
func ensureDir(dir string, perm fs.FileMode, owner Owner) (created bool, err error) {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return false, fmt.Errorf("provision: %s exists and is not a directory", dir)
		}
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("provision: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, fmt.Errorf("provision: %w", err)
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("provision: %w", err)
	}
	// Mkdir's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(dir, perm); err != nil {
		return true, fmt.Errorf("provision: %w", err)
	}
	if err := owner.chownPath(dir); err != nil {
		return true, fmt.Errorf("provision: chown %s: %w", dir, err)
	}
	return true, durable.SyncDir(filepath.Dir(dir))
}

// ConfigDirOwner returns the owners for a new config directory and file:
// root:karana with modes 0750/0640 when the karana group exists under root,
// so the daemon can read it and nobody else needs to; the caller's with
// 0755/0644 otherwise (install.sh fixes the group later).
func ConfigDirOwner(root string) (owner Owner, dirPerm, filePerm fs.FileMode, err error) {
	gid, ok, err := LookupGroup(root, ServiceUser)
	if err != nil {
		return Owner{}, 0, 0, err
	}
	if !ok {
		return Owner{}, 0o755, 0o644, nil
	}
	return Owner{UID: 0, GID: gid, Set: true}, 0o750, 0o640, nil
}

// EnsureConfigDir creates the config directory dir (under root) with the
// owner and mode of ConfigDirOwner if it does not exist; call it before
// EnsureIdentity creates the identity directory inside it.
func EnsureConfigDir(root, dir string) error {
	owner, dirPerm, _, err := ConfigDirOwner(root)
	if err != nil {
		return err
	}
	_, err = ensureDir(dir, dirPerm, owner)
	return err
}

// WriteConfig writes a new config file at path (never replacing one; the
// error matches fs.ErrExist then), creating its directory.
func WriteConfig(root, path string, data []byte) error {
	owner, _, filePerm, err := ConfigDirOwner(root)
	if err != nil {
		return err
	}
	if err := EnsureConfigDir(root, filepath.Dir(path)); err != nil {
		return err
	}
	return WriteNewFile(path, data, filePerm, owner)
}
