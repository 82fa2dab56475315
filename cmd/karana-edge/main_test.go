package main

import (
	"os"
	"testing"
)

// TestMain removes what tests share across the package run (built
// variants, releases) once every test is done.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range sharedTempDirs() {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
