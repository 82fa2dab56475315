package system

import "golang.org/x/sys/unix"

// diskFree returns the bytes available to an unprivileged user on the file
// system holding path (what a full SD card leaves the buffer).
func diskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
