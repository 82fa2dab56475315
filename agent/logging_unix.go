//go:build unix

package agent

import (
	"fmt"
	"os"
	"syscall"
)

// devIno is f's "<dev>:<inode>", as JOURNAL_STREAM spells it.
func devIno(f *os.File) (string, bool) {
	fi, err := f.Stat()
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), true
}
