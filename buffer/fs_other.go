//go:build !linux

package buffer

import "os"

// dropCache is a Linux page-cache concern (see fs_linux.go).
func dropCache(string) {}

// noReadahead is a Linux page-cache concern (see fs_linux.go).
func noReadahead(*os.File) {}

// writable is left to the first write elsewhere: karana-edge runs on Linux;
// other systems only build it for development.
func writable(string) error { return nil }
