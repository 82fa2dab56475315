package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoReflectMethodLookup guards the armv6 binary's size. A call of
// reflect's Method or MethodByName with a name not known at compile time
// anywhere in the daemon makes the linker keep every exported method of
// every reachable type: text/template's executor and expr did, and cost
// 1.2-1.7 MB of a 12 MiB budget (FOOTPRINT.md, "what keeps every method").
// The linker marks such a function <ReflectMethod> in -dumpdep output; the
// test builds the daemon as the release does and fails naming it.
func TestNoReflectMethodLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	out := filepath.Join(t.TempDir(), "karana-edge")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-dumpdep", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=6")
	var deps bytes.Buffer
	cmd.Stderr = &deps
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build -ldflags -dumpdep: %v\n%s", err, tail(deps.String(), 2000))
	}
	var found []string
	sc := bufio.NewScanner(&deps)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// "caller <ReflectMethod> -> callee": the caller is the culprit.
		line := sc.Text()
		if from, _, ok := strings.Cut(line, " -> "); ok && strings.HasSuffix(from, "<ReflectMethod>") {
			found = append(found, strings.TrimSuffix(from, " <ReflectMethod>"))
		}
	}
	if len(found) > 0 {
		t.Errorf("reachable functions look methods up by a runtime name, so the linker keeps every exported method of every type (~1.2 MB on armv6): %s",
			strings.Join(dedupe(found), ", "))
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
