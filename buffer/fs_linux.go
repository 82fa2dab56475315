package buffer

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache evicts the file's clean, unmapped pages from the page cache.
// Kernels with large page-cache folios on ext4 (Linux 6.16 and later)
// keep a multi-page write (bbolt's initial meta pages, a compaction's copy)
// cached as one large folio; a later 4 KiB page write into it then dirties
// and accounts the whole folio: 20-32 KiB per commit instead of 8
// (measured). Pages read back through bbolt's map (MADV_RANDOM) and written
// one at a time stay single pages. Errors are ignored: this only saves wear.
func dropCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	_ = f.Close()
}

// noReadahead turns off the kernel's readahead on the descriptor bbolt
// opens, before bbolt's first pread of the meta page: readahead would
// bring pages 0-3 in as one large folio, and every commit's meta page write
// would then dirty and account the whole folio (measured: 12 KiB a commit
// at the reference site where bbolt wrote 9). bbolt reads everything else
// through its MADV_RANDOM map.
func noReadahead(f *os.File) { _ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM) }

// writable checks, without writing, that this user may create files in dir
// (access(2) also reports a read-only mount).
func writable(dir string) error { return unix.Access(dir, unix.W_OK|unix.X_OK) }
