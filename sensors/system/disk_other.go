//go:build !linux

package system

import "errors"

func diskFree(string) (uint64, error) { return 0, errors.New("statfs: only on Linux") }
